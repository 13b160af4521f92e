"""A simulated organisation for the organisation backstop (benchmarks/org_backstop_fanout.py
and the tests).

- :class:`FakeOrganization`: accounts x regions of fake member clients whose every call
  sleeps a configurable latency (AssumeRole included, once per account and session);
  accounts can be made unreachable (role missing) or have a trail stopped.
- :func:`run_state_machine`: runs the REAL ``statemachines/org-backstop.asl.json`` in
  moto's Step Functions executor (its Map state runs iterations on up to MaxConcurrency
  threads, as Step Functions does). Its two Lambda tasks run the real handlers
  (``handlers.org_backstop_accounts.run``, ``handlers.org_backstop.run_check``)
  in-process with the fake clients. Unlike the local engine's LambdaRuntime,
  invocations are NOT serialised: these handlers read no ``os.environ`` once their
  Deps are given, and Lambda runs a Map's items concurrently.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from trailwarden.models.errors import MemberUnreachable

REPO = Path(__file__).resolve().parents[2]
ASL = REPO / "statemachines" / "org-backstop.asl.json"
REGIONS_17 = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]
HUB_ACCOUNT = "111111111111"
HUB_REGION = "us-east-1"
_ACCOUNT_BASE = 200000000000


def account_ids(count: int) -> list[str]:
    return [str(_ACCOUNT_BASE + i) for i in range(count)]


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class FakeOrganization:
    """``accounts`` member accounts, each with one multi-region trail ``main`` homed in
    the first region, logging unless its account is in ``stopped``."""

    accounts: int
    regions: tuple[str, ...] = tuple(REGIONS_17)
    latency: float = 0.0  # seconds each call sleeps
    unreachable: frozenset[str] = frozenset()  # accounts whose role is missing
    stopped: frozenset[str] = frozenset()  # accounts whose trail is not logging
    calls: Counter[str] = field(default_factory=Counter)
    started: dict[str, dict[str, Any]] = field(default_factory=dict)  # execution name -> input
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ids(self) -> list[str]:
        return account_ids(self.accounts)

    def call(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
        if self.latency:
            time.sleep(self.latency)

    def trail_arn(self, account: str) -> str:
        return f"arn:aws:cloudtrail:{self.regions[0]}:{account}:trail/main"

    # ------------------------------------------------------------------ clients

    def clients_for(self, account: str, session: str) -> Any:
        """A ClientFactory in ``account``, like MemberRoles.factory: the role is assumed
        at the first client (once per account and session)."""
        assumed: list[bool] = []
        lock = threading.Lock()

        def client(service: str, region: str | None = None) -> Any:
            with lock:
                if not assumed:
                    self.call("sts:AssumeRole")
                    if account in self.unreachable:
                        raise MemberUnreachable(
                            f"cannot reach account {account} in {HUB_REGION}: role missing "
                            "or not trusted (AccessDenied)"
                        )
                    assumed.append(True)
            if service == "ec2":
                return _Ec2(self)
            if service == "cloudtrail":
                return _CloudTrail(self, account, region or HUB_REGION)
            raise ValueError(service)

        return client

    def hub_clients(self, service: str, region: str | None = None) -> Any:
        if service == "organizations":
            return _Organizations(self)
        if service == "stepfunctions":
            return _StepFunctions(self)
        raise ValueError(service)


class _Ec2:
    def __init__(self, org: FakeOrganization) -> None:
        self.org = org

    def describe_regions(self, **_: Any) -> dict[str, Any]:
        self.org.call("ec2:DescribeRegions")
        return {"Regions": [{"RegionName": r} for r in self.org.regions]}


class _CloudTrail:
    def __init__(self, org: FakeOrganization, account: str, region: str) -> None:
        self.org, self.account, self.region = org, account, region

    def describe_trails(self, **_: Any) -> dict[str, Any]:
        self.org.call("cloudtrail:DescribeTrails")
        home = self.org.regions[0]
        return {
            "trailList": [
                {
                    "Name": "main",
                    "TrailARN": self.org.trail_arn(self.account),
                    "HomeRegion": home,
                    "IsMultiRegionTrail": True,
                }
            ]
        }

    def get_trail_status(self, Name: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        self.org.call("cloudtrail:GetTrailStatus")
        return {"IsLogging": self.account not in self.org.stopped}


class _Paginator:
    def __init__(self, org: FakeOrganization) -> None:
        self.org = org

    def paginate(self) -> Any:
        ids = self.org.ids
        for start in range(0, len(ids), 20):  # ListAccounts returns at most 20 a page
            self.org.call("organizations:ListAccounts")
            yield {"Accounts": [{"Id": a, "State": "ACTIVE"} for a in ids[start : start + 20]]}


class _Organizations:
    def __init__(self, org: FakeOrganization) -> None:
        self.org = org

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_accounts"
        return _Paginator(self.org)


class _StepFunctions:
    def __init__(self, org: FakeOrganization) -> None:
        self.org = org

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: N803
        self.org.call("states:StartExecution")
        with self.org._lock:
            if name in self.org.started:
                raise _client_error("ExecutionAlreadyExists", "StartExecution")
            self.org.started[name] = json.loads(input)
        return {"executionArn": f"{stateMachineArn}:{name}"}


# ---------------------------------------------------------------------- the real ASL


def definition(substitutions: dict[str, str]) -> str:
    """The ASL file with its ``${Name}`` substitutions applied (as CloudFormation does);
    an unknown name fails."""
    text = ASL.read_text(encoding="utf-8")

    def value(match: re.Match[str]) -> str:
        return substitutions[match.group(1)]

    return re.sub(r"\$\{(\w+)\}", value, text)


def max_concurrency() -> int:
    return int(
        json.loads(ASL.read_text(encoding="utf-8"))["States"]["CheckAccounts"]["MaxConcurrency"]
    )


@dataclass
class SimResult:
    status: str
    wall_seconds: float
    output: dict[str, Any]
    invocations: Counter[str]
    peak_concurrent_checks: int
    state_transitions: int
    durations: dict[str, list[float]]  # function -> seconds of each invocation


def run_state_machine(
    org: FakeOrganization,
    *,
    batch_size: int = 10,
    pool_size: int = 32,
    timeout: float = 600.0,
    scheduled_time: str = "2026-12-05T00:15:00Z",
) -> SimResult:
    """One period: start the real ASL in moto and wait (polling, with a deadline)."""
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from handlers import org_backstop_accounts
    from handlers.org_backstop import Deps, run_check
    from trailwarden.logic.org_backstop import OrgBackstopSettings

    settings = OrgBackstopSettings(
        hub_region=HUB_REGION, batch_size=batch_size, pool_size=pool_size
    )
    deps = Deps(
        settings=settings,
        clients=org.hub_clients,
        clients_for=org.clients_for,
        role_arn=lambda a: f"arn:aws:iam::{a}:role/trailwarden/member/trailwarden-member",
        state_machine_arn=f"arn:aws:states:{HUB_REGION}:{HUB_ACCOUNT}:stateMachine:tamper",
    )
    handlers = {
        "org-backstop-accounts": lambda event, _deps: org_backstop_accounts.run(
            event, settings, org.hub_clients
        ),
        "org-backstop-check": run_check,
    }
    invocations: Counter[str] = Counter()
    durations: dict[str, list[float]] = {name: [] for name in handlers}
    running = [0, 0]  # now, peak
    lock = threading.Lock()
    original = LambdaSimpleBackend.invoke

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        name = (
            function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        )
        handler = handlers[name]
        with lock:
            invocations[name] += 1
            running[0] += 1
            running[1] = max(running)
        began = time.monotonic()
        try:
            event = json.loads(body) if body else {}
            return json.dumps(handler(event, deps)).encode()
        except Exception as err:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}).encode()
        finally:
            with lock:
                running[0] -= 1
                durations[name].append(time.monotonic() - began)

    config: Any = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }
    with mock_aws(config=config):
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        try:
            sfn, machine = _provision(list(handlers))
            started = time.monotonic()
            execution = sfn.start_execution(
                stateMachineArn=machine,
                name=f"sim-{uuid.uuid4()}",
                input=json.dumps(
                    {"source": "trailwarden.schedule", "scheduledTime": scheduled_time}
                ),
            )["executionArn"]
            described = _wait(sfn, execution, started + timeout)
            wall = time.monotonic() - started
            transitions = _entered_states(sfn, execution)
        finally:
            LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]
    output = json.loads(described.get("output") or "{}")
    return SimResult(
        described["status"], wall, output, invocations, running[1], transitions, durations
    )


def _provision(function_names: list[str]) -> tuple[Any, str]:
    """The two functions and the state machine (the real ASL) in moto."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        region_name=HUB_REGION,
    )
    role = session.client("iam").create_role(RoleName="sim", AssumeRolePolicyDocument="{}")
    role_arn = role["Role"]["Arn"]
    awslambda = session.client("lambda")
    arns = {
        name: awslambda.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role_arn,
            Handler="handlers.sim.handler",
            Code={"ZipFile": b"sim"},
        )["FunctionArn"]
        for name in function_names
    }
    sfn = session.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="org-backstop",
        definition=definition(
            {
                "AccountsFunctionArn": arns["org-backstop-accounts"],
                "CheckFunctionArn": arns["org-backstop-check"],
            }
        ),
        roleArn=role_arn,
    )["stateMachineArn"]
    return sfn, str(machine)


def _wait(sfn: Any, execution: str, deadline: float) -> dict[str, Any]:
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"org backstop execution {execution} still running")
        time.sleep(0.005)


def _entered_states(sfn: Any, execution: str) -> int:
    count, kwargs = 0, {"executionArn": execution, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        count += sum(1 for e in page["events"] if "stateEnteredEventDetails" in e)
        if not page.get("nextToken"):
            return count
        kwargs["nextToken"] = page["nextToken"]
