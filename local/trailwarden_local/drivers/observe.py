"""The demo's oracle: resource state read back with plain boto3 calls and plain dicts.

A scenario's "before" and "after" grade the code under test, so they are never read
with it: nothing here (or anywhere in ``drivers/``) imports the ``trailwarden``
package; a contract test enforces that. Each reader is one Describe/Get call whose
answer is copied field by field, so it is easier to trust than the code it grades.
Readers that serve one driver only live in that driver (``read_trail``,
``read_user``, ``read_instance``, ``read_addresses``); these are the shared ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def launch_permissions(ec2: Any, image_id: str) -> dict[str, Any]:
    """An AMI's launch permission (DescribeImageAttribute), each kind sorted."""
    items = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")[
        "LaunchPermissions"
    ]

    def values(key: str) -> list[str]:
        return sorted(str(i[key]) for i in items if i.get(key))

    return {
        "public": any(i.get("Group") == "all" for i in items),
        "accountIds": values("UserId"),
        "organizationArns": values("OrganizationArn"),
        "organizationalUnitArns": values("OrganizationalUnitArn"),
    }


def rule_source(item: Mapping[str, Any]) -> str:
    """A DescribeSecurityGroupRules item's one source: CIDR, prefix list or group."""
    referenced = item.get("ReferencedGroupInfo") or {}
    return str(
        item.get("CidrIpv4")
        or item.get("CidrIpv6")
        or item.get("PrefixListId")
        or referenced.get("GroupId", "")
    )


def security_group_rules(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    """Every rule of the group (DescribeSecurityGroupRules, all pages), as EC2 lists it."""
    rules: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Filters": [{"Name": "group-id", "Values": [group_id]}]}
    while True:
        page = ec2.describe_security_group_rules(**kwargs)
        rules += page["SecurityGroupRules"]
        if not page.get("NextToken"):
            return rules
        kwargs["NextToken"] = page["NextToken"]


def rule_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """``{"protocol", "from", "to", "source"}`` copied from a DescribeSecurityGroupRules item."""
    return {
        "protocol": item["IpProtocol"],
        "from": item.get("FromPort"),
        "to": item.get("ToPort"),
        "source": rule_source(item),
    }


def rule_summary(
    items: list[dict[str, Any]], *, egress: bool, rename: Callable[[str], str]
) -> list[dict[str, Any]]:
    """One direction's rules as the index states them: :func:`rule_of` with emulator
    ids renamed to the sample's (``rename``), sorted; rule ids and descriptions left out."""
    out = [
        {**rule_of(item), "source": rename(rule_source(item))}
        for item in items
        if bool(item.get("IsEgress")) is egress
    ]
    return sorted(out, key=_sort_key)


def _sort_key(rule: Mapping[str, Any]) -> tuple[str, int, int, str]:
    low, high = rule["from"], rule["to"]
    return (
        str(rule["protocol"]),
        low if isinstance(low, int) else -1,
        high if isinstance(high, int) else -1,
        str(rule["source"]),
    )
