"""Stock levels for anything the household buys, and whole packs (a feature package: see wiring.py)."""
