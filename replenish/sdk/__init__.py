"""The partner SDK (see ``partner``) and the request signatures it makes (``http_signatures``). Webhooks are
verified with ``PartnerClient.verify_webhook`` (Standard Webhooks; any Standard Webhooks library works too)."""
from .http_signatures import signature_headers
from .partner import ButtonClient, PartnerClient, PartnerError

__all__ = ["ButtonClient", "PartnerClient", "PartnerError", "signature_headers"]
