"""Live lookups that only add context to an alert (a Workflow's ``enrich`` hook).

They never decide anything: the alert function calls them after the detection, and
when one fails (instance gone, AccessDenied, timeout) the alert goes out without the
extra facts and says the lookup failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden.dal.aws_errors import translate
from trailwarden.workflows.declaration import ANY_RESOURCE, Grant, actions_of

if TYPE_CHECKING:
    from trailwarden.models.findings import Detection
    from trailwarden.workflows.base import ClientFactory

INSTANCE_LOOKUP_GRANTS = (
    Grant(
        ("ec2:DescribeInstances",),
        ANY_RESOURCE,
        "enrich: Name tag; DescribeInstances has no resource-level permissions",
    ),
)
INSTANCE_LOOKUP_ACTIONS = actions_of(INSTANCE_LOOKUP_GRANTS)
GONE_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})


def instance_facts(instance_id: str, region: str, clients: ClientFactory) -> dict[str, Any]:
    """Name tag, state and private IP of an EC2 instance; {} for non-EC2 targets.

    Raises ResourceGone when the instance does not exist (any more), or the typed
    error for other AWS failures.
    """
    if not instance_id.startswith("i-"):
        return {}  # a hybrid managed node (mi-...) is not an EC2 instance
    from botocore.exceptions import ClientError  # boto only when calling AWS

    ec2 = clients("ec2", region or None)
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as err:
        raise translate(err, gone_codes=GONE_CODES) from err
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            tags = {t.get("Key"): t.get("Value", "") for t in instance.get("Tags", [])}
            return {
                "instanceName": tags.get("Name", ""),
                "instanceState": (instance.get("State") or {}).get("Name", ""),
                "privateIpAddress": instance.get("PrivateIpAddress", ""),
                "keyName": instance.get("KeyName", ""),
            }
    return {}


def enrich_instance(detection: Detection, region: str, clients: ClientFactory) -> dict[str, Any]:
    """A Workflow ``enrich`` hook: the facts of the instance the detection names."""
    return instance_facts(detection.resource_id, region, clients)
