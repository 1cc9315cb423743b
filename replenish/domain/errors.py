"""Domain errors. Each carries a machine code and a sentence fit to show or speak to a person."""
from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status = 422  # the HTTP status an entrypoint should map this to
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        self.details = details


class NotFound(DomainError):
    code = "not_found"
    status = 404


class UnknownProduct(NotFound):
    code = "unknown_product"
    field = "sku"


class ProductUnavailable(DomainError):
    code = "product_unavailable"
    status = 409
    field = "sku"


class IllegalTransition(DomainError):
    code = "illegal_transition"
    status = 409


class LimitExceeded(DomainError):
    code = "limit_exceeded"
    status = 422


class InvalidCommand(DomainError):
    code = "invalid"
    status = 400


class PinLocked(DomainError):
    code = "pin_locked"
    status = 423


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key with a different request: neither order is placed twice nor silently mixed up."""
    code = "idempotency_key_reused"
    status = 422
