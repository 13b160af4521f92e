"""Approve in Discord: bot message with buttons, signed interactions, one decision ever."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from moto import mock_aws
from nacl.signing import SigningKey

from handlers import approval_request, discord_interactions
from handlers._discord_app import DiscordAppDeps
from handlers._notify_deps import NotifyDeps
from tests.conftest import REPO
from tests.unit.test_approval_decisions import Clock
from tests.unit.test_approval_request import ENTERED_EPOCH, TOKEN, FakeWebhook, payload
from trailwarden.approvals.discord_app import (
    Approvers,
    DiscordApplication,
    Interactions,
    resume_and_edit,
)
from trailwarden.approvals.request import request_approval
from trailwarden.approvals.service import ApprovalService, HttpRequest
from trailwarden.approvals.store import ApprovalStore
from trailwarden.models.errors import NotificationFailed
from trailwarden.models.settings import ApprovalSettings, NotifySettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NOW = ENTERED_EPOCH + 2
KEY = SigningKey.generate()
APPROVER = "200000000000000001"
STRANGER = "300000000000000009"
APPROVER_ROLE = "400000000000000004"
APP = DiscordApplication(
    public_key=KEY.verify_key.encode().hex(),
    bot_token="bot-token-not-real",
    channel_id="100000000000000001",
    application_id="500000000000000005",
    api_base_url="http://127.0.0.1:9/api/v10",
)
ZONE = ZoneInfo("Asia/Seoul")


@dataclass
class SlowStepFunctions:
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        time.sleep(self.delay)  # stands in for a slow Step Functions answer
        self.calls.append(kwargs)
        return {}


@dataclass
class World:
    store: ApprovalStore
    ddb: Any
    bot: FakeWebhook
    sfn: SlowStepFunctions
    clock: Clock
    resumed: list[dict[str, Any]]
    interactions: Interactions
    service: ApprovalService
    edits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def interaction_id(self) -> str:
        button = self.bot.payloads[-1]["components"][0]["components"][0]
        return str(button["custom_id"]).rpartition(":")[2]

    def request(self) -> dict[str, Any]:
        return self.item_where_status()

    def item_where_status(self) -> dict[str, Any]:
        items = [i for i in self.ddb.scan(TableName="approvals")["Items"] if "status" in i]
        assert len(items) == 1
        return dict(items[0])

    def click(
        self,
        action: str = "approve",
        user: str = APPROVER,
        roles: tuple[str, ...] = (),
        *,
        timestamp: int | None = None,
        tamper: Callable[[bytes, bytes], tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = interaction(action, self.interaction_id, user, roles)
        return self.send(body, timestamp=timestamp, tamper=tamper, headers=headers)

    def send(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        tamper: Callable[[bytes, bytes], tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        sent = signed_headers(body, timestamp if timestamp is not None else int(self.clock()))
        if tamper is not None:
            signature, body = tamper(bytes.fromhex(sent["x-signature-ed25519"]), body)
            sent["x-signature-ed25519"] = signature.hex()
        response = self.interactions.handle(APP, headers if headers is not None else sent, body)
        return response.status, dict(response.body)

    def resume_all(self) -> list[dict[str, str]]:
        results = []
        for event in self.resumed:
            results.append(
                resume_and_edit(
                    event,
                    store=self.store,
                    resume=self.service.resume,
                    edit=lambda token, body: self.edits.append((token, body)),
                    language="en",
                    zone=ZONE,
                )
            )
        self.resumed.clear()
        return results


def interaction(
    action: str, interaction_id: str, user: str = APPROVER, roles: tuple[str, ...] = ()
) -> bytes:
    """A MESSAGE_COMPONENT interaction as Discord sends it from a guild channel."""
    return json.dumps(
        {
            "type": 3,
            "id": "600000000000000006",
            "application_id": APP.application_id,
            "token": "interaction-token-" + "t" * 60,
            "version": 1,
            "channel_id": APP.channel_id,
            "guild_id": "700000000000000007",
            "member": {
                "user": {"id": user, "username": "alice", "global_name": "Alice Kim"},
                "roles": list(roles),
            },
            "data": {"component_type": 2, "custom_id": f"tw:{action}:{interaction_id}"},
        }
    ).encode()


def signed_headers(body: bytes, timestamp: int) -> dict[str, str]:
    signature = KEY.sign(str(timestamp).encode() + body).signature
    return {"x-signature-ed25519": signature.hex(), "x-signature-timestamp": str(timestamp)}


def make_world(approvers: Approvers) -> World:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="approvals",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    store, bot, clock = ApprovalStore(ddb, "approvals"), FakeWebhook(), Clock(NOW)
    sfn, resumed = SlowStepFunctions(), []
    settings = ApprovalSettings(table="approvals", timeout_seconds=3600)
    request_approval(
        payload(),
        store=store,
        settings=settings,
        notify=NotifySettings(),
        sinks=[],
        bot=bot,
        clock=clock,
    )
    service = ApprovalService(store, sfn, settings, "en", ZONE, clock=clock)
    interactions = Interactions(store, approvers, resumed.append, "en", clock=clock)
    return World(store, ddb, bot, sfn, clock, resumed, interactions, service)


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield make_world(Approvers.parse([APPROVER], [APPROVER_ROLE]))


def flip_body(signature: bytes, body: bytes) -> tuple[bytes, bytes]:
    return signature, body[:-2] + bytes([body[-2] ^ 0x01]) + body[-1:]


def flip_signature(signature: bytes, body: bytes) -> tuple[bytes, bytes]:
    return bytes([signature[0] ^ 0x01]) + signature[1:], body


# ------------------------------------------------------------------ the request


def test_bot_message_has_buttons_and_no_link_and_custom_id_holds_no_secret(world: World) -> None:
    message = world.bot.payloads[0]
    text = json.dumps(message)
    ids = [b["custom_id"] for b in message["components"][0]["components"]]

    assert ids == [f"tw:approve:{world.interaction_id}", f"tw:reject:{world.interaction_id}"]
    assert all(len(i) <= 100 for i in ids)
    assert "/approvals/" not in text and "http" not in text
    assert TOKEN not in text
    assert message["allowed_mentions"] == {"parse": []}
    assert world.request()["status"] == {"S": "pending"}


def test_the_buttons_id_posted_to_the_link_endpoint_changes_nothing(world: World) -> None:
    before = world.request()

    for decision in ("approve", "reject"):
        answer = world.service.handle(
            HttpRequest(
                "POST",
                world.interaction_id,
                "198.51.100.7",
                "curl/8",
                {"decision": decision, "nonce": world.interaction_id},
            )
        )
        assert answer.status == 404
    shown = world.service.handle(HttpRequest("GET", world.interaction_id, "198.51.100.7", "x"))

    assert shown.status == 404
    assert world.request() == before
    assert world.sfn.calls == []


# ------------------------------------------------------------------ signatures


def test_signed_ping_is_answered_with_pong(world: World) -> None:
    status, body = world.send(b'{"type":1,"id":"1","application_id":"2","token":"t"}')

    assert (status, body) == (200, {"type": 1})


@pytest.mark.parametrize("tamper", [flip_body, flip_signature], ids=["body", "signature"])
def test_one_flipped_byte_is_refused_with_401_and_nothing_changes(
    world: World, tamper: Callable[[bytes, bytes], tuple[bytes, bytes]]
) -> None:
    status, _ = world.click(tamper=tamper)

    assert status == 401
    assert world.request()["status"] == {"S": "pending"}
    assert world.resumed == []


@pytest.mark.parametrize("missing", ["x-signature-ed25519", "x-signature-timestamp"])
def test_missing_signature_header_is_refused_with_401(world: World, missing: str) -> None:
    body = interaction("approve", world.interaction_id)
    headers = signed_headers(body, NOW)
    del headers[missing]

    status, _ = world.send(body, headers=headers)

    assert status == 401
    assert world.request()["status"] == {"S": "pending"}


def test_a_ping_signed_by_another_key_is_refused_with_401(world: World) -> None:
    body = b'{"type":1}'
    headers = {
        "x-signature-ed25519": SigningKey.generate().sign(f"{NOW}".encode() + body).signature.hex(),
        "x-signature-timestamp": str(NOW),
    }

    assert world.send(body, headers=headers)[0] == 401


def test_an_old_signed_timestamp_is_refused_with_401(world: World) -> None:
    status, _ = world.click(timestamp=NOW - 301)

    assert status == 401
    assert world.request()["status"] == {"S": "pending"}
    assert world.resumed == []


# ------------------------------------------------------------------ deciding


def test_valid_click_approves_once_and_the_audit_names_the_discord_user(world: World) -> None:
    status, body = world.click("approve")
    results = world.resume_all()

    assert (status, body) == (200, {"type": 6})  # deferred update: answered at once
    item = world.request()
    assert item["status"] == {"S": "approved"}
    assert item["discordUserId"] == {"S": APPROVER}
    assert item["discordUserName"] == {"S": "Alice Kim"}
    assert "taskToken" not in item  # delivered
    assert results == [{"outcome": "delivered", "message": "edited"}]
    (call,) = world.sfn.calls
    assert call["taskToken"] == TOKEN
    output = json.loads(call["output"])
    assert output["status"] == "approved"
    assert (output["discordUserId"], output["discordUserName"]) == (APPROVER, "Alice Kim")


def test_the_message_edit_removes_the_buttons_and_says_who_approved(world: World) -> None:
    world.click("approve")
    world.resume_all()

    ((token, edit),) = world.edits
    assert token.startswith("interaction-token-")
    assert edit["components"] == []
    assert edit["content"].startswith("Approved by Alice Kim at ")
    assert edit["allowed_mentions"] == {"parse": []}


def test_a_replayed_click_is_refused_as_already_decided(world: World) -> None:
    body = interaction("approve", world.interaction_id)
    headers = signed_headers(body, NOW)
    world.send(body, headers=dict(headers))
    world.resume_all()

    status, answer = world.send(body, headers=dict(headers))
    world.resume_all()

    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert "already decided" in answer["data"]["content"]
    assert status == 200
    assert len(world.sfn.calls) == 1


def test_a_user_outside_the_allowlist_is_refused_and_nothing_changes(world: World) -> None:
    before = world.request()

    status, answer = world.click("approve", user=STRANGER, roles=("999999999999999999",))

    assert status == 200
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert answer["data"]["content"] == "You may not decide this request."
    assert world.request() == before
    assert world.resumed == []


def test_a_member_holding_an_approver_role_may_decide(world: World) -> None:
    status, body = world.click("approve", user=STRANGER, roles=(APPROVER_ROLE,))
    assert status == 200

    assert body == {"type": 6}
    assert world.request()["discordUserId"] == {"S": STRANGER}


def test_nobody_may_decide_when_no_approver_is_configured() -> None:
    with mock_aws():
        world = make_world(Approvers())

        _, answer = world.click("approve")

        assert answer["data"]["flags"] == 64
        assert world.request()["status"] == {"S": "pending"}


def test_reject_hands_a_rejection_to_the_workflow_and_names_who_rejected(world: World) -> None:
    world.click("reject")
    world.resume_all()

    assert world.request()["status"] == {"S": "rejected"}
    assert json.loads(world.sfn.calls[0]["output"])["status"] == "rejected"
    assert world.edits[0][1]["content"].startswith("Rejected by Alice Kim at ")


def test_a_click_after_expiry_is_refused(world: World) -> None:
    world.clock.now = NOW + 3600  # the wait ended

    status, answer = world.click("approve")

    assert status == 200
    assert "expired" in answer["data"]["content"]
    assert world.request()["status"] == {"S": "pending"}
    assert world.resumed == []


def test_a_click_on_a_superseded_request_is_refused(world: World) -> None:
    old = world.interaction_id
    request_approval(  # the state's Retry made a new request for the same execution
        payload(),
        store=world.store,
        settings=ApprovalSettings(table="approvals", timeout_seconds=3600),
        notify=NotifySettings(),
        sinks=[],
        bot=world.bot,
        clock=world.clock,
    )

    body = interaction("approve", old)
    status, answer = world.send(body)

    assert status == 200
    assert "replaced" in answer["data"]["content"]
    assert world.resumed == []


# ------------------------------------------------------------------ the 3-second window


@dataclass
class AsyncLambda:
    """Lambda's asynchronous invoke: 202 now, the function runs later (a thread)."""

    run: Callable[[dict[str, Any]], Any]
    threads: list[threading.Thread] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        self.types.append(InvocationType)
        thread = threading.Thread(target=self.run, args=(json.loads(Payload),), daemon=True)
        thread.start()
        self.threads.append(thread)
        return {"StatusCode": 202}


