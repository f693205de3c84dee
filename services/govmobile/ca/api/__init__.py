"""The CA's HTTP interface. Routes translate requests to ``Authority`` calls and nothing more."""
