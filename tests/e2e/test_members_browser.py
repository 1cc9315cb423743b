"""Members and approvals in a real headless Chromium: the owner adds a child and an adult under Settings ›
Members; the child asks Alexa for detergent (the skill, with the child's recognised voice); the adult signs in with
their own link, approves the request on the Approvals page, and the order's timeline names who asked and who
approved. Screenshots of the members and approvals pages, phone and desktop, go to test-artifacts/dashboard/."""
from __future__ import annotations

import pytest

from replenish.domain import commands
from skills.linking import forget_written
from skills.skill import VoiceSkill
from tests.unit.test_voice_design import SpeakerConversation
from tests.voice_fakes import FakeRecommendations

from .browser import DESKTOP, PHONE, page_errors, shot, sign_in

pytestmark = pytest.mark.e2e
SAM = "amzn1.ask.person.SAM"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_childs_voice_request_is_approved_in_the_dashboard(browser, server, container, voice_token, device):
    screen = PHONE if device == "phone" else DESKTOP
    token = container.bus.handle(commands.IssueToken("h1"))
    owner_context, adult_context = browser.new_context(**screen), browser.new_context(**screen)
    owner, adult = owner_context.new_page(), adult_context.new_page()
    owner_errors, adult_errors = page_errors(owner), page_errors(adult)
    try:
        # the owner adds the household's members
        sign_in(owner, server, token)
        owner.click(".tabs >> text=Settings")
        owner.click("#members-link")
        for name, role, voice in (("Sam", "child", SAM), ("Alex", "adult", "")):
            owner.fill("#add-member input[name=name]", name)
            owner.select_option("#role-new", role)
            owner.fill("#add-member input[name=person_id]", voice)
            if role == "adult":
                owner.fill("#add-member input[name=per_order_cap]", "60")
            owner.click("#add-member button[type=submit]")
            owner.wait_for_selector(".flash-ok")
            assert f"{name} is a member now." in owner.inner_text(".flash-ok")
        shot(owner, f"{device}-members")

        # Sam asks Alexa: a request, not an order
        container.recommendations = FakeRecommendations(container)
        forget_written()
        sam = SpeakerConversation(VoiceSkill(container).invoke, voice_token, SAM)
        sam.say("OrderItemIntent", {"item": "detergent", "quantity": "2"})
        sam.say("AMAZON.YesIntent")
        assert "I've asked an adult to approve" in sam.text
        with container.uow() as uow:
            assert uow.orders.list("h1") == []

        # Alex signs in with Alex's own link
        with container.uow() as uow:
            alex = next(m for m in uow.members.list("h1") if m.name == "Alex")
        owner.click(f"#member-{alex.id} button:has-text('Sign-in link for Alex')")
        assert "Alex's sign-in link" in owner.inner_text("h1")
        link = owner.input_value("#one-time-link")
        adult.goto(link)
        adult.click("button:has-text('Sign in')")
        adult.wait_for_selector(".flash-ok")
        assert "Alex" in adult.inner_text(".who")

        # ... sees the request by name, price and expiry, and approves it
        adult.click(".tabs >> text=Approvals")
        card = adult.locator("#pending .approval").first
        text = card.inner_text()
        assert "Sam asked for" in text and "Tide PODS Laundry Detergent, 42 Count" in text and "$25.98" in text
        assert "expires tomorrow" in text.lower() or "expires Mar 11" in text
        shot(adult, f"{device}-approvals")
        card.locator("button:has-text('Approve')").click()
        adult.wait_for_selector(".flash-ok")
        assert "Approved Sam's request" in adult.inner_text(".flash-ok")
        assert adult.locator("#pending .approval").count() == 0
        shot(adult, f"{device}-approvals-answered")

        # the order is placed, and its timeline names who asked and who approved
        adult.click(".tabs >> text=Orders")
        order = adult.locator("article.order").first
        assert "Asked for by Sam, approved by Alex" in order.locator(".steps").inner_text()
        assert order.get_attribute("data-status") == "pending"
        shot(adult, f"{device}-orders-approved")
        with container.uow() as uow:
            [placed] = uow.orders.list("h1")
            assert [(line.sku, line.quantity) for line in placed.lines] == [("TIDE-PODS-42", 2)]
        assert not owner_errors + adult_errors, owner_errors + adult_errors
    finally:
        owner_context.close()
        adult_context.close()


def test_a_list_built_by_voice_is_ordered_in_one_order_from_the_dashboard(browser, server, container, voice_token):
    from tests.voice_fakes import Conversation
    token = container.bus.handle(commands.IssueToken("h1"))
    container.recommendations = FakeRecommendations(container)
    forget_written()
    talk = Conversation(VoiceSkill(container).invoke, voice_token)
    talk.say("AddToListIntent", {"item": "detergent"})
    assert "to your list" in talk.text
    talk.say("AddToListIntent", {"item": "toilet paper", "quantity": "2"})
    assert "to your list" in talk.text
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    errors = page_errors(page)
    try:
        sign_in(page, server, token)
        page.click(".tabs >> text=List")
        listed = page.inner_text("#shopping-list")
        assert "detergent" in listed and "toilet paper" in listed and "Order the list: 2 things" in listed
        page.click("#order-list")
        page.wait_for_url(f"{server}/dashboard/")
        assert "Ordered your list: 2 products" in page.inner_text(".flash-ok")
        with container.uow() as uow:
            orders = [(o.channel, sorted((line.sku, line.quantity) for line in o.lines)) for o in uow.orders.list("h1")]
        assert len(orders) == 1 and orders[0][0] == "web" and len(orders[0][1]) == 2
        assert ("CHARMIN-12", 2) in orders[0][1]  # the toilet paper, two as asked by voice
        page.click(".tabs >> text=List")
        assert "Your list is empty" in page.inner_text("#shopping-list")
        assert not errors, errors
    finally:
        context.close()
