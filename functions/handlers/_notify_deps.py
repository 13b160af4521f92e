"""Notification dependencies shared by every function that tells: the sinks the settings
choose (email, Discord, Slack, Teams, Security Hub, in that order)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from trailwarden.dal.clients import make_client
from trailwarden.models.settings import NotifySettings, merge_warnings, state_warnings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from trailwarden.models.findings import Finding
    from trailwarden.notify.sinks import Sink
    from trailwarden.notify.webhook import WebhookTransport

# The order sinks are delivered in (the report's keys keep SINK_NAMES' order): people
# first; Security Hub last, as its AWS calls (and AssumeRole in organisation mode) are
# the slowest to give up.
DELIVERY_ORDER = ("email", "discord", "slack", "teams", "securityhub")

# Kept free at the end of an invocation for what follows the webhook sends (the result,
# logs, metrics): webhooks are cut this long before Lambda would kill the function.
END_MARGIN_SECONDS = 3.0


def send_deadline(context: Any, clock: Callable[[], float] = time.monotonic) -> float | None:
    """The ``clock()`` time by which notifications must be done: the invocation's
    remaining time minus a margin. None when the context cannot say (no deadline)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return clock() + float(remaining()) / 1000.0 - END_MARGIN_SECONDS


@dataclass(frozen=True)
class NotifyDeps:
    settings: NotifySettings
    sns: Any
    secrets: SecretsProvider | None
    # Security Hub (SecurityHubFindings=on): the client acting in the finding's account
    # and region, with the account it signs as (handlers._reach.Reach.security_hub_for).
    securityhub_client_for: Callable[[Finding], Any] | None = None

    def with_state_warnings(self, state: Any) -> NotifySettings:
        """These settings carrying, first, the warnings an earlier state (Assess) found."""
        return replace(
            self.settings, warnings=merge_warnings(state_warnings(state), self.settings.warnings)
        )

    def sinks(
        self, deadline: float | None = None, *, without: frozenset[str] = frozenset()
    ) -> list[Sink]:
        """The configured sinks: email, Discord, Slack, Teams, Security Hub (the people
        first, so a sink that hangs to the end of its budget costs only itself; Security
        Hub last, and skipped once ``deadline`` has passed).

        A webhook whose secret is deleted or unreadable, or holds a malformed URL, becomes
        a sink that fails with the reason (never the URL): the others still deliver.
        ``deadline`` (time.monotonic, see :func:`send_deadline`) caps every webhook send;
        each also has its own budget (``webhook_budget_seconds``). ``without``: sinks
        not to set up (approval requests posted by the Discord application)."""
        s = self.settings
        wanted = {
            "email": bool(s.topic_arn),
            "discord": bool(s.discord_secret_name),
            "securityhub": s.security_hub_findings,
            "slack": bool(s.slack_secret_name),
            "teams": bool(s.teams_secret_name),
        }
        found: list[Sink] = []
        for name in DELIVERY_ORDER:
            if not wanted[name] or name in without:
                continue
            if name == "email":
                from trailwarden.notify.email import EmailSink

                found.append(EmailSink(self.sns, s.topic_arn))
            elif name == "securityhub":
                found.append(self._securityhub_sink(deadline))
            else:
                found.append(self._webhook_sink(name, deadline))
        return found

    def _webhook_sink(self, name: str, deadline: float | None) -> Sink:
        # Only with a webhook configured (as the Parameters import in build_notify_deps).
        from trailwarden.notify.service import webhook_url_from_secret
        from trailwarden.notify.sinks import UnavailableSink

        platform = _PLATFORMS[name]
        secret_name = {
            "discord": self.settings.discord_secret_name,
            "slack": self.settings.slack_secret_name,
            "teams": self.settings.teams_secret_name,
        }[name]
        try:
            if self.secrets is None:  # build_notify_deps gives one whenever a name is set
                raise LookupError("no secrets provider")
            secret = self.secrets.get(secret_name, max_age=self.settings.secret_max_age_seconds)
            url = webhook_url_from_secret(str(secret), platform)
            return _make_sink(name, self._transport(name, url, deadline))
        except Exception as err:
            return UnavailableSink(name, f"{platform} webhook unavailable: {type(err).__name__}")

    def _transport(self, name: str, url: str, deadline: float | None) -> WebhookTransport:
        s = self.settings
        kwargs: dict[str, Any] = {
            "timeout": s.webhook_timeout_seconds,
            "max_attempts": s.webhook_max_attempts,
            "backoff_seconds": s.webhook_backoff_seconds,
            "max_retry_after": s.webhook_max_retry_after_seconds,
            "deadline": deadline,
            "budget": s.webhook_budget_seconds,
        }
        if name == "discord":
            from trailwarden.notify.discord import DiscordWebhook

            return DiscordWebhook(url, **kwargs)
        from trailwarden.notify.webhook import SlackWebhook, TeamsWebhook

        return (SlackWebhook if name == "slack" else TeamsWebhook)(url, **kwargs)

    def _securityhub_sink(self, deadline: float | None) -> Sink:
        """Imported here, and only when on: the module may be missing (then the sink is
        unavailable with that reason) and no function without it loads it."""
        from trailwarden.notify.sinks import UnavailableSink

        try:
            from trailwarden.notify.securityhub import SecurityHubSink

            if self.securityhub_client_for is None:
                raise LookupError("no Security Hub client")
            sink: Sink = SecurityHubSink(self.securityhub_client_for, deadline=deadline)
        except Exception as err:
            return UnavailableSink("securityhub", f"Security Hub unavailable: {type(err).__name__}")
        return sink


_PLATFORMS = {"discord": "Discord", "slack": "Slack", "teams": "Teams"}


def _make_sink(name: str, transport: WebhookTransport) -> Sink:
    if name == "discord":
        from trailwarden.notify.embeds import DiscordSink

        return DiscordSink(transport)
    if name == "slack":
        from trailwarden.notify.slack import SlackSink

        return SlackSink(transport)
    from trailwarden.notify.teams import TeamsSink

    return TeamsSink(transport)


def build_notify_deps(
    env: Mapping[str, str],
    other_warnings: tuple[str, ...] = (),
    securityhub_client_for: Callable[[Finding], Any] | None = None,
) -> NotifyDeps:
    """``other_warnings``: those of the function's other settings, shown in its messages.
    ``securityhub_client_for``: the function's Reach.security_hub_for when it has one
    (else one is built from ``env``, only with SecurityHubFindings on)."""
    settings = NotifySettings.from_env(env)
    settings = replace(settings, warnings=merge_warnings(other_warnings, settings.warnings))
    if settings.security_hub_findings and securityhub_client_for is None:
        # Only with Security Hub on: organisation mode's member roles cost imports.
        from handlers._reach import build_reach
        from trailwarden.dal.clients import client_cache

        reach = build_reach(env, client_cache())
        securityhub_client_for = reach.security_hub_for
        settings = replace(settings, warnings=merge_warnings(settings.warnings, reach.warnings))
    secrets = None
    if settings.discord_secret_name or settings.slack_secret_name or settings.teams_secret_name:
        # Only with a webhook configured: Powertools Parameters imports every provider.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        secrets = SecretsProvider(boto3_client=make_client("secretsmanager"))
    return NotifyDeps(
        settings=settings,
        sns=make_client("sns"),
        secrets=secrets,
        securityhub_client_for=securityhub_client_for,
    )
