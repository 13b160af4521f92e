"""Organisation mode locally: member accounts, their forwarders and the member role.

With ``DeploymentMode=organization`` the workflow rules live on the hub bus, and in AWS
every member account (the hub's own included) forwards its matching events there with
the rules of ``member/forwarders.yaml``. moto cannot play that part: its bus-to-bus
delivery rewrites ``account`` and ``region`` to the receiver's and ignores bus policies.
So the engine models the forwarders itself: an event put on a member's default bus, in a
region where that member runs the forwarders, is delivered to the hub bus once per
forwarder rule whose pattern (the generated template's, resolved) matches it, with its
original envelope, as EventBridge does bus to bus.

A member is an account id, the regions it forwards from, and whether it has the member
role. moto gives every account its own backends; credentials come from ``sts
AssumeRole`` as in AWS. Trust policies are not evaluated by moto (tests/contract checks
them as data), but a role that does not exist cannot be assumed: while an organisation
app runs, AssumeRole of a missing role is refused with ``AccessDenied``, as AWS does.
Every member gets ``OrganizationAccountAccessRole`` (what Organizations creates in the
accounts it creates): the demo sets up and reads member resources through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

MEMBER_ROLE_PATH = "/trailwarden/member/"
ACCESS_ROLE = "OrganizationAccountAccessRole"
_TRUST_ANYONE_IN_MOTO = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
    '{"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}'
)


@dataclass(frozen=True)
class Member:
    account: str
    regions: tuple[str, ...]  # where its forwarders run
    member_role: bool  # whether the trailwarden member role exists there


class _NoResources:
    """Forwarder patterns name parameters only; any resource reference is a bug."""

    def has_resource(self, logical_id: str) -> bool:
        return False

    def ref(self, logical_id: str) -> Any:
        raise TemplateError(f"a forwarder pattern refers to the resource {logical_id}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        raise TemplateError(f"a forwarder pattern refers to {logical_id}.{attribute}")


def forwarder_patterns(
    path: Path, parameters: Mapping[str, str], *, hub_account: str, hub_region: str
) -> dict[str, dict[str, Any]]:
    """The EventPattern of every rule of ``member/forwarders.yaml``, resolved."""
    from .resolver import prepare

    prepared = prepare(
        path, parameters, region=hub_region, account_id=hub_account, stack_name="forwarders"
    )
    resolver = prepared.resolver(_NoResources())
    return {
        logical_id: resolver.resolve(body["Properties"]["EventPattern"], logical_id)
        for logical_id, body in prepared.translated["Resources"].items()
        if body["Type"] == "AWS::Events::Rule"
    }


class _AssumeRoleGuard:
    """Makes moto's AssumeRole refuse a role that does not exist (AWS: AccessDenied)."""

    def __init__(self) -> None:
        self._original: Any = None
        self._bypass = threading.local()

    def install(self) -> None:
        from moto.sts.models import STSBackend

        if self._original is not None:
            return
        import warnings

        # moto warns that STS models no AccessDenied shape; the client still gets the code.
        warnings.filterwarnings("ignore", message=r"Exception\(STSClientError\) with code")
        original = STSBackend.assume_role
        guard = self

        def assume_role(backend: Any, *args: Any, **kwargs: Any) -> Any:
            role_arn = kwargs.get("role_arn", args[2] if len(args) > 2 else "")
            if not getattr(guard._bypass, "on", False) and not _role_exists(str(role_arn)):
                from moto.sts.exceptions import STSClientError

                raise STSClientError(
                    "AccessDenied",
                    f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                )
            return original(backend, *args, **kwargs)

        self._original = original
        STSBackend.assume_role = assume_role  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original is None:
            return
        from moto.sts.models import STSBackend

        STSBackend.assume_role = self._original  # type: ignore[method-assign]
        self._original = None

    def bypassed(self) -> _Bypass:
        return _Bypass(self._bypass)


class _Bypass:
    def __init__(self, flag: threading.local) -> None:
        self._flag = flag

    def __enter__(self) -> None:
        self._flag.on = True

    def __exit__(self, *exc: object) -> None:
        self._flag.on = False


def _role_exists(role_arn: str) -> bool:
    from moto.iam.models import iam_backends

    parts = role_arn.split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return False
    partition, account = parts[1], parts[4]
    try:
        iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:  # moto's IAMNotFoundException (or an unknown partition)
        return False
    return True


class Organization:
    """The hub's organisation: members, their credentials, and the forwarders' routing."""

    def __init__(
        self,
        *,
        hub_account: str,
        hub_region: str,
        hub_bus: str,
        partition: str,
        member_role_name: str,
        patterns: Mapping[str, Mapping[str, Any]],
        matcher: Callable[[Mapping[str, Any]], Callable[[Mapping[str, Any]], bool]],
    ) -> None:
        self.hub_account = hub_account
        self.hub_region = hub_region
        self.hub_bus = hub_bus
        self.partition = partition
        self.member_role_name = member_role_name
        self.members: dict[str, Member] = {}
        self._forwarders = {name: matcher(pattern) for name, pattern in patterns.items()}
        self._guard = _AssumeRoleGuard()

    # ------------------------------------------------------------------ lifecycle

    def install(self) -> None:
        self._guard.install()

    def uninstall(self) -> None:
        self._guard.uninstall()

    # ------------------------------------------------------------------ members

    def member_role_arn(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:role{MEMBER_ROLE_PATH}{self.member_role_name}"

    def access_role_arn(self, account: str) -> str:
        return f"arn:{self.partition}:iam::{account}:role/{ACCESS_ROLE}"

    def add_member(
        self, account: str, regions: tuple[str, ...] | list[str], *, member_role: bool = True
    ) -> Member:
        """Make ``account`` a member forwarding from ``regions``: creates its
        OrganizationAccountAccessRole and (unless ``member_role=False``) the trailwarden
        member role in its own IAM. Adding an account again replaces its regions."""
        import boto3

        sts = boto3.client("sts", region_name=self.hub_region)
        with self._guard.bypassed():
            creds = sts.assume_role(
                RoleArn=self.access_role_arn(account), RoleSessionName="organization-setup"
            )["Credentials"]
        iam = boto3.client(
            "iam",
            region_name=self.hub_region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        wanted = [("/", ACCESS_ROLE)]
        if member_role:
            wanted.append((MEMBER_ROLE_PATH, self.member_role_name))
        existing = {role["RoleName"] for role in iam.list_roles()["Roles"]}
        for path, name in wanted:
            if name not in existing:
                iam.create_role(
                    Path=path, RoleName=name, AssumeRolePolicyDocument=_TRUST_ANYONE_IN_MOTO
                )
        had_role = self.members.get(account, Member(account, (), False)).member_role
        member = Member(account, tuple(regions), member_role or had_role)
        self.members[account] = member
        return member

    def credentials(self, account: str) -> dict[str, str]:
        """boto3 keyword arguments for ``account`` (its OrganizationAccountAccessRole)."""
        import boto3

        creds = boto3.client("sts", region_name=self.hub_region).assume_role(
            RoleArn=self.access_role_arn(account), RoleSessionName="trailwarden-demo"
        )["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    # ------------------------------------------------------------------ routing

    def forwarders_matching(self, event: Mapping[str, Any]) -> Iterator[str]:
        """The forwarder rules (logical ids) that send ``event`` to the hub bus: none
        unless the event's account is a member forwarding from the event's region."""
        member = self.members.get(str(event.get("account", "")))
        if member is None or str(event.get("region", "")) not in member.regions:
            return
        for name, matches in self._forwarders.items():
            if matches(event):
                yield name
