"""Self-checkout kiosk firmware."""

__version__ = "0.1.0"
