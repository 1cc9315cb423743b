"""Domain errors. Each carries a machine code and a sentence fit to show or speak to a person. They know nothing
of HTTP: the web layer maps each class to a status (``replenish.web.errors.ERROR_STATUSES``)."""
from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class UnknownProduct(NotFound):
    code = "unknown_product"
    field = "sku"


class ProductUnavailable(DomainError):
    code = "product_unavailable"
    field = "sku"


class IllegalTransition(DomainError):
    code = "illegal_transition"


class OrderOnItsWay(IllegalTransition):
    """The order has been handed to the store, which has not answered yet: it can be cancelled once it has."""
    code = "on_its_way"


class LimitExceeded(DomainError):
    code = "limit_exceeded"


class InvalidCommand(DomainError):
    code = "invalid"


class PinLocked(DomainError):
    code = "pin_locked"


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key with a different request: neither order is placed twice nor silently mixed up."""
    code = "idempotency_key_reused"


class Conflict(DomainError):
    """What someone else changed at the same moment made this change impossible (a row written twice, a version
    that moved on): the unit of work raises it for the database's own conflicts, so handlers need no SQL."""
    code = "conflict"


class DuplicateEntry(Conflict):
    """Another transaction saved the same unique thing first (an idempotency key, a link code)."""
    code = "duplicate"


class ConcurrentUpdate(Conflict):
    """Another transaction changed the same row first (the version it was read at moved on)."""
    code = "concurrent_update"
