"""``LocalApp``: the real SAM template, provisioned into moto, with handlers run in-process.

Typical use::

    with LocalApp("template.yaml", parameters={"Language": "ko"}) as app:
        (delivery,) = app.put_event(cloudtrail_event)
        result = app.wait_for_execution(delivery.execution_arn)

or, inside a ``moto.mock_aws(config=LocalApp.MOTO_CONFIG)`` the caller started,
``LocalApp(..., start_mock=False)``.

``LocalApp`` owns the lifecycle (the mock, the patched Lambda backend, the operation
recorder) and is a thin facade over the three jobs: :class:`~.stack.LocalStack`
(provisioning), :class:`~.bus.EventBus` (rules -> targets) and
:class:`~.executions.Executions` (state machines and Lambda invocations). While it runs,
``securityhub:BatchUpdateFindings`` (absent from moto) is played by a local stand-in,
:attr:`LocalApp.security_hub_updates`, which also records every such request.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .bus import Delivery, EventBus
from .errors import EngineStateError
from .executions import Executions, InvokeResult
from .lambda_runtime import InvocationRecord, LambdaRuntime, base_environment
from .organization import Organization, forwarder_patterns
from .recorder import OperationRecorder
from .securityhub_standin import BatchUpdateFindingsStandIn
from .stack import LocalRule, LocalStack, LocalStateMachine, SkippedResource

if TYPE_CHECKING:
    from collections.abc import Mapping

LOG = logging.getLogger("trailwarden_local.engine")

_DEFAULT_MOTO_ACCOUNT = "123456789012"


def _memoise_asl_validation() -> None:
    """Validate each distinct state-machine definition once per process.

    moto parses every definition with its ANTLR grammar on create (about a quarter of a
    second each); the validation is a pure function of the text, and every app the tests
    and the demo provision creates the same few definitions again. Only successes are
    remembered, so an invalid definition still fails every time.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = StepFunctionsParserBackend._validate_definition
    if getattr(validate, "_trailwarden_memoised", False):
        return
    valid: set[str] = set()

    def memoised(definition: str) -> None:
        if definition not in valid:
            validate(definition=definition)
            valid.add(definition)

    memoised._trailwarden_memoised = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend._validate_definition = staticmethod(memoised)  # type: ignore[method-assign]


