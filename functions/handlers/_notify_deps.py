"""Notification dependencies shared by the notify and report handlers."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from trailwarden.dal.clients import make_client
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.settings import NotifySettings, merge_warnings, state_warnings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from trailwarden.notify.service import Webhook

# Kept free at the end of an invocation for what follows the Discord send (the result,
# logs, metrics): Discord is cut this long before Lambda would kill the function.
END_MARGIN_SECONDS = 3.0


def send_deadline(context: Any, clock: Callable[[], float] = time.monotonic) -> float | None:
    """The ``clock()`` time by which notifications must be done: the invocation's
    remaining time minus a margin. None when the context cannot say (no deadline)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return clock() + float(remaining()) / 1000.0 - END_MARGIN_SECONDS


@dataclass(frozen=True)
class UnavailableWebhook:
    """Stands in when the webhook could not be set up: email still goes out, and the
    delivery report says why Discord did not."""

    reason: str

    def post(self, payload: dict[str, Any]) -> Any:
        raise NotificationFailed(self.reason)


@dataclass(frozen=True)
class NotifyDeps:
    settings: NotifySettings
    sns: Any
    secrets: SecretsProvider | None

    def with_state_warnings(self, state: Any) -> NotifySettings:
        """These settings carrying, first, the warnings an earlier state (Assess) found."""
        return replace(
            self.settings, warnings=merge_warnings(state_warnings(state), self.settings.warnings)
        )

    def discord(self, deadline: float | None = None) -> Webhook | None:
        """Fetched per call through the Parameters cache (max_age), never logged.

        A deleted or unreadable secret, or a malformed URL, must not stop the email:
        it becomes a webhook that fails with the reason (never the URL). ``deadline``
        (time.monotonic, see :func:`send_deadline`) caps the whole Discord send.
        """
        if self.secrets is None or not self.settings.discord_secret_name:
            return None
        # Only with Discord configured (as the Parameters import below).
        from trailwarden.notify.discord import DiscordWebhook
        from trailwarden.notify.service import webhook_url_from_secret

        try:
            secret = self.secrets.get(
                self.settings.discord_secret_name, max_age=self.settings.secret_max_age_seconds
            )
            return DiscordWebhook(
                webhook_url_from_secret(str(secret)),
                timeout=self.settings.discord_timeout_seconds,
                max_attempts=self.settings.discord_max_attempts,
                backoff_seconds=self.settings.discord_backoff_seconds,
                max_retry_after=self.settings.discord_max_retry_after_seconds,
                deadline=deadline,
            )
        except Exception as err:
            return UnavailableWebhook(f"Discord webhook unavailable: {type(err).__name__}")


def build_notify_deps(env: Mapping[str, str], other_warnings: tuple[str, ...] = ()) -> NotifyDeps:
    """``other_warnings``: those of the function's other settings, shown in its messages."""
    settings = NotifySettings.from_env(env)
    settings = replace(settings, warnings=merge_warnings(other_warnings, settings.warnings))
    secrets = None
    if settings.discord_secret_name:
        # Only with Discord configured: Powertools Parameters imports every provider.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        secrets = SecretsProvider(boto3_client=make_client("secretsmanager"))
    return NotifyDeps(settings=settings, sns=make_client("sns"), secrets=secrets)
