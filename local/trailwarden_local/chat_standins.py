"""Local stand-ins for a Slack incoming webhook and a Microsoft Teams Workflows webhook,
for tests and the demo. Each is its own server (requests are recorded per platform),
built like :class:`~trailwarden_local.discord_standin.DiscordStandIn` on
:class:`~trailwarden_local.webhook_server.WebhookServer`, so each can also answer 429
with ``Retry-After``, 5xx, or hang past the client's timeout on demand::

    with SlackStandIn() as slack, TeamsStandIn() as teams:
        slack.fail_with(500)
        teams.hang()
        ...  # the code under test posts to slack.url and teams.url
        assert slack.answers == [500] and teams.answers == [None]

Slack (incoming webhooks): ``POST /services/T…/B…/<secret>`` with a JSON body holding
``text`` or ``blocks`` answers ``200`` with the text ``ok``; a body that is not a JSON
object answers ``400 invalid_payload``, one with neither ``text`` nor ``blocks`` ``400
no_text``, any other path ``404 no_service``. Errors are plain text, as Slack sends them.

Teams (a Power Automate "when a webhook request is received" trigger): ``POST
/workflows/<id>/triggers/manual/paths/invoke?api-version=…&sig=<sig>`` with a JSON body
answers ``202`` with no body (the flow runs later); a missing or wrong ``sig`` answers
``401``, a body that is not JSON ``400``, any other path ``404``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailwarden_local.webhook_server import Body, Response, SinkRequest, WebhookServer

if TYPE_CHECKING:
    import ssl


class SlackStandIn(WebhookServer):
    """Local HTTP server standing in for one Slack incoming webhook. Thread-safe."""

    name = "slack"
    server_version = "SlackStandIn/1.0"

    def __init__(
        self,
        *,
        secret: str = "local0slack0secret",  # noqa: S107 - fake secret of a local stand-in
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(path=f"/services/T00000000/B00000000/{secret}", tls=tls)

    def start(self) -> SlackStandIn:
        super().start()
        return self

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def _default(self, request: SinkRequest) -> Response:
        if request.path != self.path:
            return 404, "no_service", None
        if request.method != "POST":
            return 405, "invalid_method", None
        if not isinstance(request.json, dict):
            return 400, "invalid_payload", None
        if not request.json.get("text") and not request.json.get("blocks"):
            return 400, "no_text", None
        return 200, "ok", None

    def _error_body(self, status: int) -> Body:
        return "rate_limited" if status == 429 else "internal_error"


class TeamsStandIn(WebhookServer):
    """Local HTTP server standing in for one Teams Workflows webhook. Thread-safe."""

    name = "teams"
    server_version = "TeamsStandIn/1.0"

    def __init__(
        self,
        *,
        workflow_id: str = "0123456789abcdef0123456789abcdef",
        signature: str = "local-signature",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(path=f"/workflows/{workflow_id}/triggers/manual/paths/invoke", tls=tls)
        self.signature = signature

    def start(self) -> TeamsStandIn:
        super().start()
        return self

    def __enter__(self) -> TeamsStandIn:
        return self.start()

    @property
    def url(self) -> str:
        query = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}"
        return f"{self.base_url}{self.path}?{query}"

    def _default(self, request: SinkRequest) -> Response:
        if request.path != self.path:
            return 404, _error("TriggerNotFound", "The workflow trigger was not found."), None
        if request.method != "POST":
            return 405, _error("MethodNotAllowed", "The trigger accepts POST only."), None
        if request.query.get("sig") != [self.signature]:
            return 401, _error("DirectApiAuthorizationRequired", "Missing or bad sig."), None
        if request.json is None:
            return 400, _error("InvalidRequestContent", "The body is not JSON."), None
        return 202, None, None

    def _error_body(self, status: int) -> Body:
        if status == 429:
            return _error("WorkflowTriggeredTooFrequently", "Rate limit is exceeded.")
        return _error("InternalServerError", "The server encountered an error.")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
