"""Notifier that publishes to one Amazon SNS topic per household.

The household's phones and e-mail addresses subscribe to its topic, so one publish reaches
all of them and SNS handles SMS/e-mail delivery, opt-outs and retries.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from replenish.services.ports import Message, PermanentError, TransientError

log = logging.getLogger(__name__)

_TOPIC_NAME_OK = re.compile(r"^[A-Za-z0-9_-]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottling",
})
MAX_SUBJECT = 100


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
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", kind.replace("_", " ")).split()
    text = "Replenish: " + " ".join(words).capitalize() if words else "Replenish"
    return text[:MAX_SUBJECT]


class SnsNotifier:
    channel = "sns"

    def __init__(
        self,
        sns_client: Any,
        topic_arn_for: Callable[[str], str | None] | None = None,
        topic_prefix: str = "replenish-household-",
    ):
        """``topic_arn_for`` may map a household to a topic it already has (say, from its
        settings); when it gives None the topic is created (create_topic is idempotent)."""
        self.client = sns_client
        self._lookup = topic_arn_for
        self.topic_prefix = topic_prefix
        self._arns: dict[str, str] = {}
        self._lock = threading.Lock()

    # Notifier

    def send(self, message: Message) -> None:
        if not message.text:
            raise PermanentError("refusing to publish an empty message")
        attributes = {"kind": {"DataType": "String", "StringValue": message.kind or "unknown"}}
        if message.order_id:
            attributes["order_id"] = {"DataType": "String", "StringValue": str(message.order_id)}
        params = {"Message": message.text, "Subject": _subject(message.kind or ""), "MessageAttributes": attributes}
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

    # topics and subscriptions

    def topic_name(self, household_id: str) -> str:
        """Topic names allow [A-Za-z0-9_-] up to 256 characters; other ids get a hash suffix
        so that two households never share a topic after sanitising."""
        hid = str(household_id)
        if not _TOPIC_NAME_OK.match(hid) or len(self.topic_prefix) + len(hid) > 256:
            digest = hashlib.sha256(hid.encode()).hexdigest()[:16]
            hid = re.sub(r"[^A-Za-z0-9_-]", "_", hid)[: 256 - len(self.topic_prefix) - 17] + "-" + digest
        return self.topic_prefix + hid

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
            if operation == "publish" and code in ("NotFound", "NotFoundException"):
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
