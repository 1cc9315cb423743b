"""Replenish: replenishment ordering by voice, button and appliance."""
__version__ = "0.1.0"
