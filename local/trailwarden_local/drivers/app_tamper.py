"""Demo driver for app-tamper: the sample's rule, function, state machine or topic is
rewritten to the emulator's real resource of the app, and the change is made for real
where that is safe to undo (disabling a rule; ``cleanup`` enables it again).

``setup`` keys: ``rule`` (logical id of the app's rule the scenario disables),
``stopWithoutEvent`` (the backstop scenario: the rule is disabled directly and the
scheduled backstop function is invoked instead of putting an event on the bus).
Deleting or updating the running app's functions, state machines or topic is not
replayed (later scenarios need them): those samples only rewrite names.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import BACKSTOP_SOURCE, Prepared, client
from trailwarden_local.drivers.cloudtrail_tamper import backstop_trigger, create_trail

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

DEFAULT_RULE = "CloudTrailTamperStateMachineTrailTampered"
DEFAULT_FUNCTION = "CloudTrailTamperRemediateFunction"
DEFAULT_STATE_MACHINE = "CloudTrailTamperStateMachine"


def _function_for(app: LocalApp, sample_name: str) -> str:
    """The emulator's function whose logical id the sample's generated name mentions."""
    bare = sample_name.split(":function:", 1)[-1].split(":", 1)[0]
    for logical_id in sorted(app.functions, key=len, reverse=True):
        if logical_id[:20] in bare:
            return logical_id
    return DEFAULT_FUNCTION


def rewrite(app: LocalApp, event: dict[str, Any], rule_logical_id: str) -> dict[str, str]:
    """Point the sample at the emulator's resources; returns what it now names."""
    rule = app.rules[rule_logical_id]
    if event.get("source") == BACKSTOP_SOURCE:
        event["detail"].update({"ruleName": rule.name, "ruleArn": rule.arn})
        event["resources"] = [rule.arn]
        return {"rule": rule_logical_id}
    request = event["detail"].setdefault("requestParameters", {})
    response = event["detail"].get("responseElements")
    named: dict[str, str] = {}
    if "name" in request or "rule" in request:
        request["name" if "name" in request else "rule"] = rule.name
        named["rule"] = rule_logical_id
    if "functionName" in request:
        logical_id = _function_for(app, str(request["functionName"]))
        function = app.functions[logical_id]
        was_arn = str(request["functionName"]).startswith("arn:")
        request["functionName"] = function.arn if was_arn else function.physical_name
        if isinstance(response, dict):
            response.update({"functionName": function.physical_name, "functionArn": function.arn})
        named["function"] = logical_id
    if "stateMachineArn" in request or "executionArn" in request:
        machine = app.state_machines[DEFAULT_STATE_MACHINE]
        if "stateMachineArn" in request:
            request["stateMachineArn"] = machine.arn
        else:
            execution = str(request["executionArn"]).rsplit(":", 1)[-1]
            prefix = machine.arn.replace(":stateMachine:", ":execution:")
            request["executionArn"] = f"{prefix}:{execution}"
        named["stateMachine"] = DEFAULT_STATE_MACHINE
    topic = str(app.resource("AlertTopic"))
    if "topicArn" in request:
        request["topicArn"] = topic
        named["topic"] = "AlertTopic"
    if "subscriptionArn" in request:
        request["subscriptionArn"] = f"{topic}:{str(request['subscriptionArn']).rsplit(':', 1)[-1]}"
        named["topic"] = "AlertTopic"
    return named


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    events = client(app, "events")
    rule_logical_id = str(sample.setup.get("rule", DEFAULT_RULE))
    rule = app.rules[rule_logical_id]
    event = copy.deepcopy(sample.event)
    named = rewrite(app, event, rule_logical_id)
    detail = event["detail"]

    def read_state() -> dict[str, Any]:
        state: dict[str, Any] = dict(named)
        if "rule" in named:
            state["ruleState"] = events.describe_rule(Name=rule.name)["State"]
            state["targets"] = len(events.list_targets_by_rule(Rule=rule.name)["Targets"])
        return state

    def cleanup() -> None:
        events.enable_rule(Name=rule.name)

    if sample.setup.get("stopWithoutEvent"):
        # A logging trail, as in any real account: the backstop reports only the rule.
        trail = f"demo-{sample.scenario}"
        create_trail(app, trail)
        events.disable_rule(Name=rule.name)  # no event: only the backstop can notice

        def cleanup_all() -> None:
            cleanup()
            client(app, "cloudtrail").delete_trail(Name=trail)

        return Prepared(
            event=event,
            read_state=read_state,
            trigger=lambda: backstop_trigger(app),
            cleanup=cleanup_all,
        )
    if not detail.get("errorCode") and detail.get("eventName") == "DisableRule":
        events.disable_rule(Name=rule.name)
        return Prepared(event=event, read_state=read_state, cleanup=cleanup)
    return Prepared(
        event=event,
        read_state=read_state,
        simulated=None
        if detail.get("eventName") == "DisableRule"
        else f"{detail.get('eventName')} is not replayed: the running demo app needs it",
    )
