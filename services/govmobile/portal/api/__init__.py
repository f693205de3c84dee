"""The portal's HTTP layer: the admin API (bearer tokens) and the device API (through the gateway)."""