@dataclass
class FixedApp:
    def application(self) -> DiscordApplication:
        return APP


def test_answer_arrives_within_3s_while_send_task_success_takes_5s(world: World) -> None:
    world.sfn.delay = 5.0
    edits: list[dict[str, Any]] = []
    invoker = AsyncLambda(
        lambda event: resume_and_edit(
            event,
            store=world.store,
            resume=world.service.resume,
            edit=lambda _token, body: edits.append(body),
            language="en",
            zone=ZONE,
        )
    )
    world.interactions.resume = discord_interactions.invoke_async(invoker, "resume-fn")
    deps = discord_interactions.Deps(world.interactions, FixedApp())  # type: ignore[arg-type]
    body = interaction("approve", world.interaction_id)
    event = {"headers": signed_headers(body, NOW), "body": body.decode(), "isBase64Encoded": False}

    started = time.monotonic()
    answer = discord_interactions.run(event, deps)
    answered_after = time.monotonic() - started

    assert answered_after < 3.0
    assert json.loads(answer["body"]) == {"type": 6}
    assert invoker.types == ["Event"]
    assert world.sfn.calls == []  # not resumed yet
    deadline = time.monotonic() + 20
    while not world.sfn.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    invoker.threads[0].join(timeout=20)
    assert len(world.sfn.calls) == 1  # resumed later
    assert edits and edits[0]["components"] == []


