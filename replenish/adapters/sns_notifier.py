"""Notifier that publishes to one Amazon SNS topic per household.

The household's phones and e-mail addresses subscribe to its topic, so one publish reaches
all of them and SNS handles SMS/e-mail delivery, opt-outs and retries. A member told on their
own contact (approval notices) has a topic of their own the same way, subscribed by exactly
their e-mail address and mobile number (``send_to``, ``reach``).
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from replenish.services.ports import Message, PermanentError, Recipient, TransientError

log = logging.getLogger(__name__)

_TOPIC_NAME_OK = re.compile(r"^[A-Za-z0-9_-]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottling",
})
MAX_SUBJECT = 100
PERSONAL = ("email", "sms")  # the subscriptions a person's topic is kept in line with their contact


def make_sns_client(region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 SNS client with short timeouts; credentials come from the usual AWS chain (boto3 ships no
    types: its clients are made at run time from the service's model)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.client("sns", region_name=region, endpoint_url=endpoint_url, config=config)


def _subject(kind: str) -> str:
    # SNS subjects: ASCII, no line breaks, at most 100 characters (used as the e-mail subject).
    # "OrderShipped", "order_shipped" -> "Order shipped"
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", kind).replace("_", " ")).split()
    text = "Replenish: " + " ".join(words).capitalize() if words else "Replenish"
    return text[:MAX_SUBJECT]


def _params(message: Message) -> dict:
    if not message.text:
        raise PermanentError("refusing to publish an empty message")
    attributes = {"kind": {"DataType": "String", "StringValue": message.kind or "unknown"}}
    if message.order_id:
        attributes["order_id"] = {"DataType": "String", "StringValue": str(message.order_id)}
    return {"Message": message.text, "Subject": _subject(message.kind or ""), "MessageAttributes": attributes}


def _topic_name(prefix: str, owner: str) -> str:
    owner = str(owner)
    if not _TOPIC_NAME_OK.match(owner) or len(prefix) + len(owner) > 256:
        digest = hashlib.sha256(owner.encode()).hexdigest()[:16]
        owner = re.sub(r"[^A-Za-z0-9_-]", "_", owner)[: 256 - len(prefix) - 17] + "-" + digest
    return prefix + owner


class SnsNotifier:
    channel = "sns"

    def __init__(
        self,
        sns_client: Any,
        topic_arn_for: Callable[[str], str | None] | None = None,
        topic_prefix: str = "replenish-household-",
        person_prefix: str = "replenish-member-",
    ):
        """``topic_arn_for`` may map a household to a topic it already has (say, from its
        settings); when it gives None the topic is created (create_topic is idempotent)."""
        self.client = sns_client
        self._lookup = topic_arn_for
        self.topic_prefix = topic_prefix
        self.person_prefix = person_prefix
        self._arns: dict[str, str] = {}
        self._people: dict[str, str] = {}  # a person's key -> their topic's ARN
        self._synced: dict[str, frozenset] = {}  # a person's key -> the endpoints their topic was last given
        self._lock = threading.Lock()

    # Notifier

    def send(self, message: Message) -> None:
        params = _params(message)
        arn = self.topic_arn(message.household_id)
        try:
            self._call("publish", TopicArn=arn, **params)
        except _TopicGone:
            # Someone deleted the topic behind our back: forget it and make it again, once.
            self.forget(message.household_id)
            try:
                self._call("publish", TopicArn=self.topic_arn(message.household_id), **params)
            except _TopicGone as exc:
                raise PermanentError(f"SNS topic for household {message.household_id} does not exist") from exc

    # one person, on their own contact

    def send_to(self, person: Recipient, message: Message) -> None:
        """Publishes to the person's own topic, set up for their contact first when it changed (``reach``)."""
        params = _params(message)
        if not (person.email or person.phone):
            raise PermanentError("this person has no email address or mobile number to be told on")
        try:
            self._call("publish", TopicArn=self.reach(person), **params)
        except _TopicGone:
            self._forget_person(person.key)
            try:
                self._call("publish", TopicArn=self.reach(person), **params)
            except _TopicGone as exc:
                raise PermanentError("SNS topic of a member does not exist") from exc

    def reach(self, person: Recipient) -> str:
        """The person's topic (made once), its email and text subscriptions made exactly their contact: a new
        address subscribed (SNS mails it a confirmation link), an old one unsubscribed. Returns the topic's ARN."""
        wanted = frozenset(e for e in (("email", (person.email or "").strip()),
                                       ("sms", re.sub(r"[\s().-]", "", person.phone or ""))) if e[1])
        arn = self._person_arn(person.key)
        if self._synced.get(person.key) == wanted:
            return arn
        try:
            have = self._subscriptions(arn)
        except _TopicGone:  # deleted behind our back: made again, with no subscriptions yet
            self._forget_person(person.key)
            arn, have = self._person_arn(person.key), {}
        for protocol, endpoint in sorted(wanted - set(have)):
            self._call("subscribe", TopicArn=arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True)
        for subscribed, subscription in have.items():
            if subscribed not in wanted and subscription.startswith("arn:"):  # a pending one lapses by itself
                self._call("unsubscribe", SubscriptionArn=subscription)
        with self._lock:
            self._synced[person.key] = wanted
        return arn

    def unreach(self, key: str) -> None:
        """The person is no longer told anything: their topic, and with it every subscription, is deleted."""
        arn = self._people.get(key) or self._call("create_topic", Name=self.person_topic_name(key))["TopicArn"]
        self._call("delete_topic", TopicArn=arn)
        self._forget_person(key)

    def person_topic_name(self, key: str) -> str:
        return _topic_name(self.person_prefix, key)

    def _person_arn(self, key: str) -> str:
        arn = self._people.get(key)
        if arn:
            return arn
        arn = self._call("create_topic", Name=self.person_topic_name(key))["TopicArn"]  # idempotent
        with self._lock:
            self._people[key] = arn
        return arn

    def _forget_person(self, key: str) -> None:
        with self._lock:
            self._people.pop(key, None)
            self._synced.pop(key, None)

    def _subscriptions(self, arn: str) -> dict[tuple[str, str], str]:
        """(protocol, endpoint) -> subscription ARN ("PendingConfirmation" until an address confirms) of the
        email and text subscriptions of a topic."""
        found: dict[tuple[str, str], str] = {}
        token = None
        while True:
            page = self._call("list_subscriptions_by_topic", TopicArn=arn, **({"NextToken": token} if token else {}))
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") in PERSONAL:
                    found[(sub["Protocol"], sub.get("Endpoint", ""))] = sub.get("SubscriptionArn", "")
            token = page.get("NextToken")
            if not token:
                return found

    # topics and subscriptions

    def topic_name(self, household_id: str) -> str:
        """Topic names allow [A-Za-z0-9_-] up to 256 characters; other ids get a hash suffix
        so that two households never share a topic after sanitising."""
        return _topic_name(self.topic_prefix, household_id)

    def topic_arn(self, household_id: str) -> str:
        arn = self._arns.get(household_id)
        if arn:
            return arn
        with self._lock:
            arn = self._arns.get(household_id)
            if arn:
                return arn
            arn = self._lookup(household_id) if self._lookup else None
            if not arn:
                arn = self._call("create_topic", Name=self.topic_name(household_id))["TopicArn"]
                log.info("created SNS topic %s for household %s", arn, household_id)
            self._arns[household_id] = arn
            return arn

    def forget(self, household_id: str) -> None:
        with self._lock:
            self._arns.pop(household_id, None)

    def subscribe_sms(self, household_id: str, phone: str) -> str:
        """Subscribe an E.164 phone number (``+15551234567``); returns the subscription ARN."""
        phone = re.sub(r"[\s().-]", "", phone or "")
        if not _E164.match(phone):
            raise ValueError(f"not an E.164 phone number: {phone!r}")
        return self._subscribe(household_id, "sms", phone)

    def subscribe_email(self, household_id: str, address: str) -> str:
        """Subscribe an e-mail address; SNS mails a confirmation link before delivering."""
        address = (address or "").strip()
        if address.count("@") != 1 or " " in address or address.startswith("@") or address.endswith("@"):
            raise ValueError(f"not an e-mail address: {address!r}")
        return self._subscribe(household_id, "email", address)

    def _subscribe(self, household_id: str, protocol: str, endpoint: str) -> str:
        response = self._call(
            "subscribe",
            TopicArn=self.topic_arn(household_id),
            Protocol=protocol,
            Endpoint=endpoint,
            ReturnSubscriptionArn=True,
        )
        return response["SubscriptionArn"]

    # errors

    def _call(self, operation: str, **params: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            HTTPClientError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if operation in ("publish", "list_subscriptions_by_topic") and code in ("NotFound", "NotFoundException"):
                raise _TopicGone(code) from exc
            if code in _TRANSIENT_CODES or status >= 500 or status == 429:
                raise TransientError(f"SNS {operation}: {code} {error.get('Message', '')}") from exc
            raise PermanentError(f"SNS {operation}: {code} {error.get('Message', '')}") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            # Endpoint unreachable, connect/read timeouts: try again later.
            raise TransientError(f"SNS {operation}: {exc}") from exc
        except BotoCoreError as exc:
            # Bad parameters, missing credentials or region: configuration, not weather.
            raise PermanentError(f"SNS {operation}: {exc}") from exc


class _TopicGone(Exception):
    pass
