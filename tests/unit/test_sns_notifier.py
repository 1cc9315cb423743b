"""SnsNotifier against moto's server mode: real boto3 SNS/SQS API calls over HTTP."""
from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from replenish.adapters.sns_notifier import SnsNotifier, make_sns_client
from replenish.services.ports import Message, PermanentError, Recipient, TransientError

REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    mp = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        mp.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    mp.undo()


@pytest.fixture
def sns(endpoint):
    client = make_sns_client(REGION, endpoint_url=endpoint)
    calls: list[str] = []
    client.meta.events.register("before-call.sns.CreateTopic", lambda **kw: calls.append("CreateTopic"))
    return client, calls


@pytest.fixture
def sqs(endpoint):
    return boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)


def household() -> str:
    return f"hh-{uuid.uuid4().hex[:12]}"


def subscribe_queue(sns_client, sqs, topic_arn: str) -> str:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns_client.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def receive(sqs, url: str) -> list[dict]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_message_reaches_a_queue_subscribed_to_the_household_topic(sns, sqs):
    client, _ = sns
    notifier = SnsNotifier(client)
    hid = household()
    url = subscribe_queue(client, sqs, notifier.topic_arn(hid))

    notifier.send(Message(household_id=hid, kind="order_shipped", text="Your detergent is on its way.",
                          order_id="ord-42"))

    [envelope] = receive(sqs, url)
    assert envelope["Message"] == "Your detergent is on its way."
    assert envelope["Subject"] == "Replenish: Order shipped"
    assert envelope["TopicArn"] == notifier.topic_arn(hid)
    assert envelope["MessageAttributes"]["kind"]["Value"] == "order_shipped"
    assert envelope["MessageAttributes"]["order_id"]["Value"] == "ord-42"
    assert notifier.channel == "sns"


def test_topic_is_created_once_per_household(sns, sqs):
    client, calls = sns
    notifier = SnsNotifier(client, topic_prefix="rt-")
    first, second = household(), household()
    for _ in range(3):
        notifier.send(Message(household_id=first, kind="order_placed", text="placed"))
    notifier.send(Message(household_id=second, kind="order_placed", text="placed"))
    assert calls == ["CreateTopic", "CreateTopic"]
    names = {arn.rsplit(":", 1)[1] for arn in _all_topics(client)}
    assert {f"rt-{first}", f"rt-{second}"} <= names
    assert notifier.topic_arn(first) != notifier.topic_arn(second)


def test_messages_stay_within_their_household(sns, sqs):
    client, _ = sns
    notifier = SnsNotifier(client)
    mine, theirs = household(), household()
    mine_url = subscribe_queue(client, sqs, notifier.topic_arn(mine))
    theirs_url = subscribe_queue(client, sqs, notifier.topic_arn(theirs))
    notifier.send(Message(household_id=mine, kind="order_placed", text="for me"))
    assert [m["Message"] for m in receive(sqs, mine_url)] == ["for me"]
    assert receive(sqs, theirs_url) == []


def test_known_topic_from_lookup_is_used_without_creating(sns, sqs):
    client, calls = sns
    existing = client.create_topic(Name=f"custom-{uuid.uuid4().hex[:8]}")["TopicArn"]
    calls.clear()
    hid = household()
    notifier = SnsNotifier(client, topic_arn_for=lambda h: existing if h == hid else None)
    url = subscribe_queue(client, sqs, existing)
    notifier.send(Message(household_id=hid, kind="order_delivered", text="delivered"))
    assert [m["Message"] for m in receive(sqs, url)] == ["delivered"]
    assert calls == []


def test_deleted_topic_is_recreated(sns, sqs):
    client, calls = sns
    notifier = SnsNotifier(client)
    hid = household()
    arn = notifier.topic_arn(hid)
    client.delete_topic(TopicArn=arn)
    notifier.send(Message(household_id=hid, kind="order_placed", text="again"))
    assert calls == ["CreateTopic", "CreateTopic"]
    assert notifier.topic_arn(hid) in _all_topics(client)


def test_subscribe_helpers(sns):
    client, _ = sns
    notifier = SnsNotifier(client)
    hid = household()
    sms = notifier.subscribe_sms(hid, "+1 (555) 010-0199")
    mail = notifier.subscribe_email(hid, "pat@example.com")
    subs = client.list_subscriptions_by_topic(TopicArn=notifier.topic_arn(hid))["Subscriptions"]
    assert {(s["Protocol"], s["Endpoint"]) for s in subs} == {("sms", "+15550100199"), ("email", "pat@example.com")}
    assert sms.startswith("arn:aws:sns:") and mail
    with pytest.raises(ValueError):
        notifier.subscribe_sms(hid, "555-0199")
    with pytest.raises(ValueError):
        notifier.subscribe_email(hid, "not an address")


