"""The Alexa skill package, built from data files and the catalog, and checked against Amazon's rules.

``build`` makes the package, ``validate`` checks one, ``icons`` finds or draws the icons, ``cli`` is
``replenish skill package``. Design: docs/skill-package.md.
"""