def test_handler_refuses_a_body_that_is_not_the_signed_bytes(world: World) -> None:
    deps = discord_interactions.Deps(world.interactions, FixedApp())  # type: ignore[arg-type]
    body = interaction("approve", world.interaction_id)
    reformatted = json.dumps(json.loads(body), indent=1)  # same JSON, other bytes

    answer = discord_interactions.run(
        {"headers": signed_headers(body, NOW), "body": reformatted}, deps
    )

    assert answer["statusCode"] == 401
    assert world.request()["status"] == {"S": "pending"}


def test_only_the_interactions_function_imports_nacl() -> None:
    code = (
        "import sys, handlers.approval_request, handlers.approval, handlers.discord_resume, "
        "handlers.notify, handlers.report; print('nacl' in sys.modules)"
    )

    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO / "functions",
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(REPO / "functions")},
    )

    assert out.stdout.strip() == "False"


def test_application_secret_is_validated() -> None:
    good = {
        "public_key": APP.public_key,
        "bot_token": "x",
        "channel_id": APP.channel_id,
        "application_id": APP.application_id,
    }

    assert DiscordApplication.from_secret(json.dumps(good)).channel_id == APP.channel_id
    broken = ({**good, "public_key": "00"}, {**good, "channel_id": "12"}, {**good, "bot_token": ""})
    for secret in broken:
        with pytest.raises(NotificationFailed, match="Discord application secret"):
            DiscordApplication.from_secret(json.dumps(secret))
    shown = repr(DiscordApplication.from_secret(json.dumps({**good, "bot_token": "s3cr3t-bot"})))
    assert "s3cr3t-bot" not in shown


