"""Discord's side of an application, for the demo and tests: the key pair, the secret,
and signed interactions sent over real HTTP to the locally served endpoint.

Discord holds the application's Ed25519 private key and signs ``timestamp + body`` of
every interaction it POSTs to the Interactions Endpoint URL; the app only knows the
public key (from its secret). :class:`DiscordApplicationStandIn` generates a fresh key
pair, writes the secret the template's DiscordApplicationSecretName names (pointing the
bot API at a :class:`~trailwarden_local.discord_standin.DiscordStandIn`), and clicks buttons.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

if TYPE_CHECKING:
    from trailwarden_local.discord_standin import DiscordStandIn, SinkRequest

APPLICATION_ID = "500000000000000005"
CHANNEL_ID = "100000000000000001"
GUILD_ID = "700000000000000007"
APPROVER_ID = "200000000000000001"
APPROVER_NAME = "Alice Kim (demo approver)"
STRANGER_ID = "300000000000000009"
_BOT_MESSAGES = re.compile(r"/channels/[0-9]+/messages$")


@dataclass
class Click:
    status: int
    body: Any


@dataclass
class DiscordApplicationStandIn:
    sink: DiscordStandIn
    key: SigningKey = field(default_factory=SigningKey.generate)
    timeout: float = 10.0
    _sequence: int = 0

    def secret(self) -> str:
        return json.dumps(
            {
                "public_key": self.key.verify_key.encode().hex(),
                "bot_token": self.sink.bot_token,
                "channel_id": CHANNEL_ID,
                "application_id": APPLICATION_ID,
                "api_base_url": self.sink.api_base_url,
            }
        )

    # ------------------------------------------------------------------ reading Discord

    def bot_messages(self, seen: int = 0) -> list[SinkRequest]:
        return [
            r
            for r in self.sink.requests[seen:]
            if r.method == "POST" and _BOT_MESSAGES.search(r.path)
        ]

    def edits(self, seen: int = 0) -> list[SinkRequest]:
        return [r for r in self.sink.requests[seen:] if r.method == "PATCH"]

    def wait_for_buttons(self, seen: int, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for request in self.bot_messages(seen):
                if isinstance(request.json, dict) and request.json.get("components"):
                    return dict(request.json)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no message with buttons reached Discord within {timeout}s")
            time.sleep(0.02)

    @staticmethod
    def custom_id(message: dict[str, Any], action: str) -> str:
        for row in message.get("components", []):
            for button in row.get("components", []):
                if str(button.get("custom_id", "")).startswith(f"tw:{action}:"):
                    return str(button["custom_id"])
        raise KeyError(action)

    # ------------------------------------------------------------------ clicking

    def interaction(self, custom_id: str, user_id: str, name: str) -> bytes:
        self._sequence += 1
        return json.dumps(
            {
                "type": 3,
                "id": str(600000000000000000 + self._sequence),
                "application_id": APPLICATION_ID,
                "token": f"local-interaction-token-{self._sequence}-" + "x" * 40,
                "version": 1,
                "channel_id": CHANNEL_ID,
                "guild_id": GUILD_ID,
                "member": {
                    "user": {"id": user_id, "username": "demo", "global_name": name},
                    "roles": [],
                },
                "data": {"component_type": 2, "custom_id": custom_id},
            }
        ).encode()

    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Click:
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
        for name, value in {
            **headers,
            "Content-Type": "application/json",
            "User-Agent": "Discord-Interactions/1.0 (+https://discord.com)",
        }.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return Click(status, parsed)

    def click(self, url: str, custom_id: str, user_id: str, name: str) -> tuple[Click, bytes]:
        """Sign and send; returns the answer and the exact body (for a replay)."""
        body = self.interaction(custom_id, user_id, name)
        return self.post(url, body, self.signed_headers(body)), body
