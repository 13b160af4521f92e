"""Demo driver for ami-exposure: a fresh AMI per scenario, shared as the event says.

``read_state`` is DescribeImageAttribute read plainly (``observe.launch_permissions``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trailwarden_local.drivers.base import Prepared, client, items_of, own_role_arn, rewrite_issuer
from trailwarden_local.drivers.observe import launch_permissions

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample


def _new_image(ec2: Any, name: str) -> str:
    return str(ec2.register_image(Name=name, RootDeviceName="/dev/xvda")["ImageId"])


def recorded_additions(request: Mapping[str, Any]) -> list[dict[str, str]]:
    """The launch permissions the recorded ModifyImageAttribute added, in the EC2 API's
    shape. CloudTrail logs ``launchPermission.add.items[]`` (``group`` / ``userId``) or
    ``operationType: add`` with ``userGroups`` / ``userIds``. Organization and OU shares
    are not replayed: moto does not model them (those samples are not in the demo)."""
    launch = request.get("launchPermission") or {}
    items = items_of((launch.get("add") if isinstance(launch, dict) else None) or {})
    if request.get("operationType") == "add":
        items += items_of(request.get("userIds"))
        items += [{"group": g["userGroup"]} for g in items_of(request.get("userGroups"))]
    add = [{"Group": str(i["group"])} for i in items if "group" in i]
    return add + [{"UserId": str(i["userId"])} for i in items if "userId" in i]


def prepare(app: LocalApp, sample: Sample) -> Prepared:
    ec2 = client(app, "ec2")
    image_id = _new_image(ec2, f"demo-{sample.scenario}")
    if sample.setup.get("launchPermission"):
        ec2.modify_image_attribute(
            ImageId=image_id, LaunchPermission={"Add": sample.setup["launchPermission"]}
        )
    event = copy.deepcopy(sample.event)
    detail = event["detail"]
    detail["requestParameters"]["imageId"] = image_id
    if sample.own_role:
        rewrite_issuer(event, own_role_arn(app, "AmiExposureRemediateFunction"))
    if not detail.get("errorCode"):  # a failed call changed nothing
        add = recorded_additions(detail["requestParameters"])
        if add:
            ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": add})
    return Prepared(event=event, read_state=lambda: launch_permissions(ec2, image_id))