def _personal(client, arn: str) -> set[tuple[str, str]]:
    subs = client.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    return {(s["Protocol"], s["Endpoint"]) for s in subs if s["Protocol"] in ("email", "sms")}


def test_a_member_is_told_on_their_own_topic_subscribed_by_exactly_their_contact(sns, sqs):
    client, calls = sns
    notifier = SnsNotifier(client)
    hid, key = household(), f"m-{uuid.uuid4().hex[:12]}"
    alex = Recipient(key, "Alex", "alex@example.com", "+1 (555) 010-0199")
    arn = notifier.reach(alex)
    assert arn.endswith(f":replenish-member-{key}")
    assert _personal(client, arn) == {("email", "alex@example.com"), ("sms", "+15550100199")}
    theirs = subscribe_queue(client, sqs, arn)
    household_url = subscribe_queue(client, sqs, notifier.topic_arn(hid))

    notifier.send_to(alex, Message(hid, "ApprovalRequested", "Sam asked for Tide PODS Laundry Detergent."))
    [envelope] = receive(sqs, theirs)
    assert envelope["Message"] == "Sam asked for Tide PODS Laundry Detergent."
    assert envelope["Subject"] == "Replenish: Approval requested"
    assert receive(sqs, household_url) == []  # the household's topic is not told what went to Alex

    # a new number: the old one unsubscribed, the address kept; the topic is not made again
    made = calls.count("CreateTopic")
    moved = Recipient(key, "Alex", "alex@example.com", "+15550100200")
    notifier.send_to(moved, Message(hid, "ApprovalRequested", "again"))
    assert _personal(client, arn) == {("email", "alex@example.com"), ("sms", "+15550100200")}
    assert calls.count("CreateTopic") == made and [e["Message"] for e in receive(sqs, theirs)] == ["again"]

    notifier.unreach(key)  # no longer a member: their topic and its subscriptions are gone
    assert arn not in _all_topics(client)
    with pytest.raises(PermanentError):
        notifier.send_to(Recipient(key, "Alex"), Message(hid, "ApprovalRequested", "nobody to tell"))


def test_a_members_topic_deleted_behind_our_back_is_made_again_with_their_contact(sns, sqs):
    client, _ = sns
    notifier = SnsNotifier(client)
    sam = Recipient(f"m-{uuid.uuid4().hex[:12]}", "Sam", "sam@example.com")
    arn = notifier.reach(sam)
    client.delete_topic(TopicArn=arn)
    notifier.send_to(sam, Message(household(), "ApprovalApproved", "Alex approved Sam's request."))
    assert _personal(client, notifier.reach(sam)) == {("email", "sam@example.com")}


def test_odd_household_ids_get_distinct_valid_topic_names():
    notifier = SnsNotifier(None)
    a, b = notifier.topic_name("a.b"), notifier.topic_name("a/b")
    assert a != b and a.startswith("replenish-household-a_b-")
    assert notifier.topic_name("plain-id_1") == "replenish-household-plain-id_1"
    assert len(notifier.topic_name("x" * 400)) <= 256


class ExplodingClient:
    def __init__(self, error):
        self.error = error

    def create_topic(self, Name):
        return {"TopicArn": f"arn:aws:sns:{REGION}:123456789012:{Name}"}

    def publish(self, **params):
        raise self.error


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Publish")


@pytest.mark.parametrize(
    "error, expected",
    [
        (client_error("Throttling", 400), TransientError),
        (client_error("InternalError", 500), TransientError),
        (EndpointConnectionError(endpoint_url="http://nowhere"), TransientError),
        (client_error("InvalidParameter", 400), PermanentError),
        (client_error("AuthorizationError", 403), PermanentError),
        (client_error("NotFound", 404), PermanentError),  # still gone after recreating
    ],
)
def test_errors_are_classified(error, expected):
    notifier = SnsNotifier(ExplodingClient(error))
    with pytest.raises(expected):
        notifier.send(Message(household_id="hh-1", kind="order_placed", text="hi"))


def _all_topics(client) -> set[str]:
    arns: set[str] = set()
    for page in client.get_paginator("list_topics").paginate():
        arns.update(t["TopicArn"] for t in page["Topics"])
    return arns
