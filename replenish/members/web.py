"""Members and approvals over HTTP: the household API (`/v1/members`, `/v1/approvals`, the owner's: it is the
household token's) and the dashboard's pages (Settings › Members, Approvals, a member's own requests), with the
gate that keeps a child or guest signed in by their own link to the list and their requests."""
from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, session, url_for
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from wtforms import BooleanField, StringField

from replenish.domain.commands import LineRequest
from replenish.domain.errors import DomainError, InvalidCommand
from replenish.domain.model import Channel
from replenish.services.ports import PermanentError, TransientError
from replenish.web import dashboard_security as security
from replenish.web.auth import container, json_body, require_household
from replenish.web.dashboard_forms import DashboardForm, MoneyField, OrderForm, Rule, strip
from replenish.web.errors import ApiError, public_message, status_for
from replenish.web.openapi import operation

from . import handlers
from .model import (
    MAX_CAP_CENTS,
    MAX_EMAIL,
    MAX_NAME,
    ROLES,
    AddMember,
    ChangeMember,
    DecideApproval,
    RemoveMember,
    RequestApproval,
    check_cap,
)

bp = Blueprint("members", __name__, url_prefix="/v1")

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, strip_whitespace=True)]
Cap = Annotated[int, Field(ge=0, le=MAX_CAP_CENTS, strict=True)]
Person = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
Email = Annotated[str, StringConstraints(max_length=MAX_EMAIL, strip_whitespace=True),
                  Field(description="Their own email address for the notices about requests (empty or null: none)",
                        examples=["sam@example.com"])]
Phone = Annotated[str, StringConstraints(max_length=24, strip_whitespace=True),
                  Field(description="Their own mobile number with its country code, for text messages (empty or "
                                    "null: none)", examples=["+15551234567"])]
Notices = Annotated[StrictBool, Field(description="Whether they get the notices about requests on their contact: "
                                                  "a new request (owners and adults), what became of their own")]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    role: str
    per_order_cap_cents: Cap | None = None
    per_month_cap_cents: Cap | None = None
    person_id: Person | None = None
    email: Email | None = None
    phone: Phone | None = None
    approval_notices: Notices = True


class MemberChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    role: str | None = None
    per_order_cap_cents: Cap | None = None
    per_month_cap_cents: Cap | None = None
    person_id: Person | None = None
    email: Email | None = None
    phone: Phone | None = None
    approval_notices: Notices | None = None


class MemberOut(BaseModel):
    """A member of the household"""
    id: str
    name: str
    role: str
    per_order_cap_cents: int | None
    per_month_cap_cents: int | None
    person_id: str | None
    email: str | None
    phone: str | None
    approval_notices: bool
    created_at: str | None


class MembersOut(BaseModel):
    """The household's members"""
    members: list[MemberOut]


class RequestLineOut(BaseModel):
    sku: str
    title: str
    quantity: int
    unit_price_cents: int
    total_cents: int


class ApprovalOut(BaseModel):
    """An approval request: what a child or guest asked for, and what became of it"""
    id: str
    status: str
    member_id: str
    requested_by: str
    channel: str
    lines: list[RequestLineOut]
    total_cents: int
    created_at: str | None
    expires_at: str | None
    decided_at: str | None
    decided_by: str | None
    order_id: str | None
    reason: str | None


class ApprovalsOut(BaseModel):
    """The household's approval requests, newest first"""
    approvals: list[ApprovalOut]


class ApprovalsQuery(BaseModel):
    status: Literal["pending"] | None = None


@bp.get("/members")
@operation("The household's members", {200: MembersOut}, tag="members")
@require_household
def list_members():
    return jsonify({"members": handlers.members_view(container().deps, g.household_id)})


@bp.post("/members")
@operation("Add a member", {201: MemberOut}, body=MemberIn, errors=(409, 422), tag="members")
@require_household
def add_member():
    body = MemberIn.model_validate(json_body())
    return jsonify(container().bus.handle(AddMember(g.household_id, **body.model_dump()))), 201


@bp.patch("/members/<member_id>")
@operation("Change a member", {200: MemberOut}, body=MemberChange, errors=(409, 422), tag="members")
@require_household
def change_member(member_id: str):
    body = MemberChange.model_validate(json_body())
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ApiError(400, "invalid", "A member keeps a name.", field="name")
    if "role" in changes and changes["role"] is None:
        raise ApiError(400, "invalid", f"role is one of {', '.join(ROLES)}.", field="role")
    if "approval_notices" in changes and changes["approval_notices"] is None:
        raise ApiError(400, "invalid", "approval_notices is true or false.", field="approval_notices")
    return jsonify(container().bus.handle(ChangeMember(g.household_id, member_id[:32], changes)))


