"""Demo driver for snapshot-exposure: a fresh EBS snapshot per scenario, shared as the
event says. State is read back with plain EC2 calls (not the workflow's own readers)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client, own_role_arn, rewrite_issuer

if TYPE_CHECKING:
    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


def _new_snapshot(ec2: Any, app: LocalApp, name: str) -> str:
    volume = ec2.create_volume(AvailabilityZone=f"{app.region}a", Size=1)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description=name)
    return str(snapshot["SnapshotId"])


def _share(ec2: Any, snapshot_id: str, permissions: list[dict[str, str]]) -> None:
    """Add create-volume permissions ([{"Group": "all"} | {"UserId": ...}]) in the flat
    form, the one the emulator reads."""
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=[p["Group"] for p in permissions if "Group" in p],
        UserIds=[p["UserId"] for p in permissions if "UserId" in p],
    )


def _added(request: dict[str, Any]) -> list[dict[str, str]]:
    """What the recorded call added (the event's nested shape), as the API's items."""
    items = request.get("createVolumePermission", {}).get("add", {}).get("items", [])
    add = []
    for item in items:
        if item.get("group") == "all":
            add.append({"Group": "all"})
        elif item.get("userId"):
            add.append({"UserId": item["userId"]})
    return add


def read_permissions(ec2: Any, snapshot_id: str) -> dict[str, Any]:
    items = ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    return {
        "public": any(item.get("Group") == "all" for item in items),
        "accountIds": sorted(item["UserId"] for item in items if "UserId" in item),
    }


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    snapshot_id = _new_snapshot(ec2, app, f"demo-{sample.scenario}")
    if sample.setup.get("createVolumePermission"):
        _share(ec2, snapshot_id, sample.setup["createVolumePermission"])
    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    detail["requestParameters"]["snapshotId"] = snapshot_id
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "SnapshotExposureRemediateFunction"))
    add = _added(detail["requestParameters"])
    if add and not detail.get("errorCode"):  # a failed call changed nothing
        _share(ec2, snapshot_id, add)
    return Prepared(event=event, read_state=lambda: read_permissions(ec2, snapshot_id))
