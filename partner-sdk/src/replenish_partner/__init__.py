"""Replenish partner SDK: ``PartnerClient`` (devices, slots, orders, keys, webhooks), ``ButtonClient`` (presses),
``signature_headers`` (RFC 9421 request signatures, for any HTTP client) and ``verify_webhook`` (Standard
Webhooks). Depends only on requests, http-message-signatures and standardwebhooks."""
from .client import ButtonClient, PartnerClient
from .errors import PartnerError
from .signatures import signature_headers
from .webhooks import WEBHOOK_TOLERANCE, verify_webhook, webhook_key

__version__ = "0.1.0"

__all__ = ["ButtonClient", "PartnerClient", "PartnerError", "WEBHOOK_TOLERANCE", "signature_headers",
           "verify_webhook", "webhook_key"]