@bp.delete("/members/<member_id>")
@operation("Remove a member", {204: None}, errors=(409, 422), tag="members")
@require_household
def remove_member(member_id: str):
    container().bus.handle(RemoveMember(g.household_id, member_id[:32]))
    return "", 204


@bp.get("/approvals")
@operation("Approval requests", {200: ApprovalsOut}, query=ApprovalsQuery, tag="members")
@require_household
def list_approvals():
    status = request.args.get("status")
    if status not in (None, "pending"):
        raise ApiError(400, "invalid", "status is 'pending', or leave it out for every request.", field="status")
    return jsonify({"approvals": handlers.approvals_view(container().deps, g.household_id,
                                                         pending_only=status == "pending")})


@bp.post("/approvals/<request_id>/<action>")
@operation("Approve or decline a request (action: approve or decline)", {200: ApprovalOut}, errors=(409, 422),
           tag="members", path={"action": {"type": "string", "enum": ["approve", "decline"]}})
@require_household
def decide(request_id: str, action: str):
    if action not in ("approve", "decline"):
        raise ApiError(404, "not_found", "Approve or decline: POST .../approve or .../decline.", field="action")
    json_body()  # a body, if any, must be JSON
    return jsonify(container().bus.handle(DecideApproval(g.household_id, request_id[:32], action == "approve")))


# -- the dashboard --------------------------------------------------------------------------------------------
# What a child or guest signed in by their own link may reach: the list (not ordering it: that becomes a
# request) and their own requests. Everything else is refused (403), failing closed for pages added later.
ASKER_PAGES = frozenset({
    "dashboard.shopping_list", "dashboard.add_to_list", "dashboard.change_list_item", "dashboard.clear_checked_items",
    "dashboard.my_requests", "dashboard.signout", "dashboard.signin", "dashboard.signin_post", "dashboard.link",
    "dashboard.link_post", "dashboard.static", "dashboard.issue_link",
})
# The household's own: the owner's (token, or an owner member's link), not an adult member's.
OWNER_PAGES = frozenset({"dashboard.members", "dashboard.member_add", "dashboard.member_change",
                         "dashboard.settings_token_create", "dashboard.settings_token_change"})


def _member():
    return g.get("member")


def _gate():
    """Runs after the dashboard's own ``before_request`` (which loads the signed-in household)."""
    g.member = None
    member_id = session.get("member_id")
    household = g.get("household")
    if not member_id or not household:
        return None
    member = handlers.member_for(container().deps, household["id"], member_id)
    if member is None or member.id != member_id:  # removed since: the session means nothing any more
        security.sign_out()
        return redirect(url_for("dashboard.signin"))
    g.member = member
    endpoint = request.endpoint or ""
    if member.asks:
        if endpoint == "dashboard.place":
            return _ask_for_one()
        if endpoint == "dashboard.order_list":
            return _ask_for_list()
        if endpoint in ("dashboard.orders", "dashboard_home"):
            return redirect(url_for("dashboard.shopping_list"))
        if endpoint not in ASKER_PAGES:
            abort(403, description=f"{member.name}, this page is for the adults of the household. You can add "
                                   "things to the list and ask for them to be ordered.")
    elif endpoint in OWNER_PAGES and member.role != "owner":
        abort(403, description="Members and API tokens are managed by the household's owner.")
    return None


def _asked(result: dict):
    flash(f"Asked an adult to approve {handlers.spoken_things(result)} ({_money(result['total_cents'])}). "
          f"It waits until {g.fmt.moment(result['expires_at'])}.", "ok")
    return redirect(url_for("dashboard.my_requests"))


def _money(cents: int) -> str:
    from replenish.web.dashboard_format import money
    return money(cents)


def _ask_for_one():
    form = OrderForm()  # the dashboard's "Order now", which becomes a request
    if not form.validate():
        flash(form.first_problem(), "error")
        return redirect(url_for("dashboard.shopping_list"))
    return _ask((LineRequest(form.sku.data, form.quantity.data),))


def _ask_for_list():
    from replenish.lists.handlers import list_view
    items = [i for i in list_view(container().deps, g.household["id"])["items"] if not i["checked"] and i["sku"]]
    if not items:
        flash("There is nothing on the list to ask for.", "error")
        return redirect(url_for("dashboard.shopping_list"))
    return _ask(tuple(LineRequest(i["sku"], i["quantity"]) for i in items))


def _ask(lines: tuple):
    try:
        result = container().bus.handle(RequestApproval(g.household["id"], g.member.id, Channel.WEB.value, lines))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("dashboard.shopping_list"))
    return _asked(result)


def _capped(field_name: str) -> Rule:
    return Rule(lambda cents: check_cap(field_name, cents))  # the API's rule, in its words


