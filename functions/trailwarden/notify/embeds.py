"""Discord webhook payload for a Message: one embed, severity colour, nobody pinged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden.notify.sinks import Limits
from trailwarden.notify.text import LIMITS, clamp_message, neutralize

if TYPE_CHECKING:
    from trailwarden.notify.messages import Message
    from trailwarden.notify.service import Webhook
    from trailwarden.notify.sinks import Notice


def discord_payload(message: Message) -> dict[str, Any]:
    """Every string from the event is neutralised; ``clamp_message`` cuts the payload to
    Discord's limits (the transport clamps again and forces ``allowed_mentions``)."""
    # Our own links (approval pages) go last, unescaped; room is kept for them so a long
    # alert can never push the approval link out of the embed.
    room = LIMITS["fields"] - len(message.links)
    fields = [
        {"name": neutralize(name), "value": neutralize(value), "inline": False}
        for name, value in message.fields[:room]
    ]
    fields += [{"name": label, "value": url, "inline": False} for label, url in message.links]
    embed: dict[str, Any] = {
        "title": neutralize(message.title),
        "description": neutralize(message.summary),
        "color": message.colour,
        "fields": fields,
        "footer": {"text": neutralize(message.footer)},
    }
    return clamp_message(
        {
            "username": "trailwarden",
            "content": "",
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }
    )


class DiscordSink:
    """A Discord webhook: one embed (``discord_payload``), posted by the shared transport
    (:class:`trailwarden.notify.discord.DiscordWebhook`)."""

    name = "discord"
    tells_people = True
    limits = Limits(
        title=LIMITS["title"],
        text=LIMITS["field_value"],
        fields=LIMITS["fields"],
        total=LIMITS["embeds_total"],
    )

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook

    def __repr__(self) -> str:
        return "DiscordSink()"

    def render(self, notice: Notice) -> dict[str, Any]:
        return discord_payload(notice.message)

    def deliver(self, rendered: dict[str, Any]) -> str:
        self.webhook.post(rendered)
        return "sent"
