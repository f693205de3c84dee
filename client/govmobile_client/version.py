"""The client's version: the appliance release whose admin API it speaks (sent as its User-Agent)."""

__version__ = "0.1.0"