# ------------------------------------------------------------------ request failures


def test_unreadable_application_secret_fails_typed_before_anything_is_stored() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="approvals",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        notify = NotifySettings(secret_max_age_seconds=0)
        secrets = SecretsProvider(boto3_client=boto3.client("secretsmanager", "us-east-1"))
        deps = approval_request.Deps(
            settings=ApprovalSettings(table="approvals", discord_app_secret_name="tw/missing"),
            store=ApprovalStore(ddb, "approvals"),
            notify=NotifyDeps(notify, sns=None, secrets=None),
            discord_app=DiscordAppDeps(secrets, "tw/missing", notify),
        )

        with pytest.raises(NotificationFailed):
            approval_request.run(payload(), deps)

        assert ddb.scan(TableName="approvals")["Items"] == []


@dataclass
class RefusingBot:
    def post(self, body: dict[str, Any]) -> None:
        raise NotificationFailed("rejected by Discord (HTTP 403)")


def test_buttons_that_never_reached_discord_fail_the_request_typed(world: World) -> None:
    with pytest.raises(NotificationFailed):
        request_approval(
            payload(executionId="arn:aws:states:us-east-1:123456789012:execution:sm:run-2"),
            store=world.store,
            settings=ApprovalSettings(table="approvals", timeout_seconds=3600),
            notify=NotifySettings(),
            sinks=[],
            bot=RefusingBot(),
            clock=world.clock,
        )


