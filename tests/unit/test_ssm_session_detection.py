"""ssm-session detection: Session Manager only (never Athena), session kind, ports, id."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_event
from trailwarden.logic.decide import decide
from trailwarden.models.findings import Detection, Outcome, Severity
from trailwarden.models.settings import DetectionSettings
from trailwarden.workflows.registry import load_workflow
from trailwarden.workflows.ssm_session import detection as ssm_session

SETTINGS = DetectionSettings()


def detect(raw: dict[str, Any]) -> Detection:
    return decide(raw, load_workflow(ssm_session.WORKFLOW), SETTINGS).detection


def with_request(request: dict[str, Any], sample: str = "shell-session") -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"ssm-session/{sample}.json"))
    event["detail"]["requestParameters"] = request
    return event


def test_shell_session_alert_names_target_document_session_and_who() -> None:
    detection = detect(load_event("ssm-session/shell-session.json"))

    assert (detection.outcome, detection.severity) == (Outcome.ALERT, Severity.MEDIUM)
    assert (detection.resource_type, detection.resource_id) == (
        "AWS::EC2::Instance",
        "i-0123456789abcdef0",
    )
    assert detection.facts["documentName"] == "SSM-SessionManagerRunShell"
    assert detection.facts["sessionKind"] == "shell"
    assert detection.facts["sessionId"] == "jin.park-0a1b2c3d4e5f60718"
    assert detection.facts["mfaAuthenticated"] is True


def test_port_forwarding_to_a_remote_host_is_high_and_names_host_and_ports() -> None:
    detection = detect(load_event("ssm-session/port-forwarding-remote-host.json"))

    assert detection.severity is Severity.HIGH
    assert detection.facts["sessionKind"] == "port-forwarding-remote-host"
    assert detection.facts["remoteHost"] == "orders-db.cluster-c0ffee12.us-east-1.rds.amazonaws.com"
    assert (detection.facts["remotePort"], detection.facts["localPort"]) == ("5432", "15432")
    assert "orders-db.cluster-c0ffee12.us-east-1.rds.amazonaws.com:5432" in detection.reason


@pytest.mark.parametrize(
    ("document", "parameters", "kind"),
    [
        (None, {}, "shell"),
        ("SSM-SessionManagerRunShell", {}, "shell"),
        ("AWS-StartSSHSession", {"portNumber": ["22"]}, "ssh"),
        ("AWS-StartInteractiveCommand", {"command": ["sudo su -"]}, "command"),
        ("AWS-StartPortForwardingSession", {"portNumber": ["3389"]}, "port-forwarding"),
        (
            "Corp-Tunnel",
            {"host": ["10.0.0.5"], "portNumber": ["22"]},
            "port-forwarding-remote-host",
        ),
        ("Corp-Forward", {"portNumber": ["8080"]}, "port-forwarding"),
        ("Corp-Custom", {}, "custom"),
    ],
)
def test_session_kind_comes_from_the_document_and_its_parameters(
    document: str | None, parameters: dict[str, Any], kind: str
) -> None:
    request: dict[str, Any] = {"target": "i-0123456789abcdef0", "parameters": parameters}
    if document:
        request["documentName"] = document

    assert detect(with_request(request)).facts["sessionKind"] == kind


def test_interactive_command_is_reported() -> None:
    request = {
        "target": "i-0123456789abcdef0",
        "documentName": "AWS-StartInteractiveCommand",
        "parameters": {"command": ["cat /etc/shadow"]},
    }

    assert detect(with_request(request)).facts["command"] == "cat /etc/shadow"


def test_hybrid_managed_node_target_is_not_called_an_ec2_instance() -> None:
    detection = detect(with_request({"target": "mi-0123456789abcdef0"}))

    assert detection.outcome is Outcome.ALERT
    assert detection.resource_type == "AWS::SSM::ManagedInstance"


def test_athena_start_session_is_not_a_session_manager_session() -> None:
    detection = detect(load_event("ssm-session/athena-start-session.json"))

    assert detection.outcome is Outcome.IGNORE
    assert "athena.amazonaws.com" in detection.reason


def test_refused_session_is_ignored() -> None:
    detection = detect(load_event("ssm-session/failed-target-not-connected.json"))

    assert detection.outcome is Outcome.IGNORE
    assert "TargetNotConnected" in detection.reason


def test_request_without_a_target_is_ignored() -> None:
    assert detect(with_request({})).outcome is Outcome.IGNORE
