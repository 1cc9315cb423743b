"""Household members, their roles and caps, and approval requests (a feature package: see wiring.py)."""
