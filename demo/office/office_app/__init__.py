"""A small document-approval office app, standing for an existing intranet business system.

It is not part of GovMobile and imports none of it. All it knows is that requests come
through a gateway that signs a JWT assertion of who is calling, which it verifies against the
gateway's published keys (JWKS) before trusting a name.
"""
