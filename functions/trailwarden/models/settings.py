"""Typed settings, built once from the environment the template sets.

``from_env`` takes the mapping explicitly (the handler passes ``os.environ``);
``replay`` builds the same objects from template Parameters via
:data:`PARAMETER_ENV`, so the deployed app and the offline replay decide alike.

A careless parameter never breaks the app
-----------------------------------------
The template's patterns cannot refuse everything the code refuses (``10.0.0.0/7``,
``203.0.113.300``, port ``99999``, ``Asia/Seol``), and one exception in a settings load
would stop every workflow of that function: no email, no remediation. So user
parameters are read leniently, each one in the direction that fails safe, and every
entry dropped or replaced becomes a short human line in ``warnings`` (logged once per
cold start, since handlers build their settings once; carried in every alert):

- An allowlist entry that cannot be read is skipped: the list gets *narrower*, which is
  the safe side. ``AllowedPublicPorts`` then allows fewer ports (more rules revoked),
  ``TrustedAccountIds`` trusts fewer accounts (more shares removed),
  ``ExemptSecurityGroupIds`` exempts fewer groups, ``ProtectedIpCidrs`` protects fewer
  addresses (fewer entries removed from a WAF IP set: the app changes less).
- ``ApproverCidrs`` is the exception: empty means "anyone with the link may decide", so
  narrowing it to nothing would open it. When it was set but no entry is usable,
  ``approver_cidrs_invalid`` is true and nobody may decide (the page answers 403 and
  says the setting is invalid) until it is fixed; requests then expire, changing nothing.
- An unknown ``TimeZone`` shows times in UTC; an unknown ``Language`` writes English; an
  unknown Mode only alerts (tells, changes nothing); an unusable
  ``ApprovalTimeoutSeconds`` takes the default.

Internal knobs the template sets itself (``DEDUPE_TTL_SECONDS``, Discord timeouts,
retention...) still raise: a bad one is a bug in the template, not a careless entry.
Warnings quote at most :data:`_SHOWN` characters of the entry; parameters hold no
secrets (the Discord webhook lives in Secrets Manager and is never read here).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from trailwarden.models.errors import InvalidEvent
from trailwarden.models.modes import Mode

if TYPE_CHECKING:
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

    from aws_lambda_powertools import Logger

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _logger() -> Logger:
    """This module's Powertools child logger, made on first use: replay never logs here,
    and importing Powertools is ~20 ms of its start-up."""
    from aws_lambda_powertools import Logger

    return Logger(child=True)


# Template Parameter -> environment variable (each function gets the ones it reads):
# these, the parameters a workflow owns and every workflow's Mode (its declaration).
_SHARED_PARAMETER_ENV: dict[str, str] = {
    "TrustedAccountIds": "TRUSTED_ACCOUNT_IDS",
    "AllowedPublicPorts": "ALLOWED_PUBLIC_PORTS",
    "ExemptSecurityGroupIds": "EXEMPT_SECURITY_GROUP_IDS",
    "ApprovalTimeoutSeconds": "APPROVAL_TIMEOUT_SECONDS",
    "Language": "LANGUAGE",
    "TimeZone": "TIME_ZONE",
    # Organisation mode (issue #14). OrganizationId is not read at run time: the hub
    # bus's policy and the member role's trust enforce it.
    "DeploymentMode": "DEPLOYMENT_MODE",
    "MemberRoleName": "MEMBER_ROLE_NAME",
    "MemberExternalId": "MEMBER_EXTERNAL_ID",
    "ExcludedAccountIds": "EXCLUDED_ACCOUNT_IDS",
}
PARAMETER_ENV: dict[str, str]
# workflow id -> (Mode parameter name, default mode)
MODE_PARAMETERS: dict[str, tuple[str, Mode]]


@cache
def parameter_env() -> dict[str, str]:
    from trailwarden.workflows.registry import declarations

    return {
        **_SHARED_PARAMETER_ENV,
        **{p.name: p.env for d in declarations() for p in d.parameters if p.env},
        **{d.mode.name: d.mode_env for d in declarations()},
    }


@cache
def mode_parameters() -> dict[str, tuple[str, Mode]]:
    """Read on first use: a function that reads no Mode (notify, report, approvals) never
    imports the workflow declarations on its cold start."""
    from trailwarden.workflows.registry import declarations

    return {d.id: (d.mode.name, d.mode.default) for d in declarations()}


def __getattr__(name: str) -> object:
    if name == "PARAMETER_ENV":
        return parameter_env()
    if name == "MODE_PARAMETERS":
        return mode_parameters()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mode_env_var(workflow: str) -> str:
    """Environment variable that carries a workflow's Mode, e.g. MODE_AMI_EXPOSURE."""
    return "MODE_" + workflow.upper().replace("-", "_")