def test_a_click_in_a_dm_is_judged_by_its_top_level_user(world: World) -> None:
    body = json.loads(interaction("approve", world.interaction_id, STRANGER))
    del body["member"], body["guild_id"]
    body["user"] = {"id": APPROVER, "username": "alice", "global_name": "Alice Kim"}

    _, answer = world.send(json.dumps(body).encode())

    assert answer == {"type": 6}
    assert world.request()["discordUserId"] == {"S": APPROVER}


def test_a_button_id_that_names_no_request_decides_nothing(world: World) -> None:
    body = interaction("approve", "A" * 43)

    _, answer = world.send(body)

    assert "unknown" in answer["data"]["content"]
    assert world.request()["status"] == {"S": "pending"}


def test_a_resume_run_twice_after_delivery_never_rewrites_the_decision_as_expired(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the first resume hands the approval over, then fails to record that it did
    # (a throttled DynamoDB write), so Lambda retries the asynchronous invoke.
    from botocore.exceptions import ClientError

    from trailwarden.models.errors import TransientAwsError

    world.click("approve")
    event = dict(world.resumed[0])
    real_delivered = world.store.delivered
    failures = iter([TransientAwsError("throttled")])

    def delivered_once_failing(*args: Any, **kwargs: Any) -> None:
        for failure in failures:
            raise failure
        real_delivered(*args, **kwargs)

    monkeypatch.setattr(world.store, "delivered", delivered_once_failing)
    with pytest.raises(TransientAwsError):
        world.resume_all()
    world.resumed.clear()
    spent = ClientError({"Error": {"Code": "TaskTimedOut", "Message": "used"}}, "SendTaskSuccess")

    def token_already_used(**kwargs: Any) -> dict[str, Any]:
        raise spent

    monkeypatch.setattr(world.sfn, "send_task_success", token_already_used)

    # When: the retry runs (Step Functions: that token was already used)
    world.resumed.append(event)
    (result,) = world.resume_all()

    # Then: the approval stands as delivered, never "expired"
    item = world.request()
    assert item["status"] == {"S": "approved"}
    assert "deliveredAt" in item
    assert "lateDecision" not in item
    assert result["outcome"] == "delivered"
