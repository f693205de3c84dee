"""The certificate authority.

Layers, inside out:

- ``profiles``, ``requests`` (CSR checks), ``keyfiles``, ``hierarchy``, ``der``, ``crl``,
  ``ocsp``: certificate mechanics, no database and no HTTP.
- ``authority``: the CA's domain (sign, renew, revoke, publish_crl, answer_ocsp) over the
  narrow ``CertificateStore`` interface.
- ``store``: that interface on the shared database.
- ``api``: the HTTP routes; ``app`` wires everything from settings; ``cli`` is ``govmobile-ca``.
"""