DEDUPE_MIN_SECONDS = 24 * 3600
LANGUAGES = ("en", "ko")
DEFAULT_TIME_ZONE = "Asia/Seoul"
FALLBACK_TIME_ZONE = "UTC"
_SHOWN = 40  # characters of a bad entry quoted in a warning


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a CommaDelimitedList-style value; blanks are dropped."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _shown(entry: str) -> str:
    return repr(entry if len(entry) <= _SHOWN else entry[:_SHOWN] + "...")


def log_warnings(warnings: list[str]) -> tuple[str, ...]:
    """Log each warning (settings are built once per cold start) and freeze the list."""
    for warning in warnings:
        _logger().warning("settings warning", extra={"warning": warning})
    return tuple(warnings)


# The key under which Assess hands its warnings to the later states of an execution.
STATE_WARNINGS_KEY = "settingsWarnings"
_MAX_STATE_WARNINGS = 20


def merge_warnings(*groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The warnings of several settings objects, in order, each once."""
    return tuple(dict.fromkeys(warning for group in groups for warning in group))


def state_warnings(state: object) -> tuple[str, ...]:
    """The warnings an earlier state (Assess) put in the execution's document."""
    raw = state.get(STATE_WARNINGS_KEY) if isinstance(state, dict) else None
    if not isinstance(raw, list):
        return ()
    return tuple(str(w)[: _SHOWN * 4] for w in raw[:_MAX_STATE_WARNINGS] if isinstance(w, str))


def _ports(value: str | None, warnings: list[str]) -> frozenset[int]:
    ports: set[int] = set()
    for part in split_list(value):
        if part.isascii() and part.isdigit() and int(part) <= 65535:
            ports.add(int(part))
        else:
            warnings.append(f"AllowedPublicPorts: skipped {_shown(part)} (not a port number)")
    return frozenset(ports)


# Narrower than this is a typo, not a policy: "203.0.113.10/0" would make every address
# "protected" (so approved removals could empty an IP set) or every caller an approver.
_MIN_PREFIX = {4: 8, 6: 32}


def _networks(value: str | None, parameter: str, warnings: list[str]) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for part in split_list(value):
        try:
            if "%" in part:  # an IPv6 scope (zone) id: never in a WAF IP set
                raise ValueError(part)
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            warnings.append(f"{parameter}: skipped {_shown(part)} (not an IP address or CIDR)")
            continue
        if network.prefixlen < _MIN_PREFIX[network.version]:
            warnings.append(
                f"{parameter}: skipped {_shown(part)} (wider than /{_MIN_PREFIX[network.version]})"
            )
            continue
        networks.append(network)
    return tuple(networks)


def _matching(
    value: str | None, pattern: str, parameter: str, warnings: list[str]
) -> frozenset[str]:
    kept: set[str] = set()
    for part in split_list(value):
        if re.fullmatch(pattern, part):
            kept.add(part)
        else:
            warnings.append(f"{parameter}: skipped {_shown(part)} (not a valid id)")
    return frozenset(kept)


_MODE_VALUES = frozenset(mode.value for mode in Mode)

ORGANIZATION = "organization"  # DeploymentMode value; a TrustedAccountIds entry
DEFAULT_MEMBER_ROLE_NAME = "trailwarden-member"


def _organization_mode(env: Mapping[str, str], warnings: list[str]) -> bool:
    """DEPLOYMENT_MODE: ``organization`` or (default) ``account``. Anything else is read
    as ``account`` with a warning (the template's AllowedValues refuses it anyway)."""
    raw = env.get("DEPLOYMENT_MODE", "") or "account"
    if raw not in ("account", ORGANIZATION):
        warnings.append(f"DeploymentMode: {_shown(raw)} is not account or organization; account")
    return raw == ORGANIZATION


def _trusted_accounts(
    value: str | None, organization_mode: bool, warnings: list[str]
) -> tuple[frozenset[str], bool]:
    """TrustedAccountIds: 12-digit ids, and the word ``organization`` (every account of
    the organisation; organisation mode only, read live by the handler)."""
    entries = split_list(value)
    words = [e for e in entries if e.lower() == ORGANIZATION]
    ids = _matching(
        ",".join(e for e in entries if e.lower() != ORGANIZATION),
        r"[0-9]{12}",
        "TrustedAccountIds",
        warnings,
    )
    if words and not organization_mode:
        warnings.append(
            "TrustedAccountIds: skipped 'organization' (only with DeploymentMode=organization)"
        )
    return ids, bool(words) and organization_mode


def _modes(env: Mapping[str, str], warnings: list[str]) -> dict[str, Mode]:
    modes = {}
    for workflow, (param, default) in mode_parameters().items():
        raw = env.get(mode_env_var(workflow), "")
        if not raw:
            modes[workflow] = default
        elif raw in _MODE_VALUES:
            modes[workflow] = Mode(raw)
        else:
            warnings.append(f"{param}: {_shown(raw)} is not a mode; only alerting")
            modes[workflow] = Mode.ALERT
    return modes


@dataclass(frozen=True)
class DetectionSettings:
    """Everything a pure detection needs. No clients, no secrets."""

    trusted_account_ids: frozenset[str] = frozenset()
    # TrustedAccountIds named "organization": the handler adds the organisation's
    # accounts (Organizations ListAccounts) to trusted_account_ids before deciding.
    trust_organization: bool = False
    # DeploymentMode=organization: incident keys carry the account (account#eventID).
    organization_mode: bool = False
    # Accounts the app never acts in: their events are alerted only (decide).
    excluded_account_ids: frozenset[str] = frozenset()
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
    # Careless entries skipped or replaced while reading the parameters (module docstring).
    warnings: tuple[str, ...] = ()

    def mode(self, workflow: str) -> Mode:
        return self.modes.get(workflow, mode_parameters()[workflow][1])

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DetectionSettings:
        """Never raises for a careless user parameter (module docstring)."""
        warnings: list[str] = []
        organization_mode = _organization_mode(env, warnings)
        trusted, trust_organization = _trusted_accounts(
            env.get("TRUSTED_ACCOUNT_IDS"), organization_mode, warnings
        )
        return cls(
            trusted_account_ids=trusted,
            trust_organization=trust_organization,
            organization_mode=organization_mode,
            excluded_account_ids=_matching(
                env.get("EXCLUDED_ACCOUNT_IDS"), r"[0-9]{12}", "ExcludedAccountIds", warnings
            ),
            own_role_arns=frozenset(split_list(env.get("OWN_ROLE_ARNS"))),
            modes=_modes(env, warnings),
            allowed_public_ports=_ports(env.get("ALLOWED_PUBLIC_PORTS", "80,443"), warnings),
            exempt_security_group_ids=_matching(
                env.get("EXEMPT_SECURITY_GROUP_IDS"),
                r"sg-[0-9a-f]{8,17}",
                "ExemptSecurityGroupIds",
                warnings,
            ),
            protected_ip_cidrs=_networks(
                env.get("PROTECTED_IP_CIDRS"), "ProtectedIpCidrs", warnings
            ),
            key_pair_config_rule_name=env.get("KEY_PAIR_CONFIG_RULE_NAME", ""),
            app_resource_names=frozenset(split_list(env.get("APP_RESOURCE_NAMES"))),
            verify_timeout_seconds=float(env.get("VERIFY_TIMEOUT_SECONDS", "20")),
            verify_poll_seconds=float(env.get("VERIFY_POLL_SECONDS", "1")),
            lock_retry_attempts=int(env.get("LOCK_RETRY_ATTEMPTS", "5")),
            lock_retry_base_seconds=float(env.get("LOCK_RETRY_BASE_SECONDS", "0.5")),
            warnings=log_warnings(warnings),
        )


@dataclass(frozen=True)
class MemberSettings:
    """How a hub function reaches member accounts (organisation mode)."""

    organization_mode: bool = False
    role_name: str = DEFAULT_MEMBER_ROLE_NAME
    external_id: str = ""
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MemberSettings:
        """A role name or ExternalId STS would refuse is replaced (the default name) or
        dropped, with a warning: the AssumeRole then fails as MemberUnreachable, which
        alerts, instead of every event crashing on a settings load."""
        warnings: list[str] = []
        organization_mode = _organization_mode(env, warnings)
        role_name = env.get("MEMBER_ROLE_NAME", "") or DEFAULT_MEMBER_ROLE_NAME
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", role_name, re.ASCII):
            warnings.append(
                f"MemberRoleName: {_shown(role_name)} is not a role name; "
                f"using {DEFAULT_MEMBER_ROLE_NAME}"
            )
            role_name = DEFAULT_MEMBER_ROLE_NAME
        external_id = env.get("MEMBER_EXTERNAL_ID", "")
        if external_id and not re.fullmatch(r"[\w+=,.@:/-]{2,256}", external_id, re.ASCII):
            # never quoted: it is kept out of outputs
            warnings.append("MemberExternalId: not a valid ExternalId; assuming without one")
            external_id = ""
        if organization_mode and not external_id:
            warnings.append("MemberExternalId: empty; member roles will refuse the hub")
        return cls(
            organization_mode=organization_mode,
            role_name=role_name,
            external_id=external_id,
            warnings=log_warnings(warnings) if organization_mode else (),
        )


def _zone(name: str) -> ZoneInfo | None:
    # zoneinfo (with sysconfig) only where a time is shown: not on every cold start.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, malformed, a directory
        return None


@dataclass(frozen=True)
class NotifySettings:
    language: str = "en"
    time_zone: str = DEFAULT_TIME_ZONE
    topic_arn: str = ""
    discord_secret_name: str = ""
    slack_secret_name: str = ""
    teams_secret_name: str = ""
    security_hub_findings: bool = False  # SecurityHubFindings on|off
    # Every webhook (Discord, Slack, Teams) gets at most this long from the start of its
    # send, within the invocation's deadline: one that hangs cannot eat the others' time.
    webhook_budget_seconds: float = 15.0
    # Every webhook transport (Discord, Slack, Teams, the Discord bot API). Worst case
    # 3 x 5 s + 2 waits of at most 8 s, cut at the webhook's budget.
    webhook_max_attempts: int = 3
    webhook_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_retry_after_seconds: float = 8.0
    secret_max_age_seconds: int = 300
    # Shown in every message this function sends: its own careless entries plus those of
    # the other settings the function (or an earlier state) read.
    warnings: tuple[str, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        from zoneinfo import ZoneInfo

        return _zone(self.time_zone) or ZoneInfo(FALLBACK_TIME_ZONE)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifySettings:
        """An unknown Language writes English, an unknown TimeZone shows UTC, an unknown
        SecurityHubFindings sends nothing to Security Hub (each with a warning)."""
        warnings: list[str] = []
        language = env.get("LANGUAGE") or "en"
        if language not in LANGUAGES:
            warnings.append(f"Language: {_shown(language)} is not en or ko; writing English")
            language = "en"
        time_zone = env.get("TIME_ZONE") or DEFAULT_TIME_ZONE
        if _zone(time_zone) is None:
            warnings.append(
                f"TimeZone: {_shown(time_zone)} is not a known time zone; times are in UTC"
            )
            time_zone = FALLBACK_TIME_ZONE
        security_hub = (env.get("SECURITY_HUB_FINDINGS") or "off").strip().lower()
        if security_hub not in ("on", "off"):
            warnings.append(
                f"SecurityHubFindings: {_shown(security_hub)} is not on or off; "
                "no findings are sent to Security Hub"
            )
        return cls(
            language=language,
            time_zone=time_zone,
            topic_arn=env.get("TOPIC_ARN", ""),
            discord_secret_name=env.get("DISCORD_WEBHOOK_SECRET_NAME", ""),
            slack_secret_name=env.get("SLACK_WEBHOOK_SECRET_NAME", ""),
            teams_secret_name=env.get("TEAMS_WEBHOOK_SECRET_NAME", ""),
            security_hub_findings=security_hub == "on",
            webhook_budget_seconds=float(env.get("WEBHOOK_BUDGET_SECONDS", "15.0")),
            webhook_max_attempts=int(env.get("WEBHOOK_MAX_ATTEMPTS", "3")),
            webhook_backoff_seconds=float(env.get("WEBHOOK_BACKOFF_SECONDS", "1.0")),
            webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS", "5.0")),
            secret_max_age_seconds=int(env.get("SECRET_MAX_AGE_SECONDS", "300")),
            warnings=log_warnings(warnings),
        )


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


def approval_timeout(env: Mapping[str, str], warnings: list[str] | None = None) -> int:
    """APPROVAL_TIMEOUT_SECONDS (the ApprovalTimeoutSeconds parameter): a positive int.

    Anything else takes the default, with a line in ``warnings``."""
    raw = env.get("APPROVAL_TIMEOUT_SECONDS", "") or str(APPROVAL_TIMEOUT_DEFAULT)
    if raw.isascii() and raw.isdigit() and int(raw) > 0:
        return int(raw)
    if warnings is not None:
        warnings.append(
            f"ApprovalTimeoutSeconds: {_shown(raw)} is not a positive number of seconds; "
            f"using {APPROVAL_TIMEOUT_DEFAULT}"
        )
    return APPROVAL_TIMEOUT_DEFAULT


@dataclass(frozen=True)
class ApprovalSettings:
    """The approval request function and the approval endpoint."""

    table: str
    base_url: str = ""  # https://<api>.execute-api.<region>.amazonaws.com (no trailing /)
    timeout_seconds: int = APPROVAL_TIMEOUT_DEFAULT
    approver_cidrs: tuple[IpNetwork, ...] = ()  # empty: anyone with the link may decide
    # ApproverCidrs was set but no entry of it is usable: nobody may decide (never "anyone").
    approver_cidrs_invalid: bool = False
    # How long a decided or expired request stays readable ("already approved at ...")
    # before DynamoDB's TTL deletes it.
    retention_seconds: int = 7 * 24 * 3600
    warnings: tuple[str, ...] = ()
    # Approve in Discord (DiscordApplicationSecretName): the secret's name, and who may
    # click (ApproverDiscordUserIds / ApproverDiscordRoleIds; both empty: nobody).
    discord_app_secret_name: str = ""
    approver_discord_user_ids: tuple[str, ...] = ()
    approver_discord_role_ids: tuple[str, ...] = ()
    resume_function: str = ""  # the Discord resume function's ARN (asynchronous invoke)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApprovalSettings:
        """Never raises for a careless ApproverCidrs or ApprovalTimeoutSeconds."""
        warnings: list[str] = []
        configured = split_list(env.get("APPROVER_CIDRS"))
        approvers = _networks(env.get("APPROVER_CIDRS"), "ApproverCidrs", warnings)
        invalid = bool(configured) and not approvers
        if invalid:
            warnings.append("ApproverCidrs: no usable entry; nobody may decide approvals")
        return cls(
            table=env.get("APPROVALS_TABLE", ""),
            base_url=env.get("APPROVAL_BASE_URL", "").rstrip("/"),
            timeout_seconds=approval_timeout(env, warnings),
            approver_cidrs=approvers,
            approver_cidrs_invalid=invalid,
            retention_seconds=int(env.get("APPROVAL_RETENTION_SECONDS", str(7 * 24 * 3600))),
            warnings=log_warnings(warnings),
            discord_app_secret_name=env.get("DISCORD_APPLICATION_SECRET_NAME", ""),
            approver_discord_user_ids=split_list(env.get("APPROVER_DISCORD_USER_IDS")),
            approver_discord_role_ids=split_list(env.get("APPROVER_DISCORD_ROLE_IDS")),
            resume_function=env.get("DISCORD_RESUME_FUNCTION", ""),
        )


def require_workflow(env: Mapping[str, str]) -> str:
    workflow = env.get("WORKFLOW", "")
    if workflow not in mode_parameters():
        raise InvalidEvent(f"WORKFLOW {workflow!r} is not a known workflow id")
    return workflow
