"""OAuth 2.0 authorization server for account linking (Alexa and any other client registered by CLI).

Authlib does the protocol (authorization code grant with PKCE, refresh tokens with rotation, RFC 7009
revocation); this package keeps clients, codes and tokens in the core database (only their SHA-256 hashes),
shows the consent page in the dashboard's look, and tells the voice skill which household a token speaks for
and what it may do. Plugged in by the composition roots through ``wiring.py``.
"""
