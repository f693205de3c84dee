"""The console's version: the appliance release whose admin API it speaks."""

__version__ = "0.1.0"
