"""How the dashboard writes dates, money and order timelines for people (in the household's time zone)."""
from __future__ import annotations

from datetime import datetime

from replenish.domain import model
from replenish.services import messages
from replenish.services.messages import money  # noqa: F401  (re-exported for the templates)

CHANNEL_LABELS = {"voice": "Voice", "button": "Button", "appliance": "Appliance", "web": "Web"}
STATUS_LABELS = {"pending": "Waiting to send", "submitted": "Sent to store", "confirmed": "Confirmed",
                 "shipped": "On its way", "delivered": "Delivered", "cancelled": "Cancelled", "failed": "Failed"}
STEPS = (("OrderPlaced", "Placed"), ("OrderSubmitted", "Sent to store"), ("OrderConfirmed", "Confirmed"),
         ("OrderShipped", "Shipped"), ("OrderDelivered", "Delivered"))
ENDINGS = {"OrderCancelled": "Cancelled", "OrderFailed": "Failed"}


class Formatter:
    def __init__(self, time_zone: str | None, now: datetime):
        self.tz = model.zone(time_zone)
        self.now: datetime = model.as_utc(now)

    def _local(self, value) -> datetime | None:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        value = model.as_utc(value)
        return value.astimezone(self.tz) if value else None

    def when(self, value) -> str:
        local = self._local(value)
        if local is None:
            return ""
        clock = local.strftime("%I:%M %p").lstrip("0")
        today = self.now.astimezone(self.tz).date()
        if local.date() == today:
            return f"today {clock}"
        if local.year == today.year:
            return f"{local:%b} {local.day}, {clock}"
        return f"{local:%b} {local.day} {local.year}, {clock}"

    def moment(self, value) -> str:
        """A deadline ahead: "today at 3:00 PM", "tomorrow at 11:00 AM", as the notices write it."""
        if value is None or value == "":
            return ""
        return messages.local_time(value, self.tz.key, self.now)

    def day(self, value) -> str:
        local = self._local(value)
        if local is None:
            return ""
        return f"{local:%b} {local.day}" if local.year == self.now.year else f"{local:%b} {local.day} {local.year}"

    def relative_days(self, value) -> str:
        local = self._local(value)
        if local is None:
            return ""
        days = (local.date() - self.now.astimezone(self.tz).date()).days
        if days == 0:
            return "today"
        if days == 1:
            return "tomorrow"
        if days == -1:
            return "yesterday"
        return f"in {days} days" if days > 0 else f"{-days} days ago"


def web_url(value) -> str | None:
    """``value`` when it is an http(s) URL with a host (a retailer's tracking link, a delivery photo), else None:
    anything else (``javascript:``, ``data:``) is shown as text, never put in an href or a src."""
    from urllib.parse import urlsplit
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


IMAGE_DATA = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp", "data:image/svg+xml")


def image_url(value) -> str | None:
    """A delivery photo's address for an ``<img src>``: an http(s) URL, or an inline image (an image loaded by
    ``<img>`` runs no script, an SVG one included); anything else is not shown."""
    if isinstance(value, str) and value.strip().lower().startswith(IMAGE_DATA) and len(value) <= 2_000_000:
        return value.strip()
    return web_url(value)


def timeline(order: dict, rows, fmt: Formatter) -> list[dict]:
    """The steps of one order: those that happened (with when), then those still to come while it is active."""
    seen: dict[str, tuple] = {}
    for row in rows:
        seen.setdefault(row.event_type, (row.created_at, row.payload or {}))
    steps = []
    for event, label in STEPS:
        if event in seen:
            at, payload = seen[event]
            tracking = payload.get("tracking_url")
            steps.append({"label": label, "at": fmt.when(at), "done": True,
                          "tracking_url": web_url(tracking),
                          "tracking_text": tracking if tracking and not web_url(tracking) else None,
                          "photo_url": image_url(payload.get("delivery_photo_url"))})
        elif order["status"] in ("pending", "submitted", "confirmed", "shipped"):
            steps.append({"label": label, "at": "", "done": False})
    for event, label in ENDINGS.items():
        if event in seen:
            at, payload = seen[event]
            steps.append({"label": label, "at": fmt.when(at), "done": True, "ending": True,
                          "reason": payload.get("reason")})
    return steps
