"""The partner SDK (see ``partner``) and the request signatures it makes (``http_signatures``)."""
from .http_signatures import signature_headers
from .partner import ButtonClient, PartnerClient, PartnerError, verify_signature

__all__ = ["ButtonClient", "PartnerClient", "PartnerError", "signature_headers", "verify_signature"]
