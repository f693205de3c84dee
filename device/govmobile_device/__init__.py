"""GovMobile device agent: the tablet-side client of the appliance (docs/device-agent.md).

Modules, from the leaves inward:

- ``errors``, ``protocol``: the exception hierarchy and the wire format (docs/device-protocol.md).
- ``crypto``, ``files``, ``keystore``: authenticated encryption (AES-256-GCM or SM4-GCM), atomic
  private files, and the stand-in for the platform keystore.
- ``pki``, ``profile``, ``state``, ``container``: certificates and chains, the simulated device's
  profile, the agent's persistent state, and the encrypted work container.
- ``gateway``: the HTTP client to the gateway's public address (server-authenticated TLS for
  enrollment, mutual TLS after).
- ``enrollment``, ``commands``, ``apps``, ``agent``: what the agent does.
- ``admin``, ``simulator``: the fleet simulator and the small admin-API client it needs.
- ``cli``: the ``govmobile-device`` command.

It never imports ``govmobile`` (the server package): it speaks the protocol over HTTP only.
"""

__version__ = "0.1.0"
