"""One handler class per intent or request type, in the order the dispatcher tries them."""
from __future__ import annotations

from .approvals import ApprovalsIntentHandler
from .digest import DigestIntentHandler
from .errors import CatchAllExceptionHandler
from .events import (
    ExceptionEncounteredHandler,
    PermissionHandler,
    ProactiveSubscriptionHandler,
    QuietRequestHandler,
    SkillAccountLinkedHandler,
    SkillDisabledHandler,
    SkillEnabledHandler,
)
from .lists import LIST_HANDLERS
from .ordering import (
    NoIntentHandler,
    OrderItemIntentHandler,
    PinIntentHandler,
    ReorderIntentHandler,
    SomethingElseIntentHandler,
    YesIntentHandler,
)
from .orders import CancelOrderIntentHandler, OrderStatusIntentHandler, RunningLowIntentHandler
from .session import (
    CancelIntentHandler,
    FallbackIntentHandler,
    HelpIntentHandler,
    LaunchRequestHandler,
    NavigateHomeIntentHandler,
    SessionEndedRequestHandler,
    StopIntentHandler,
    UnhandledRequestHandler,
)

REQUEST_HANDLERS = (
    SkillEnabledHandler,
    SkillDisabledHandler,
    SkillAccountLinkedHandler,
    PermissionHandler,
    ProactiveSubscriptionHandler,
    ExceptionEncounteredHandler,
    QuietRequestHandler,  # AudioPlayer, PlaybackController, Messaging...: no speech allowed
    LaunchRequestHandler,
    *LIST_HANDLERS,  # the shopping list; its yes, no and PIN only while the list asks, before the ordering dialog's
    OrderItemIntentHandler,
    ReorderIntentHandler,
    SomethingElseIntentHandler,
    YesIntentHandler,
    NoIntentHandler,
    PinIntentHandler,
    CancelOrderIntentHandler,
    OrderStatusIntentHandler,
    RunningLowIntentHandler,
    ApprovalsIntentHandler,
    DigestIntentHandler,
    HelpIntentHandler,
    StopIntentHandler,
    CancelIntentHandler,
    NavigateHomeIntentHandler,
    FallbackIntentHandler,
    SessionEndedRequestHandler,
    UnhandledRequestHandler,  # last: answers whatever nothing above claimed
)
EXCEPTION_HANDLERS = (CatchAllExceptionHandler,)


def handled_intents() -> set[str]:
    """The intent names the code answers (checked against the interaction model by a test)."""
    return {h.intent for h in REQUEST_HANDLERS if h.intent}
