"""ssm-session: someone opened a Session Manager session (alert only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    Text,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="ssm-session",
    title="Session Manager sessions started",
    mode=ModeParameter(
        "SsmSessionMode",
        Mode.ALERT,
        "ssm-session: alert when a Session Manager session starts (shell, port "
        "forwarding ...); off ignores them.",
    ),
    rules=(
        Rule(
            "SessionStarted",
            source=("aws.ssm",),
            detail={"eventSource": ["ssm.amazonaws.com"], "eventName": ["StartSession"]},
            target="alert",
            why="Athena also logs a StartSession (athena.amazonaws.com): source and "
            "eventSource pin this rule to Session Manager.",
        ),
    ),
    alert=FunctionSpec(
        "ssm-session - alert on Session Manager sessions, with the instance Name tag"
    ),
    facts={
        "target": Text("Target", "대상"),
        "instanceName": Text("Name tag", "Name 태그"),
        "instanceState": Text("Instance state", "인스턴스 상태"),
        "privateIpAddress": Text("Private IP", "사설 IP"),
        "sessionKind": Text("Session type", "세션 유형"),
        "documentName": Text("Session document", "세션 문서"),
        "remoteHost": Text("Remote host", "원격 호스트"),
        "remotePort": Text("Port", "포트"),
        "localPort": Text("Local port", "로컬 포트"),
        "command": Text("Command", "명령"),
        "sessionReason": Text("Stated reason", "입력된 사유"),
        "sessionId": Text("Session id", "세션 ID"),
        "via": Text("Made through", "수행 경로"),
        "mfaAuthenticated": Text("MFA", "MFA 인증"),
    },
    fact_values={
        "sessionKind": {
            "shell": Text("interactive shell", "대화형 셸"),
            "ssh": Text("SSH", "SSH"),
            "command": Text("command", "명령 실행"),
            "port-forwarding": Text("port forwarding", "포트 포워딩"),
            "port-forwarding-remote-host": Text(
                "port forwarding to a remote host", "원격 호스트로 포트 포워딩"
            ),
            "custom": Text("custom document", "사용자 정의 문서"),
        },
    },
    what={"StartSession": Text("Session Manager session started", "Session Manager 세션 시작")},
)


def load() -> Workflow:
    from trailwarden.dal import enrichment
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.ssm_session import detection

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        enrich=enrichment.enrich_instance,
        enrich_grants=enrichment.INSTANCE_LOOKUP_GRANTS,
    )
