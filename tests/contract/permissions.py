"""The IAM actions each kind of function calls, from the constants declared next to the code
that calls them (a test helper: the functions never need this map).

The contract tests compare these with what template.yaml grants each function and
with the AWS operations the functions really make during the workflow tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.approvals.discord_app import INTERACTION_ACTIONS, RESUME_ACTIONS
from trailwarden.approvals.request import REQUEST_ACTIONS as APPROVAL_REQUEST_ACTIONS
from trailwarden.approvals.service import DECIDE_ACTIONS
from trailwarden.approvals.store import DECISION_STORE_ACTIONS
from trailwarden.dal.incidents import ALERT_STORE_ACTIONS, STORE_ACTIONS
from trailwarden.logic.backstop import BACKSTOP_ACTIONS
from trailwarden.logic.report import REPORT_ACTIONS
from trailwarden.notify.securityhub import SECURITY_HUB_ACTIONS
from trailwarden.notify.service import NOTIFY_ACTIONS
from trailwarden.workflows.ec2_keypair.config_rule import RULE_ACTIONS as KEY_PAIR_RULE_ACTIONS

if TYPE_CHECKING:
    from trailwarden.workflows.registry import Workflow


# The kinds of function that deliver notifications, so also to the Security Hub sink.
DELIVERING_KINDS = frozenset({"notify", "report", "approval_request", "backstop", "alert"})


def kind_of(handler: str) -> str:
    return handler.split(".")[1] if handler.count(".") >= 2 else handler


def declared_actions(
    handler: str, workflow: Workflow | None, *, security_hub: bool = False
) -> frozenset[str] | None:
    """Actions a function with this handler (and WORKFLOW) calls; None if not a generic one.

    Secrets Manager is only called when a Discord secret is configured; the template
    grants it under the same condition. ``security_hub``: SecurityHubFindings=on in
    account mode, where the delivering functions write findings with their own role.
    """
    found = _declared_actions(handler, workflow)
    if found is not None and security_hub and kind_of(handler) in DELIVERING_KINDS:
        return found | SECURITY_HUB_ACTIONS
    return found


def _declared_actions(handler: str, workflow: Workflow | None) -> frozenset[str] | None:
    kind = kind_of(handler)
    if kind == "notify":
        return NOTIFY_ACTIONS
    if kind == "report":
        return REPORT_ACTIONS
    if kind == "backstop":
        return BACKSTOP_ACTIONS
    if kind == "keypair_rule":
        return KEY_PAIR_RULE_ACTIONS
    if kind == "approval_request":
        return APPROVAL_REQUEST_ACTIONS
    if kind == "approval":
        return DECISION_STORE_ACTIONS | DECIDE_ACTIONS
    if kind == "discord_interactions":
        return INTERACTION_ACTIONS
    if kind == "discord_resume":
        return RESUME_ACTIONS | DECIDE_ACTIONS
    if workflow is None:
        return None
    if kind == "assess" and workflow.remediation is not None:
        return workflow.remediation.assess_actions | STORE_ACTIONS | workflow.enrich_actions
    if kind == "remediate" and workflow.remediation is not None:
        return workflow.remediation.remediate_actions
    if kind == "alert":
        return ALERT_STORE_ACTIONS | NOTIFY_ACTIONS | workflow.enrich_actions
    return None
