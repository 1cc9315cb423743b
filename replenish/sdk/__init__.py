"""Small Python clients for partners (appliance clouds) and button firmware/bridges."""
from .partner import ButtonClient, PartnerClient, PartnerError, sign_body, verify_signature

__all__ = ["ButtonClient", "PartnerClient", "PartnerError", "sign_body", "verify_signature"]
