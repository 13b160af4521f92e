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


def _networks(value: str | None) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in split_list(value))


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
        )


@dataclass(frozen=True)
class NotifySettings:
    language: str = "en"
    time_zone: str = "Asia/Seoul"
    topic_arn: str = ""
    discord_secret_name: str = ""
    discord_max_attempts: int = 4
    discord_backoff_seconds: float = 1.0
    discord_timeout_seconds: float = 5.0
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
            discord_max_attempts=int(env.get("DISCORD_MAX_ATTEMPTS", "4")),
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


def require_workflow(env: Mapping[str, str]) -> str:
    workflow = env.get("WORKFLOW", "")
    if workflow not in MODE_PARAMETERS:
        raise InvalidEvent(f"WORKFLOW {workflow!r} is not a known workflow id")
    return workflow