class LocalApp:
    """The app of ``template_path`` provisioned in moto; see the module docstring."""

    MOTO_CONFIG: Mapping[str, Any] = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }

    def __init__(
        self,
        template_path: str | os.PathLike[str],
        parameters: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        account_id: str = _DEFAULT_MOTO_ACCOUNT,
        function_env_overrides: Mapping[str, str] | None = None,
        start_mock: bool = True,
        *,
        stack_name: str = "trailwarden-local",
        shutdown_timeout: float = 10.0,
        code_root: str | os.PathLike[str] | None = None,
    ) -> None:
        """``code_root``: run the built code (``sam build``'s ``.aws-sam/build``: one folder
        per function logical id) instead of the CodeUri folders; see LambdaRuntime."""
        self.template_path = Path(template_path).resolve()
        self.code_root = Path(code_root).resolve() if code_root is not None else None
        self.region = region
        self.account_id = account_id
        self.function_env_overrides = dict(function_env_overrides or {})
        self.start_mock = start_mock
        self.shutdown_timeout = shutdown_timeout
        self.stack = LocalStack(
            self.template_path,
            parameters or {},
            region=region,
            account_id=account_id,
            stack_name=stack_name,
        )
        # The stack's own dicts (filled on start): tests may swap a function's record.
        self.functions = self.stack.functions
        self.state_machines: dict[str, LocalStateMachine] = self.stack.state_machines
        self.rules: dict[str, LocalRule] = self.stack.rules
        self.runs = Executions(self.client, self.functions)
        self.bus = EventBus(
            self.client, self.runs, self.rules, region=region, account_id=account_id
        )
        self._recorder = OperationRecorder()
        # Plays securityhub:BatchUpdateFindings, which moto lacks (see its module).
        self.security_hub_updates = BatchUpdateFindingsStandIn()
        self._runtime: LambdaRuntime | None = None
        self._mock: Any = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        # Organisation mode (DeploymentMode=organization): the members and their forwarders.
        self.organization: Organization | None = None
        self._previous_moto_account: str | None = None
        self._started = False

    # ------------------------------------------------------------------ the stack

    @property
    def parameters(self) -> dict[str, str]:
        return self.stack.parameters

    @property
    def inactive_resources(self) -> set[str]:
        return self.stack.inactive_resources

    @property
    def skipped_resources(self) -> dict[str, SkippedResource]:
        """Resources not provisioned locally, and why (the README points here)."""
        return self.stack.skipped_resources

    def resource(self, logical_id: str) -> Any:
        """What ``Ref`` returns for the resource (physical id or ARN, per type)."""
        return self.stack.resource(logical_id)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalApp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalApp:
        """Start (or join) the moto mock, install the runtime and provision everything."""
        if self._started:
            raise EngineStateError("LocalApp already started")
        if self.start_mock:
            import moto

            config: Any = {key: dict(value) for key, value in self.MOTO_CONFIG.items()}
            self._mock = moto.mock_aws(config=config)
            self._mock.start()
        try:
            self._check_mock()
            self._started = True
            if self.account_id != _DEFAULT_MOTO_ACCOUNT:
                self._previous_moto_account = os.environ.get("MOTO_ACCOUNT_ID")
                os.environ["MOTO_ACCOUNT_ID"] = self.account_id
            import boto3

            self._session = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
                region_name=self.region,
            )
            self._recorder.install()
            self.security_hub_updates.install()  # after the recorder: calls are recorded
            self._runtime = LambdaRuntime(
                functions=self.functions,
                base_env=base_environment(os.environ, self.region),
                overrides=self.function_env_overrides,
                recorder=self._recorder,
                code_root=self.code_root,
            )
            self._runtime.install(self.stack.code_dirs)
            _memoise_asl_validation()
            self.stack.provision(self._session, self.bus.matcher)
            if self.stack.conditions.get("OrganizationMode"):
                self._start_organization()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_organization(self) -> None:
        """The hub's organisation, with the hub account as its first member (it forwards
        its own events from its region and has the member role, as README says)."""
        hub_bus = str(self.stack.resource("HubEventBus"))
        wanted = ("MemberRoleName", "KeyPairConfigRuleName")
        patterns = forwarder_patterns(
            self.template_path.parent / "member" / "forwarders.yaml",
            {
                "HubAccountId": self.account_id,
                "HubRegion": self.region,
                "HubEventBusName": hub_bus,
                **{k: v for k, v in self.parameters.items() if k in wanted},
            },
            hub_account=self.account_id,
            hub_region=self.region,
        )
        self.organization = Organization(
            hub_account=self.account_id,
            hub_region=self.region,
            hub_bus=hub_bus,
            partition=self.stack.partition,
            member_role_name=self.parameters["MemberRoleName"],
            patterns=patterns,
            matcher=self.bus.matcher,
        )
        self.organization.install()
        self.organization.add_member(self.account_id, (self.region,))

    def add_member(
        self, account: str, regions: tuple[str, ...] | list[str], *, member_role: bool = True
    ) -> None:
        """Organisation mode: ``account`` forwards its events from ``regions`` to the hub
        bus; ``member_role=False`` leaves the trailwarden member role out of it."""
        if self.organization is None:
            raise EngineStateError(
                "add_member needs a started app with DeploymentMode=organization"
            )
        self.organization.add_member(account, regions, member_role=member_role)

    def member_credentials(self, account: str) -> dict[str, str]:
        """boto3 keyword arguments acting in member ``account`` (its access role)."""
        if self.organization is None:
            raise EngineStateError("member_credentials needs DeploymentMode=organization")
        return self.organization.credentials(account)

    def _check_mock(self) -> None:
        from moto.core.config import default_user_config
        from moto.core.models import botocore_stubber

        if not botocore_stubber.enabled:
            raise EngineStateError(
                "no moto mock is active: use LocalApp(start_mock=True) or start "
                "moto.mock_aws(config=LocalApp.MOTO_CONFIG) first"
            )
        sfn = default_user_config.get("stepfunctions", {}).get("execute_state_machine", False)
        docker = default_user_config.get("lambda", {}).get("use_docker", True)
        if not sfn or docker:
            raise EngineStateError(
                "the active moto mock must use config=LocalApp.MOTO_CONFIG "
                '({"stepfunctions": {"execute_state_machine": True}, '
                '"lambda": {"use_docker": False}})'
            )

    def stop(self) -> None:
        """Let executions finish (bounded), restore everything patched, stop our mock."""
        try:
            if self._started and self._session is not None:
                self._drain_executions()
        finally:
            if self._runtime is not None:
                self._runtime.uninstall()
                self._runtime = None
            self._recorder.uninstall()
            self.security_hub_updates.uninstall()
            if self.organization is not None:
                self.organization.uninstall()
                self.organization = None
            if self.account_id != _DEFAULT_MOTO_ACCOUNT and self._started:
                if self._previous_moto_account is None:
                    os.environ.pop("MOTO_ACCOUNT_ID", None)
                else:
                    os.environ["MOTO_ACCOUNT_ID"] = self._previous_moto_account
            self._clients.clear()
            self._session = None
            self._started = False
            if self._mock is not None:
                self._mock.stop()
                self._mock = None

    def _drain_executions(self) -> None:
        from moto.core.models import botocore_stubber

        if not botocore_stubber.enabled:
            LOG.warning("moto mock already stopped: cannot wait for running executions")
            return
        machines = [machine.arn for machine in self.state_machines.values()]
        self.runs.drain(machines, self.shutdown_timeout)

    def client(self, service: str) -> Any:
        """A boto3 client for the mocked account/region (cached)."""
        if not self._started:
            raise EngineStateError("LocalApp is not started (use it as a context manager)")
        if service not in self._clients:
            assert self._runtime is not None  # started
            with self._runtime.environment_lock:  # approval-server threads build clients too
                self._clients[service] = self._session.client(service)
        return self._clients[service]

    # ------------------------------------------------------------------ recorded calls

    def operations_by_function(self) -> dict[str, set[str]]:
        """IAM actions each function called so far (every function, empty if none)."""
        recorded = self._recorder.operations_by_function()
        return {lid: recorded.get(lid, set()) for lid in self.functions} | recorded

    def operation_calls(self) -> list[tuple[str, str]]:
        """Every recorded call in order, as (function logical id, action)."""
        return self._recorder.calls()

    def reset_operations(self) -> None:
        self._recorder.clear()

    @property
    def invocations(self) -> list[InvocationRecord]:
        return list(self._runtime.invocations) if self._runtime else []

    # ------------------------------------------------------------------ bus and executions

    @property
    def executions(self) -> list[str]:
        """ARNs of the executions :meth:`put_event` started, in order."""
        return list(self.runs.started)

    def put_event(
        self, event: Mapping[str, Any], *, event_bus_name: str = "default"
    ) -> list[Delivery]:
        """Route ``event`` like EventBridge (see :meth:`EventBus.put_event`).

        In organisation mode an event put on the default bus is an event of its
        ``account`` and ``region`` (the hub's when absent): the hub's own default-bus
        rules see it when it happened in the hub account and region, and each member
        forwarder rule that matches delivers it, unchanged, to the hub bus."""
        if self.organization is None or event_bus_name != "default":
            return self.bus.put_event(event, event_bus_name=event_bus_name)
        full = self.bus.envelope(event)
        deliveries: list[Delivery] = []
        if (full["account"], full["region"]) == (self.account_id, self.region):
            deliveries += self.bus.put_event(full)
        hub_bus = self.organization.hub_bus
        for forwarder in self.organization.forwarders_matching(full):
            deliveries += [
                dataclasses.replace(delivery, forwarded_by=forwarder)
                for delivery in self.bus.put_event(full, event_bus_name=hub_bus)
            ]
        return deliveries

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Invoke a function (logical id, name or ARN) through moto's Lambda API."""
        return self.runs.invoke(function, event)

    def wait_for_execution(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll until the execution leaves RUNNING; return ``describe_execution``."""
        return self.runs.wait(execution_arn, timeout)

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.runs.history(execution_arn)

    def state_transitions(self, execution_arn: str) -> int:
        """How many states the execution entered (billing's state transitions)."""
        return len(self.runs.entered_states(execution_arn))

    def first_task_output(self, execution_arn: str) -> dict[str, Any]:
        """The first task's result (for this app's workflows: Assess's Finding)."""
        return self.runs.first_task_output(execution_arn)

    def entered_states(self, execution_arn: str) -> list[str]:
        """Names of the states the execution entered, in order."""
        return self.runs.entered_states(execution_arn)


__all__ = ["LocalApp"]
