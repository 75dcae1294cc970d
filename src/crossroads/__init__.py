"""Crossroads: a crossroads bank for government data exchange."""

__version__ = "0.1.0"
