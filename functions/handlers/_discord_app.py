"""The Discord application (approve in Discord): its secret, and its bot's HTTP calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailwarden.approvals.discord_app import DiscordApplication
from trailwarden.models.errors import NotificationFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from trailwarden.models.settings import NotifySettings
    from trailwarden.notify.discord import DiscordWebhook


@dataclass(frozen=True)
class DiscordAppDeps:
    """Reads the application secret through the Parameters cache (``max_age``)."""

    secrets: SecretsProvider
    secret_name: str
    notify: NotifySettings

    def application(self) -> DiscordApplication:
        try:
            raw = self.secrets.get(self.secret_name, max_age=self.notify.secret_max_age_seconds)
        except Exception as err:  # Powertools wraps every cause; never echo the secret
            reason = f"Discord application secret unavailable: {type(err).__name__}"
            raise NotificationFailed(reason) from None
        return DiscordApplication.from_secret(str(raw))

    def _transport(self, url: str, deadline: float | None, **kwargs: Any) -> DiscordWebhook:
        # Only the functions that post (not the interactions function, which only verifies).
        from trailwarden.notify.discord import DiscordWebhook

        n = self.notify
        return DiscordWebhook(
            url,
            timeout=n.webhook_timeout_seconds,
            max_attempts=n.webhook_max_attempts,
            backoff_seconds=n.webhook_backoff_seconds,
            max_retry_after=n.webhook_max_retry_after_seconds,
            deadline=deadline,
            wait=False,
            **kwargs,
        )

    def bot(self, deadline: float | None = None) -> DiscordWebhook:
        """Create Message in the approvals channel, as the bot."""
        app = self.application()
        return self._transport(app.messages_url, deadline, authorization=f"Bot {app.bot_token}")

    def edit_original(
        self, interaction_token: str, body: dict[str, Any], deadline: float | None = None
    ) -> Any:
        """Edit the clicked message (the interaction token authorises it: no bot token)."""
        app = self.application()
        url = app.original_message_url(interaction_token)
        return self._transport(url, deadline, method="PATCH").post(body)
