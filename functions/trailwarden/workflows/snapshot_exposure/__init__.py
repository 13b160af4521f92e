"""snapshot-exposure: an EBS snapshot made public or shared with an account outside
TrustedAccountIds -> remove the public permission and every untrusted account, keep
trusted ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.models.modes import Mode
from trailwarden.workflows.declaration import (
    ACTING_MODES,
    Declaration,
    FunctionSpec,
    ModeParameter,
    Rule,
    Text,
)

if TYPE_CHECKING:
    from trailwarden.workflows.declaration import Workflow

DECLARATION = Declaration(
    id="snapshot-exposure",
    title="EBS snapshot made public or shared with an untrusted account",
    mode=ModeParameter(
        "SnapshotExposureMode",
        Mode.REMEDIATE,
        "snapshot-exposure: remediate removes public/untrusted create-volume permissions "
        "of an EBS snapshot at once, approval waits for a human to approve through the "
        "approval link first, alert only tells, off ignores the workflow.",
        ACTING_MODES,
    ),
    rules=(
        Rule(
            "VolumePermissionAdded",
            source=("aws.ec2",),
            detail={
                "eventSource": ["ec2.amazonaws.com"],
                "eventName": ["ModifySnapshotAttribute"],
                # CloudTrail logs the nested add list; the flat userIds/groupNames form with
                # operationType (as the API takes it) is matched too, in case it is logged.
                "requestParameters": {
                    "$or": [
                        {"createVolumePermission": {"add": {"items": {key: [{"exists": True}]}}}}
                        for key in ("group", "userId")
                    ]
                    + [{"operationType": ["add"]}]
                },
            },
        ),
    ),
    assess=FunctionSpec(
        "snapshot-exposure - detect, re-read create-volume permissions, claim the incident",
        reads=("TrustedAccountIds",),
    ),
    remediate=FunctionSpec(
        "snapshot-exposure - remove public and untrusted create-volume permissions, verify",
        reads=("TrustedAccountIds",),
    ),
    facts={
        "snapshotId": Text("Snapshot", "스냅샷"),
        "addedPublic": Text("Made public", "공개로 전환"),
        "addedUntrustedAccounts": Text("Untrusted accounts added", "추가된 비신뢰 계정"),
        "addedTrustedAccounts": Text("Trusted accounts added", "추가된 신뢰 계정"),
    },
    what={
        "ModifySnapshotAttribute": Text(
            "EBS snapshot shared or made public", "EBS 스냅샷 공유 또는 공개"
        )
    },
)


def load() -> Workflow:
    from trailwarden.workflows.declaration import Workflow
    from trailwarden.workflows.shares import share_remediation
    from trailwarden.workflows.snapshot_exposure import detection, remediation

    return Workflow(
        DECLARATION,
        triggers=detection.TRIGGERS,
        detect=detection.detect,
        remediation=share_remediation(remediation),
    )
