"""The app portal: the one signed channel through which government apps reach devices.

What the ``portal`` service will be (issue 12; docs/portal.md): a catalogue of apps and their
releases owned by departments, publishing with review (draft, approved, published on a pilot or
production track, retired), assignments to departments, groups, people and devices, and two
layers of trust for devices: a repository signed with The Update Framework that says *what
exists*, and a per-device desired-state document signed by the portal that says *what this device
should have*. Packages are served by nginx after the portal authorises, never streamed through
Python.

This package holds the service's domain core, built before its HTTP layer, tables and role:

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

None of it imports a web framework, a database or another service (an import contract says so).
"""
