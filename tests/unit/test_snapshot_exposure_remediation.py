"""snapshot-exposure remediation against moto's EC2 (state) and botocore's Stubber
(errors): exactly the offending permissions go, trusted shares stay, verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from trailwarden.models.errors import RemediationFailed, ResourceGone
from trailwarden.workflows.shares import fix_shares
from trailwarden.workflows.snapshot_exposure import remediation

if TYPE_CHECKING:
    from collections.abc import Iterator

TRUSTED = frozenset({"222222222222"})


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def make_snapshot(ec2: Any, *, public: bool = False, accounts: tuple[str, ...] = ()) -> str:
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)
    snapshot_id: str = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    if public or accounts:
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot_id,
            Attribute="createVolumePermission",
            OperationType="add",
            GroupNames=["all"] if public else [],
            UserIds=list(accounts),
        )
    return snapshot_id


def permissions(ec2: Any, snapshot_id: str) -> list[dict[str, str]]:
    attrs = ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )
    return sorted(attrs["CreateVolumePermissions"], key=lambda p: sorted(p.items()))


def test_public_and_untrusted_shares_are_removed_and_the_trusted_share_kept(ec2: Any) -> None:
    snapshot_id = make_snapshot(ec2, public=True, accounts=("222222222222", "999988887777"))

    result = remediation.apply(ec2, snapshot_id, TRUSTED)

    assert result.status == "remediated"
    assert permissions(ec2, snapshot_id) == [{"UserId": "222222222222"}]
    assert result.before == {"public": True, "accountIds": ["222222222222", "999988887777"]}
    assert result.after == {"public": False, "accountIds": ["222222222222"]}


def test_an_already_private_snapshot_is_already_clean(ec2: Any) -> None:
    snapshot_id = make_snapshot(ec2, accounts=("222222222222",))

    result = remediation.apply(ec2, snapshot_id, TRUSTED)

    assert result.status == "already-clean"
    assert result.actions == ()


def test_a_deleted_snapshot_is_resource_gone(ec2: Any) -> None:
    snapshot_id = make_snapshot(ec2, public=True)
    ec2.delete_snapshot(SnapshotId=snapshot_id)

    with pytest.raises(ResourceGone):
        remediation.apply(ec2, snapshot_id, TRUSTED)


def test_a_removal_that_did_not_take_fails_verification() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    public = {"CreateVolumePermissions": [{"Group": "all"}], "SnapshotId": "snap-1"}
    with Stubber(ec2) as stub:
        stub.add_response("describe_snapshot_attribute", public)
        stub.add_response("modify_snapshot_attribute", {})
        stub.add_response("describe_snapshot_attribute", public)

        with pytest.raises(RemediationFailed):
            remediation.apply(ec2, "snap-1", TRUSTED)


def test_the_offline_plan_comes_from_what_the_event_added() -> None:
    facts = {"addedPublic": True, "addedUntrustedAccounts": ["999988887777"]}

    (action,) = remediation.plan_for("snap-1", facts, None, TRUSTED)

    assert action.action == "ec2:ModifySnapshotAttribute"
    assert action.params == {
        "Attribute": "createVolumePermission",
        "OperationType": "remove",
        "GroupNames": ["all"],
        "UserIds": ["999988887777"],
    }


def fix_snapshot(ec2: Any, slept: list[float], *, timeout_seconds: float) -> Any:
    """fix_shares on snap-1 with 0.5 s polls, its waits recorded in ``slept`` (the
    clock moves only by them)."""
    return fix_shares(
        "snap-1",
        TRUSTED,
        read=lambda: remediation.read_volume_permissions(ec2, "snap-1"),
        plan=lambda perms: remediation.plan("snap-1", perms, TRUSTED),
        perform=lambda action: ec2.modify_snapshot_attribute(SnapshotId="snap-1", **action.params),
        timeout_seconds=timeout_seconds,
        poll_seconds=0.5,
        sleep=slept.append,
        clock=lambda: 100.0 + sum(slept),
    )


def test_a_removal_shown_late_is_verified_by_reading_again() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    public = {"CreateVolumePermissions": [{"Group": "all"}], "SnapshotId": "snap-1"}
    private = {"CreateVolumePermissions": [], "SnapshotId": "snap-1"}
    slept: list[float] = []
    with Stubber(ec2) as stub:
        stub.add_response("describe_snapshot_attribute", public)
        stub.add_response("modify_snapshot_attribute", {})
        stub.add_response("describe_snapshot_attribute", public)  # not yet visible
        stub.add_response("describe_snapshot_attribute", private)

        result = fix_snapshot(ec2, slept, timeout_seconds=5)

    assert result.status == "remediated"
    assert slept == [0.5]


def test_verification_gives_up_when_the_time_is_spent() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    public = {"CreateVolumePermissions": [{"Group": "all"}], "SnapshotId": "snap-1"}
    slept: list[float] = []
    with Stubber(ec2) as stub:
        stub.add_response("describe_snapshot_attribute", public)
        stub.add_response("modify_snapshot_attribute", {})
        for _ in range(3):
            stub.add_response("describe_snapshot_attribute", public)

        with pytest.raises(RemediationFailed):
            fix_snapshot(ec2, slept, timeout_seconds=1.0)

    assert slept == [0.5, 0.5]
