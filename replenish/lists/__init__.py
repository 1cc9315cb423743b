"""The household shopping list (a feature package: see wiring.py)."""
