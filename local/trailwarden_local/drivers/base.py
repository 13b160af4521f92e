"""What a demo driver does: put the emulator in the scenario's starting state, make the
call the sample event records (so the emulator matches the event), and read the
resource back before and after the workflow ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden_local.engine import LocalApp
    from trailwarden_local.samples import Sample

# Contract strings, written here rather than imported: drivers import nothing from the
# ``trailwarden`` package, so the demo never grades the code with the code under test.
BACKSTOP_SOURCE = "trailwarden.backstop"  # the scheduled backstop's event ``source``


@dataclass
class Prepared:
    event: dict[str, Any]  # the sample event, rewritten to name the emulator's resources
    read_state: Callable[[], Any]  # reads the resource back from the emulator as JSON
    # Events that reach the bus before ``event`` in the same scenario (e.g. the Config
    # compliance changes of the other instances an evaluation covered).
    preceding_events: list[dict[str, Any]] = field(default_factory=list)
    # Set when a step AWS would do is simulated by the driver: says which and why.
    simulated: str | None = None
    # Replaces putting ``event`` on the bus when the scenario starts elsewhere (the
    # scheduled backstop, invoked through the engine): returns the deliveries it made.
    trigger: Callable[[], list[Any]] | None = None
    # Undoes what the scenario changed in state later scenarios share (a disabled rule
    # of the app, a trail the backstop would otherwise find on every later run).
    cleanup: Callable[[], None] | None = None


class Driver(Protocol):
    def __call__(self, app: LocalApp, sample: Sample) -> Prepared: ...


def client(app: LocalApp, service: str, region: str | None = None) -> Any:
    """A plain boto3 client where the scenario happens: the app's account and region, or
    a member's (``MemberView``: its own credentials, from sts AssumeRole)."""
    import boto3

    credentials: dict[str, str] = getattr(app, "credentials", None) or {}
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=region or app.region, **credentials
    )


class MemberView:
    """The app as a driver sees it in an organisation scenario: ``region``,
    ``account_id`` and ``credentials`` are the member's; everything else is the app's."""

    def __init__(
        self, app: LocalApp, account: str, region: str, credentials: dict[str, str]
    ) -> None:
        self._app = app
        self.account_id = account
        self.region = region
        self.credentials = credentials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


def own_role_arn(app: LocalApp, function_logical_id: str) -> str:
    return str(app.functions[function_logical_id].role_arn)


def rewrite_issuer(event: dict[str, Any], role_arn: str) -> None:
    """Make a sample 'own role' call come from the emulator's real role ARN."""
    identity = event["detail"].setdefault("userIdentity", {})
    identity["type"] = "AssumedRole"
    identity.setdefault("sessionContext", {}).setdefault("sessionIssuer", {})["arn"] = role_arn


def items_of(value: Any) -> list[dict[str, Any]]:
    """The objects of a list as CloudTrail logs it: ``{"items": [...]}`` (``{}`` when
    empty) or a plain list."""
    if isinstance(value, dict):
        value = value.get("items") or []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
