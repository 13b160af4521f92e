"""Discord webhook payload for a Message: one embed, severity colour, nobody pinged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden.notify.text import LIMITS, neutralize, truncate

if TYPE_CHECKING:
    from trailwarden.notify.messages import Message


def discord_payload(message: Message) -> dict[str, Any]:
    """Every string is neutralised (it may come from the event) and cut to Discord's limits.

    The transport clamps the whole payload again and forces ``allowed_mentions``.
    """
    fields = [
        {
            "name": truncate(neutralize(name), LIMITS["field_name"]) or "-",
            "value": truncate(neutralize(value), LIMITS["field_value"]) or "-",
            "inline": False,
        }
        for name, value in message.fields[: LIMITS["fields"]]
    ]
    # Links are ours (approval pages); they go in a field of their own, unescaped.
    fields += [
        {"name": truncate(label, LIMITS["field_name"]), "value": url, "inline": False}
        for label, url in message.links
    ]
    embed: dict[str, Any] = {
        "title": truncate(neutralize(message.title), LIMITS["title"]),
        "description": truncate(neutralize(message.summary), LIMITS["description"]),
        "color": message.colour,
        "fields": fields[: LIMITS["fields"]],
        "footer": {"text": truncate(neutralize(message.footer), LIMITS["footer"])},
    }
    return {
        "username": "trailwarden",
        "content": "",
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
