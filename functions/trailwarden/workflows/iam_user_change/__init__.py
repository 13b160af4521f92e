"""iam-user-change: an IAM user was created or deleted (alert only)."""

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
    id="iam-user-change",
    title="IAM users created or deleted",
    mode=ModeParameter(
        "IamUserChangeMode",
        Mode.ALERT,
        "iam-user-change: alert when an IAM user is created or deleted; off ignores them. "
        "IAM events arrive in us-east-1 only: outside us-east-1 deploy "
        "forwarder/template.yaml there too.",
    ),
    rules=(
        Rule(
            "UserCreatedOrDeleted",
            source=("aws.iam",),
            detail={
                "eventSource": ["iam.amazonaws.com"],
                "eventName": ["CreateUser", "DeleteUser"],
            },
            target="alert",
            why="IAM events reach EventBridge in us-east-1 only; outside us-east-1, "
            "forwarder/template.yaml (deployed in us-east-1) forwards them here unchanged.",
        ),
    ),
    alert=FunctionSpec("iam-user-change - alert on IAM users created or deleted"),
    facts={
        "userName": Text("IAM user", "IAM 사용자"),
        "userArn": Text("User ARN", "사용자 ARN"),
        "path": Text("Path", "경로"),
        "tags": Text("Tags", "태그"),
        "permissionsBoundary": Text("Permissions boundary", "권한 경계"),
        "via": Text("Made through", "수행 경로"),
        "mfaAuthenticated": Text("MFA", "MFA 인증"),
    },
    what={
        "CreateUser": Text("IAM user created", "IAM 사용자 생성"),
        "DeleteUser": Text("IAM user deleted", "IAM 사용자 삭제"),
    },
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.iam_user_change import detection

    return Workflow(DECLARATION, triggers=detection.TRIGGERS, detect=detection.detect)
