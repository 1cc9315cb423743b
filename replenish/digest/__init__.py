"""The weekly digest (a feature package: see wiring.py)."""