class MemberForm(DashboardForm):
    """A member on the Members page: name, role, their own caps in dollars, their Alexa voice, their contact."""
    name = StringField()
    role = StringField()
    per_order_cap = MoneyField("Per-order cap", "or empty for no cap", validators=[_capped("per_order_cap_cents")])
    per_month_cap = MoneyField("Monthly cap", "or empty for no cap", validators=[_capped("per_month_cap_cents")])
    person_id = StringField(filters=[lambda v: strip(v) or None])
    email = StringField(filters=[lambda v: strip(v) or None])  # checked by the domain (the API's rule too)
    phone = StringField(filters=[lambda v: strip(v) or None])
    approval_notices = BooleanField()


def _member_form() -> dict:
    """The Members page's form as the command's fields; InvalidCommand (its first problem) when it cannot be."""
    form = MemberForm()
    if not form.validate():
        raise InvalidCommand(form.first_problem())
    return {"name": form.name.data or "", "role": form.role.data or "", "per_order_cap_cents": form.per_order_cap.data,
            "per_month_cap_cents": form.per_month_cap.data, "person_id": form.person_id.data,
            "email": form.email.data, "phone": form.phone.data, "approval_notices": form.approval_notices.data}


def attach_dashboard(dash) -> None:
    @dash.record_once
    def _register(state) -> None:
        state.app.extensions["replenish_order_people"] = handlers.order_people

    dash.before_request(_gate)

    @dash.context_processor
    def _member_context() -> dict:
        return {"member": _member()}

    def _members_page(status: int = 200, error: str | None = None, form: dict | None = None):
        return render_template("dashboard/members.html", page="settings", roles=ROLES, error=error, form=form or {},
                               members=handlers.members_view(container().deps, g.household_id)), status

    @dash.get("/settings/members")
    @security.login_required
    def members():
        return _members_page()

    @dash.post("/settings/members")
    @security.login_required
    def member_add():
        try:
            added = container().bus.handle(AddMember(g.household_id, **_member_form()))
        except DomainError as exc:
            return _members_page(400, exc.message, dict(request.form))
        flash(f"{added['name']} is a member now.", "ok")
        return redirect(url_for("dashboard.members"))

    @dash.post("/settings/members/<member_id>")
    @security.login_required
    def member_change(member_id: str):
        action = request.form.get("action", "")
        member_id = member_id[:32]
        try:
            if action == "remove":
                gone = container().bus.handle(RemoveMember(g.household_id, member_id))
                flash(f"{gone['removed']} is no longer a member.", "ok")
            elif action == "save":
                changed = container().bus.handle(ChangeMember(g.household_id, member_id, _member_form()))
                flash(f"Saved {changed['name']}.", "ok")
            elif action == "link":
                found = handlers.member_for(container().deps, g.household_id, member_id)
                if found is None or found.id != member_id:
                    raise InvalidCommand("There is no such member in this household.", field="member_id")
                secret = security.issue_link(container().redis, g.household_id, member_id=found.id)
                base = (container().settings.public_url or "").rstrip("/")
                path = url_for("dashboard.link", secret=secret)
                link = base + path if base else url_for("dashboard.link", secret=secret, _external=True)
                return render_template("dashboard/members_link.html", page="settings", link=link, who=found.name,
                                       minutes=int(security.LINK_TTL.total_seconds() // 60))
            else:
                raise InvalidCommand("Unknown action.", field="action")
        except DomainError as exc:
            status = status_for(exc)
            return _members_page(status if 400 <= status < 500 else 400, exc.message)
        return redirect(url_for("dashboard.members"))

    @dash.get("/approvals")
    @security.login_required
    def approvals():
        every = handlers.approvals_view(container().deps, g.household_id)
        return render_template("dashboard/approvals.html", page="approvals",
                               pending=[r for r in every if r["status"] == "pending"],
                               decided=[r for r in every if r["status"] != "pending"][:20])

    @dash.post("/approvals/<request_id>")
    @security.login_required
    def approval_decide(request_id: str):
        action = request.form.get("action", "")
        if action not in ("approve", "decline"):
            flash("Approve or decline.", "error")
            return redirect(url_for("dashboard.approvals"))
        try:
            result = container().bus.handle(DecideApproval(g.household_id, request_id[:32], action == "approve",
                                                           g.get("member_id")))
        except (DomainError, PermanentError, TransientError) as exc:
            flash(public_message(exc), "error")
            return redirect(url_for("dashboard.approvals"))
        what = handlers.spoken_things(result)
        if action == "approve":
            flash(f"Approved {result['requested_by']}'s request: {what} is ordered. See it under Orders.", "ok")
        else:
            flash(f"Declined {result['requested_by']}'s request for {what}.", "ok")
        return redirect(url_for("dashboard.approvals"))

    @dash.get("/requests")
    @security.login_required
    def my_requests():
        member = _member()
        mine = handlers.approvals_view(container().deps, g.household_id, member.id if member else None)
        return render_template("dashboard/approvals_mine.html", page="requests", requests=mine)
