"""iam-user-change: an IAM user was created or deleted (alert only).

IAM is a global service: its CloudTrail events are delivered to EventBridge in
us-east-1 only. A deployment in another home region receives them through the
forwarding stack (forwarder/template.yaml), unchanged.

Failed calls (AccessDenied, EntityAlreadyExists ...) changed nothing and are ignored,
as in every workflow; so are calls made by the app's own roles (none of them may call
IAM, so that can only be a misconfiguration).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import access_path, as_list, text_of
from trailwarden.workflows.iam_user_change import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
TRIGGERS = frozenset({("iam.amazonaws.com", "CreateUser"), ("iam.amazonaws.com", "DeleteUser")})
RESOURCE_TYPE = "AWS::IAM::User"


def parse_tags(raw: Any) -> list[dict[str, str]]:
    """IAM tags as CloudTrail logs them (``[{"key": .., "value": ..}]``; either case)."""
    tags = []
    for item in as_list(raw):
        if not isinstance(item, Mapping):
            continue
        key = text_of(item.get("key", item.get("Key")))
        if key:
            tags.append({"key": key, "value": text_of(item.get("value", item.get("Value")))})
    return tags


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request = event.request
    created = event.response.get("user")
    user = created if isinstance(created, Mapping) else {}
    name = text_of(request.get("userName")) or text_of(user.get("userName"))
    if not name:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no userName in the request")
    creating = event.event_name == "CreateUser"
    facts: dict[str, Any] = {
        "userName": name,
        "userArn": text_of(user.get("arn")),
        "path": text_of(request.get("path")) or text_of(user.get("path")) or "",
        "tags": parse_tags(request.get("tags")) or parse_tags(user.get("tags")),
        "permissionsBoundary": text_of(request.get("permissionsBoundary")),
        "via": access_path(event),
        "mfaAuthenticated": event.actor.mfa_authenticated,
    }
    if creating and not facts["path"]:
        facts["path"] = "/"  # IAM's default path

    severity = Severity.MEDIUM
    if event.actor.type == "Root":
        severity = Severity.HIGH  # nobody should be using the root user for this
    elif facts["via"] == "cloudformation":
        severity = Severity.INFO  # infrastructure as code: expected, still recorded
    verb = "created" if creating else "deleted"
    via = {"cloudformation": " by CloudFormation", "console": " in the console"}.get(
        facts["via"], ""
    )
    return Detection(
        WORKFLOW,
        Outcome.ALERT,
        severity,
        f"IAM user {name} {verb}{via}",
        RESOURCE_TYPE,
        name,
        facts,
    )
