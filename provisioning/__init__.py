"""Technician tools: device self-test and OS setup for a kiosk."""
