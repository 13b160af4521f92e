"""Typed settings, built once from the environment the template sets.

``from_env`` takes the mapping explicitly (the handler passes ``os.environ``);
``replay`` builds the same objects from template Parameters via
:data:`PARAMETER_ENV`, so the deployed app and the offline replay decide alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from trailwarden.errors import InvalidEvent
from trailwarden.findings import Mode
from trailwarden.workflows import MODE_PARAMETERS, mode_env_var

if TYPE_CHECKING:
    from collections.abc import Mapping

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Template Parameter -> environment variable (the template's Globals set these).
PARAMETER_ENV: dict[str, str] = {
    "TrustedAccountIds": "TRUSTED_ACCOUNT_IDS",
    "AllowedPublicPorts": "ALLOWED_PUBLIC_PORTS",
    "ExemptSecurityGroupIds": "EXEMPT_SECURITY_GROUP_IDS",
    "ProtectedIpCidrs": "PROTECTED_IP_CIDRS",
    "KeyPairConfigRuleName": "KEY_PAIR_CONFIG_RULE_NAME",
    "ApprovalTimeoutSeconds": "APPROVAL_TIMEOUT_SECONDS",
    "Language": "LANGUAGE",
    "TimeZone": "TIME_ZONE",
    **{param: mode_env_var(wf) for wf, (param, _default) in MODE_PARAMETERS.items()},
}

DEDUPE_MIN_SECONDS = 24 * 3600


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a CommaDelimitedList-style value; blanks are dropped."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _ports(value: str | None) -> frozenset[int]:
    ports: set[int] = set()
    for part in split_list(value):
        if not part.isdigit() or not 0 <= int(part) <= 65535:
            raise ValueError(f"AllowedPublicPorts: {part!r} is not a port number")
        ports.add(int(part))
    return frozenset(ports)


# Narrower than this is a typo, not a policy: "203.0.113.10/0" would make every address
# "protected" (so approved removals could empty an IP set) or every caller an approver.
_MIN_PREFIX = {4: 8, 6: 32}


def _networks(value: str | None) -> tuple[IpNetwork, ...]:
    networks = tuple(ipaddress.ip_network(part, strict=False) for part in split_list(value))
    for network in networks:
        if network.prefixlen < _MIN_PREFIX[network.version]:
            raise ValueError(f"{network} is wider than /{_MIN_PREFIX[network.version]}")
    return networks


@dataclass(frozen=True)
class DetectionSettings:
    """Everything a pure detection needs. No clients, no secrets."""

    trusted_account_ids: frozenset[str] = frozenset()
    own_role_arns: frozenset[str] = frozenset()
    modes: Mapping[str, Mode] = field(default_factory=dict)
    allowed_public_ports: frozenset[int] = frozenset({80, 443})
    exempt_security_group_ids: frozenset[str] = frozenset()
    protected_ip_cidrs: tuple[IpNetwork, ...] = ()
    key_pair_config_rule_name: str = ""
    app_resource_names: frozenset[str] = frozenset()
    # How long a remediation polls its verification read (e.g. GetTrailStatus.IsLogging).
    verify_timeout_seconds: float = 20.0
    verify_poll_seconds: float = 1.0
    # Optimistic-lock retries of a read-edit-write fix (WAF UpdateIPSet's LockToken).
    lock_retry_attempts: int = 5
    lock_retry_base_seconds: float = 0.5

    def mode(self, workflow: str) -> Mode:
        return self.modes.get(workflow, MODE_PARAMETERS[workflow][1])

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DetectionSettings:
        modes = {}
        for workflow, (_param, default) in MODE_PARAMETERS.items():
            raw = env.get(mode_env_var(workflow), "")
            modes[workflow] = Mode(raw) if raw else default
        return cls(
            trusted_account_ids=frozenset(split_list(env.get("TRUSTED_ACCOUNT_IDS"))),
            own_role_arns=frozenset(split_list(env.get("OWN_ROLE_ARNS"))),
            modes=modes,
            allowed_public_ports=_ports(env.get("ALLOWED_PUBLIC_PORTS", "80,443")),
            exempt_security_group_ids=frozenset(split_list(env.get("EXEMPT_SECURITY_GROUP_IDS"))),
            protected_ip_cidrs=_networks(env.get("PROTECTED_IP_CIDRS")),
            key_pair_config_rule_name=env.get("KEY_PAIR_CONFIG_RULE_NAME", ""),
            app_resource_names=frozenset(split_list(env.get("APP_RESOURCE_NAMES"))),
            verify_timeout_seconds=float(env.get("VERIFY_TIMEOUT_SECONDS", "20")),
            verify_poll_seconds=float(env.get("VERIFY_POLL_SECONDS", "1")),
            lock_retry_attempts=int(env.get("LOCK_RETRY_ATTEMPTS", "5")),
            lock_retry_base_seconds=float(env.get("LOCK_RETRY_BASE_SECONDS", "0.5")),
        )


@dataclass(frozen=True)
class NotifySettings:
    language: str = "en"
    time_zone: str = "Asia/Seoul"
    topic_arn: str = ""
    discord_secret_name: str = ""
    # Worst case 3 x 5 s + 2 waits of at most 8 s stays well inside the 60 s timeout.
    discord_max_attempts: int = 3
    discord_backoff_seconds: float = 1.0
    discord_timeout_seconds: float = 5.0
    discord_max_retry_after_seconds: float = 8.0
    secret_max_age_seconds: int = 300

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifySettings:
        language = env.get("LANGUAGE", "en")
        if language not in ("en", "ko"):
            raise ValueError(f"LANGUAGE must be 'en' or 'ko', not {language!r}")
        settings = cls(
            language=language,
            time_zone=env.get("TIME_ZONE", "Asia/Seoul"),
            topic_arn=env.get("TOPIC_ARN", ""),
            discord_secret_name=env.get("DISCORD_WEBHOOK_SECRET_NAME", ""),
            discord_max_attempts=int(env.get("DISCORD_MAX_ATTEMPTS", "3")),
            discord_backoff_seconds=float(env.get("DISCORD_BACKOFF_SECONDS", "1.0")),
            discord_timeout_seconds=float(env.get("DISCORD_TIMEOUT_SECONDS", "5.0")),
            secret_max_age_seconds=int(env.get("SECRET_MAX_AGE_SECONDS", "300")),
        )
        settings.zone  # noqa: B018 - fail at start-up on an unknown time zone
        return settings


@dataclass(frozen=True)
class StoreSettings:
    incidents_table: str
    dedupe_ttl_seconds: int = 48 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StoreSettings:
        ttl = int(env.get("DEDUPE_TTL_SECONDS", str(48 * 3600)))
        if ttl < DEDUPE_MIN_SECONDS:
            raise ValueError("DEDUPE_TTL_SECONDS must be at least 24 hours (EventBridge retries)")
        return cls(incidents_table=env.get("INCIDENTS_TABLE", ""), dedupe_ttl_seconds=ttl)


@dataclass(frozen=True)
class BackstopSettings:
    """The scheduled logging backstop (TrailBackstopFunction)."""

    state_machine_arn: str  # the cloudtrail-tamper state machine it starts
    watched_trail_names: tuple[str, ...] = ()  # empty: every trail that logs this region
    app_rule_names: tuple[str, ...] = ()  # the app's own EventBridge rules
    window_seconds: int = 300  # dedupe window when the schedule's time is not given

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackstopSettings:
        window = int(env.get("BACKSTOP_WINDOW_SECONDS", "300"))
        if window < 60:
            raise ValueError("BACKSTOP_WINDOW_SECONDS must be at least 60")
        return cls(
            state_machine_arn=env.get("CLOUDTRAIL_TAMPER_STATE_MACHINE_ARN", ""),
            watched_trail_names=split_list(env.get("WATCHED_TRAIL_NAMES")),
            app_rule_names=split_list(env.get("APP_RULE_NAMES")),
            window_seconds=window,
        )


APPROVAL_TIMEOUT_DEFAULT = 3600


def approval_timeout(env: Mapping[str, str]) -> int:
    """APPROVAL_TIMEOUT_SECONDS (the ApprovalTimeoutSeconds parameter): a positive int."""
    raw = env.get("APPROVAL_TIMEOUT_SECONDS", "") or str(APPROVAL_TIMEOUT_DEFAULT)
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"APPROVAL_TIMEOUT_SECONDS must be a positive integer, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class ApprovalSettings:
    """The approval request function and the approval endpoint."""

    table: str
    base_url: str = ""  # https://<api>.execute-api.<region>.amazonaws.com (no trailing /)
    timeout_seconds: int = APPROVAL_TIMEOUT_DEFAULT
    approver_cidrs: tuple[IpNetwork, ...] = ()  # empty: anyone with the link may decide
    # How long a decided or expired request stays readable ("already approved at ...")
    # before DynamoDB's TTL deletes it.
    retention_seconds: int = 7 * 24 * 3600
    # Approve in Discord (DiscordApplicationSecretName): the secret's name, and who may
    # click (ApproverDiscordUserIds / ApproverDiscordRoleIds; both empty: nobody).
    discord_app_secret_name: str = ""
    approver_discord_user_ids: tuple[str, ...] = ()
    approver_discord_role_ids: tuple[str, ...] = ()
    resume_function: str = ""  # the Discord resume function's ARN (asynchronous invoke)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApprovalSettings:
        return cls(
            table=env.get("APPROVALS_TABLE", ""),
            base_url=env.get("APPROVAL_BASE_URL", "").rstrip("/"),
            timeout_seconds=approval_timeout(env),
            approver_cidrs=_networks(env.get("APPROVER_CIDRS")),
            retention_seconds=int(env.get("APPROVAL_RETENTION_SECONDS", str(7 * 24 * 3600))),
            discord_app_secret_name=env.get("DISCORD_APPLICATION_SECRET_NAME", ""),
            approver_discord_user_ids=split_list(env.get("APPROVER_DISCORD_USER_IDS")),
            approver_discord_role_ids=split_list(env.get("APPROVER_DISCORD_ROLE_IDS")),
            resume_function=env.get("DISCORD_RESUME_FUNCTION", ""),
        )


def require_workflow(env: Mapping[str, str]) -> str:
    workflow = env.get("WORKFLOW", "")
    if workflow not in MODE_PARAMETERS:
        raise InvalidEvent(f"WORKFLOW {workflow!r} is not a known workflow id")
    return workflow
