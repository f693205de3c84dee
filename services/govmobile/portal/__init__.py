"""The app portal: the one signed channel through which government apps reach devices.

The ``portal`` service (issue 12; docs/portal.md): a catalogue of apps and their
releases owned by departments, publishing with review (draft, approved, published on a pilot or
production track, retired), assignments to departments, groups, people and devices, and two
layers of trust for devices: a repository signed with The Update Framework that says *what
exists*, and a per-device desired-state document signed by the portal that says *what this device
should have*. Packages are served by nginx after the portal authorises, never streamed through
Python.

The service, from the outside in: ``cli`` and ``app`` (wiring); ``api`` (the admin and device
routes); the application services ``delivery`` (what a device may read and download),
``targeting`` (assignments, a device's resolution) and ``catalogue`` (uploads, review,
publication); ``trust`` (the repository on the volume, one writer at a time), ``models``,
``readers`` (the MDM's device table, read only) and ``settings``. Below them, the domain core:

- ``errors``: the portal's domain errors (a leaf);
- ``uploads``: receiving a package while hashing it, within a size limit;
- ``archive``: the zip container checked before anything parses it (traversal, bombs);
- ``manifest``: what an APK declares (package, versions, SDK, permissions, labels, icon, signers);
- ``signatures``: APK signature verification by Debian's ``apksigner``;
- ``packages``: one inspection of an uploaded APK that ties the three together;
- ``releases``: the release rules (signer pinning, version order, review, tracks);
- ``protection``: the app protection policy;
- ``assignments``: the one pure function that resolves a device's desired apps;
- ``repository`` and ``trust_root``: the TUF repository and its offline root;
- ``desired_state``: the per-device signed document.

The domain core imports no web framework, no database and no other service; the service imports
no other service either (import contracts say both).
"""
