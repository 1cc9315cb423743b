"""AWS Lambda entry point: ``skills.lambda_function.handler`` runs the same skill as POST /alexa.

Alexa calls a Lambda function directly (the trigger is bound to the skill id), so there is no signature to
check; the skill id is still checked against ALEXA_SKILL_IDS when it is set. The container is built once per
warm Lambda instance.
"""
from __future__ import annotations

import logging
import threading

from skills.skill import VoiceSkill
from skills.verify import application_ids

log = logging.getLogger(__name__)

_skill: VoiceSkill | None = None
_lock = threading.Lock()


class WrongSkill(Exception):
    pass


def _voice_skill() -> VoiceSkill:
    global _skill
    if _skill is None:
        with _lock:
            if _skill is None:
                from replenish.bootstrap import bootstrap
                _skill = VoiceSkill(bootstrap())
    return _skill


def use_container(container) -> None:
    """Run the Lambda handler on a given container (tests, or a custom bootstrap)."""
    global _skill
    with _lock:
        _skill = VoiceSkill(container) if container is not None else None


def handler(event, context):
    skill = _voice_skill()
    allowed = tuple(skill.container.settings.alexa_skill_ids or ())
    if allowed and any(app_id not in allowed for app_id in application_ids(event) or [""]):
        log.warning("lambda request for a different skill refused: %s", application_ids(event))
        raise WrongSkill("request is for a different skill")
    return skill.invoke(event, context)
