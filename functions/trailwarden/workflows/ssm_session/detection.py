"""ssm-session: someone opened a Session Manager session (alert only).

Only ``ssm.amazonaws.com`` StartSession counts: Athena logs an event with the same
name (``athena.amazonaws.com``, a Spark session) that has nothing to do with shells.
The rule pattern and this detection both match the event source with the name.

The Session document says what kind of session it is: a shell (no document, or
``SSM-SessionManagerRunShell``), SSH, a command, port forwarding to the instance or
through it to a remote host (``host`` / ``portNumber`` / ``localPortNumber``).
The instance's Name tag is looked up live by the alert function (``enrich``); the
alert goes out without it when the lookup fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.workflows.common import access_path, as_list, text_of
from trailwarden.workflows.ssm_session import DECLARATION

if TYPE_CHECKING:
    from trailwarden.models.events import CloudTrailEvent
    from trailwarden.models.settings import DetectionSettings

WORKFLOW = DECLARATION.id
EVENT_SOURCE = "ssm.amazonaws.com"
TRIGGERS = frozenset({(EVENT_SOURCE, "StartSession")})
INSTANCE_TYPE = "AWS::EC2::Instance"
MANAGED_NODE_TYPE = "AWS::SSM::ManagedInstance"
DEFAULT_DOCUMENT = "SSM-SessionManagerRunShell"

# AWS-owned Session documents -> session kind shown in the alert.
SESSION_KINDS: dict[str, str] = {
    DEFAULT_DOCUMENT: "shell",
    "AWS-StartSSHSession": "ssh",
    "AWS-StartInteractiveCommand": "command",
    "AWS-StartNonInteractiveCommand": "command",
    "AWS-StartPortForwardingSession": "port-forwarding",
    "AWS-StartPortForwardingSessionToSocket": "port-forwarding",
    "AWS-StartPortForwardingSessionToRemoteHost": "port-forwarding-remote-host",
}


def _parameter(parameters: Mapping[str, Any], name: str) -> str:
    """Session parameters are logged as lists of strings: ``{"portNumber": ["22"]}``."""
    values = [text_of(v) or str(v) for v in as_list(parameters.get(name)) if v is not None]
    return ", ".join(v for v in values if v)


def session_kind(document: str, parameters: Mapping[str, Any]) -> str:
    if document in SESSION_KINDS:
        return SESSION_KINDS[document]
    if _parameter(parameters, "host"):
        return "port-forwarding-remote-host"  # a custom port-forwarding document
    if _parameter(parameters, "portNumber"):
        return "port-forwarding"
    return "custom"


def detect(event: CloudTrailEvent, settings: DetectionSettings) -> Detection:
    request = event.request
    target = text_of(request.get("target"))
    if not target:
        return Detection(WORKFLOW, Outcome.IGNORE, Severity.INFO, "no target in the request")
    raw_parameters = request.get("parameters")
    parameters = raw_parameters if isinstance(raw_parameters, Mapping) else {}
    document = text_of(request.get("documentName")) or DEFAULT_DOCUMENT
    kind = session_kind(document, parameters)
    facts: dict[str, Any] = {
        "target": target,
        "documentName": document,
        "sessionKind": kind,
        "remoteHost": _parameter(parameters, "host"),
        "remotePort": _parameter(parameters, "portNumber"),
        "localPort": _parameter(parameters, "localPortNumber"),
        "command": _parameter(parameters, "command"),
        "sessionReason": text_of(request.get("reason")),
        "sessionId": text_of(event.response.get("sessionId")),
        "via": access_path(event),
        "mfaAuthenticated": event.actor.mfa_authenticated,
    }
    resource_type = INSTANCE_TYPE if target.startswith("i-") else MANAGED_NODE_TYPE

    severity = Severity.MEDIUM
    if kind == "port-forwarding-remote-host" or event.actor.type == "Root":
        severity = Severity.HIGH  # a tunnel through the instance to another host
    if kind == "port-forwarding-remote-host":
        where = f"{facts['remoteHost'] or '?'}:{facts['remotePort'] or '?'}"
        reason = f"Session Manager port forwarding through {target} to {where}"
    elif kind.startswith("port-forwarding"):
        reason = f"Session Manager port forwarding to {target}:{facts['remotePort'] or '?'}"
    else:
        reason = f"Session Manager {kind} session started on {target}"
    return Detection(WORKFLOW, Outcome.ALERT, severity, reason, resource_type, target, facts)
