"""The household's shopping list: what to buy next, said by voice, typed in the dashboard, added by a button or
from the forecast; ordered as one order when the household says so.

Pure Python: items, the commands on them and the rules (a product or phrase is on the list once, its quantity
added up; at most ``MAX_ITEMS`` things; quantities 1 to ``MAX_QUANTITY``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from replenish.domain.errors import DomainError, InvalidCommand
from replenish.domain.model import MAX_QUANTITY

MAX_ITEMS = 25  # one order holds at most 25 different products, and a list is ordered as one order
MAX_PHRASE = 120
SOURCES = ("voice", "web", "button", "forecast", "digest", "stock")


class ListChanged(DomainError):
    """The list changed since the household looked at it: ordering what they did not see would surprise them."""
    code = "list_changed"
    field = "version"


@dataclass
class ListItem:
    id: str
    household_id: str
    phrase: str  # what was said or typed ("paper towels"), or the product's title
    sku: str | None  # the product it stands for (chosen, or the recommender's pick when it was added)
    quantity: int
    position: int
    added_by: str  # voice | web | button | forecast | digest
    added_at: datetime
    checked_at: datetime | None = None  # checked off by hand (got it elsewhere): not ordered
    claimed_by: str | None = None  # the order being placed for it (an idempotency key), while it is placed
    claimed_at: datetime | None = None

    @property
    def checked(self) -> bool:
        return self.checked_at is not None


def clean_phrase(phrase) -> str:
    if not isinstance(phrase, str):
        raise InvalidCommand("Say what to add, e.g. 'paper towels'.", field="phrase")
    phrase = " ".join(phrase.split())
    if not phrase:
        raise InvalidCommand("Say what to add, e.g. 'paper towels'.", field="phrase")
    if len(phrase) > MAX_PHRASE:
        raise InvalidCommand(f"Keep it under {MAX_PHRASE} characters.", field="phrase")
    return phrase


def check_quantity(quantity) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidCommand(f"Quantity must be a whole number from 1 to {MAX_QUANTITY}.", field="quantity")
    return quantity


# -- commands ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddToList:
    household_id: str
    phrase: str | None = None  # either what to buy in words ...
    sku: str | None = None  # ... or the product itself
    quantity: int = 1
    added_by: str = "web"
    only_if_absent: bool = False  # already on the list: leave it as it is (a button pressed again)
    # for words: the recommender's pick (True), none yet, to be chosen later (False), or the caller's own match (a
    # SKU: the voice skill's, which it has said to the household)
    pick: bool | str = True


@dataclass(frozen=True)
class ChangeListItem:
    household_id: str
    item_id: str
    quantity: int | None = None
    checked: bool | None = None
    position: int | None = None  # 0 is the top
    sku: str | None = None  # the product an item in words stands for, chosen later ("yes, that one")


@dataclass(frozen=True)
class RemoveFromList:
    household_id: str
    item_id: str | None = None  # one item by id ...
    phrase: str | None = None  # ... or by what it is called ("remove milk from my list")


@dataclass(frozen=True)
class ClearChecked:
    household_id: str


@dataclass(frozen=True)
class OrderList:
    """Orders every item not checked off as one order. ``version`` is the list the household saw: sending it
    again (a retry) answers with the same order; a list changed since is refused (ListChanged)."""
    household_id: str
    channel: str = "web"
    version: int | None = None
    speaker: str | None = None  # who asked, when the channel knows (an Alexa voice profile's personId)
