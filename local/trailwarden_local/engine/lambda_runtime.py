"""Run Lambda handlers in-process behind moto's Lambda API.

moto's no-Docker Lambda backend (``LambdaSimpleBackend.invoke``) only echoes the payload;
:class:`LambdaRuntime` replaces that method while the engine runs, so every invocation —
by moto's Step Functions executor, by the engine's event routing or by a handler calling
``lambda:Invoke`` — runs the function's real handler with the function's environment.

PIN-SENSITIVE: this leans on moto internals (moto 5.2.x): the patched method's signature is
``LambdaSimpleBackend.invoke(self, function_name, qualifier, body, headers, response_headers)``
and a function error is signalled by ``response_headers["x-amz-function-error"]`` plus an
``{"errorType", "errorMessage", "stackTrace"}`` payload, whose ``errorType`` moto's ASL
executor uses as the error name for ``Retry``/``Catch``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from .recorder import OperationRecorder, active_invocation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import ModuleType

LOG = logging.getLogger("trailwarden_local.engine")

# Host variables that must not leak into a function (credentials/endpoints of the host,
# Powertools dev mode, another Lambda's context).
_HOST_PREFIXES_DROPPED = ("AWS_", "POWERTOOLS_", "_X_AMZN_", "_HANDLER", "LAMBDA_")


@dataclass(frozen=True)
class LocalFunction:
    """A provisioned function and what the runtime needs to run it."""

    logical_id: str
    physical_name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    role_logical_id: str | None
    role_arn: str
    code_dir: Path
    timeout: int = 3
    memory_size: int = 128
    runtime: str = "python3.12"


@dataclass(frozen=True)
class InvocationRecord:
    """One handler run."""

    function_logical_id: str
    request_id: str
    invocation_type: str
    error_type: str | None
    error_message: str | None
    duration_ms: float


@dataclass
class LambdaContext:
    """The parts of the Python Lambda context object handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


class _StdoutRouter:
    """``sys.stdout`` stand-in: writes from inside an invocation go to ``sys.stderr``.

    Powertools Metrics prints EMF JSON with ``print``; the demo's stdout must stay pure
    JSON, and executions run on background threads while the demo's main thread prints,
    so the redirect is decided per write by the calling context, not process-wide.
    """

    # Handlers run on several threads (executions, the approval server) and all write
    # to one text stream here; io.TextIOWrapper is not safe for concurrent writers.
    _lock = threading.RLock()

    def __init__(self, original: TextIO) -> None:
        self.original = original

    def _target(self) -> TextIO:
        return sys.stderr if active_invocation() is not None else self.original

    def write(self, text: str) -> int:
        with self._lock:
            return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        with self._lock:
            self._target().writelines(lines)

    def flush(self) -> None:
        with self._lock:
            self.original.flush()
            sys.stderr.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Route ``print`` of the running handler to stderr (other threads keep stdout).

    Installed per invocation (not once at start) so a ``sys.stdout`` swapped in later,
    e.g. by pytest's capsys, is still the one non-invocation writes reach.
    """
    previous = sys.stdout
    if isinstance(previous, _StdoutRouter):  # nested invocation
        yield
        return
    router = cast("TextIO", _StdoutRouter(previous))
    sys.stdout = router
    try:
        yield
    finally:
        if sys.stdout is router:
            sys.stdout = previous


class HandlerImportError(Exception):
    """The handler module cannot be imported (Lambda: Runtime.ImportModuleError)."""

    error_type = "Runtime.ImportModuleError"


class HandlerNotFoundError(HandlerImportError):
    """The module has no such handler function (Lambda: Runtime.HandlerNotFound)."""

    error_type = "Runtime.HandlerNotFound"


class MarshalError(Exception):
    """The handler's result is not JSON serializable (Lambda: Runtime.MarshalError)."""

    error_type = "Runtime.MarshalError"


def base_environment(host_env: Mapping[str, str], region: str) -> dict[str, str]:
    """The environment every function starts from (a Lambda-like one)."""
    env = {k: v for k, v in host_env.items() if not k.startswith(_HOST_PREFIXES_DROPPED)}
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_XRAY_SDK_ENABLED": "false",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        }
    )
    return env


def _apply_env(target: Mapping[str, str]) -> None:
    """Make ``os.environ`` equal ``target`` touching only keys that differ."""
    for key in [k for k in os.environ if k not in target]:
        del os.environ[key]
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _function_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        # arn:aws:lambda:region:account:function:name[:qualifier]
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":", 1)[0]


def _sanitize(text: str) -> str:
    return re.sub(r"\W", "_", text)


@dataclass
class _LoadedModule:
    name: str
    module: ModuleType
    handler: Callable[..., Any]


@dataclass
class LambdaRuntime:
    """Patches moto's Lambda backend and runs handlers in-process (one at a time)."""

    functions: Mapping[str, LocalFunction]
    base_env: Mapping[str, str]
    overrides: Mapping[str, str]
    recorder: OperationRecorder
    invocations: list[InvocationRecord] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _modules: dict[str, _LoadedModule] = field(default_factory=dict)
    # Built code (``sam build``'s layout): each function's handler is loaded from
    # ``code_root/<LogicalId>`` instead of its CodeUri folder, and those folders (overlaid
    # in one) come first on ``sys.path`` so the built ``trailwarden`` shadows any other on
    # the path. Modules already imported stay as they are: use it in a fresh process.
    code_root: Path | None = None
    _original_invoke: Any = None
    _sys_path_added: list[str] = field(default_factory=list)
    _union: Path | None = None

    @property
    def environment_lock(self) -> threading.RLock:
        """Held while a handler runs with its function's ``os.environ``: anything that
        reads the process environment from another thread (botocore reads proxies and
        settings when it builds a client) must hold it too, or it sees a half swap."""
        return self._lock

    # ------------------------------------------------------------------ lifecycle

    def code_dir(self, function: LocalFunction) -> Path:
        """Where ``function``'s handler is imported from."""
        if self.code_root is None:
            return function.code_dir
        return self.code_root / function.logical_id

    def install(self, code_dirs: Mapping[str, Path]) -> None:
        """Patch moto's Lambda backend and put the code folders (``code_dirs``: function
        logical id -> CodeUri folder, or its built folder under ``code_root``) on
        ``sys.path``, like /var/task."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self.code_root is not None:
            missing = [lid for lid in code_dirs if not (self.code_root / lid).is_dir()]
            if missing:
                raise HandlerImportError(
                    f"no built code for {', '.join(sorted(missing))} in {self.code_root}"
                )
            # Each package holds only what its handler imports, and the functions share
            # this process: their packages overlaid in one folder (a module is the same
            # bytecode in every package that ships it; tests/build checks each package
            # is complete on its own).
            union = Path(tempfile.mkdtemp(prefix="tw-built-code-"))
            for lid in code_dirs:
                shutil.copytree(self.code_root / lid, union, dirs_exist_ok=True)
            sys.path.insert(0, str(union))
            self._sys_path_added.append(str(union))
            self._union = union
        runtime = self
        original = LambdaSimpleBackend.invoke
        self._original_invoke = original

        def invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            function = runtime.find(function_name)
            if function is None:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            return runtime.invoke(function, body, headers, response_headers)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        if self.code_root is not None:
            return
        for code_dir in dict.fromkeys(str(d) for d in code_dirs.values()):
            if code_dir not in sys.path:
                sys.path.append(code_dir)  # like /var/task: sibling packages import normally
                self._sys_path_added.append(code_dir)

    def uninstall(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        with self._lock:
            if self._original_invoke is not None:
                LambdaSimpleBackend.invoke = self._original_invoke  # type: ignore[method-assign]
                self._original_invoke = None
            for loaded in self._modules.values():
                sys.modules.pop(loaded.name, None)
            self._modules.clear()
            for code_dir in self._sys_path_added:
                if code_dir in sys.path:
                    sys.path.remove(code_dir)
            self._sys_path_added.clear()
            if self._union is not None:
                shutil.rmtree(self._union, ignore_errors=True)
                self._union = None

    # ------------------------------------------------------------------ lookup

    def find(self, name_or_arn: str) -> LocalFunction | None:
        name = _function_name(name_or_arn)
        for function in self.functions.values():
            if name in (function.physical_name, function.logical_id):
                return function
        return None

    # ------------------------------------------------------------------ invoke

    def invoke(
        self, function: LocalFunction, body: Any, headers: Any, response_headers: Any
    ) -> bytes | None:
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        event = json.loads(body) if body else {}
        payload, error = self.run(function, event, invocation_type=invocation_type)
        if invocation_type == "Event":
            return b""  # async: the caller only sees 202; errors were logged
        if error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def run(
        self, function: LocalFunction, event: Any, *, invocation_type: str = "RequestResponse"
    ) -> tuple[bytes, str | None]:
        """Run the handler; returns (JSON payload, errorType or None)."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        with (
            self._lock,
            _stdout_to_stderr(),
            self._function_env(function),
            self.recorder.invocation(function.logical_id),
        ):
            context = LambdaContext(
                function_name=function.physical_name,
                function_version="$LATEST",
                invoked_function_arn=function.arn,
                memory_limit_in_mb=function.memory_size,
                aws_request_id=request_id,
                log_group_name=f"/aws/lambda/{function.physical_name}",
                log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
                deadline_monotonic=started + function.timeout,
            )
            error_type: str | None = None
            error_message: str | None = None
            try:
                handler = self._handler(function)
                result = handler(event, context)
                try:
                    payload = json.dumps(result).encode("utf-8")
                except (TypeError, ValueError) as exc:
                    raise MarshalError(f"Unable to marshal response: {exc}") from exc
            except Exception as exc:
                error_type, error_message = self._error_type(exc), str(exc)
                payload = json.dumps(
                    {
                        "errorType": error_type,
                        "errorMessage": error_message,
                        "stackTrace": traceback.format_tb(exc.__traceback__)[1:],  # not ours
                        "requestId": request_id,
                    }
                ).encode("utf-8")
                LOG.info(
                    "function %s raised %s: %s", function.logical_id, error_type, error_message
                )
            duration_ms = (time.monotonic() - started) * 1000
            if duration_ms > function.timeout * 1000:
                LOG.warning(
                    "function %s ran %.0f ms, over its %s s Timeout (not enforced locally)",
                    function.logical_id,
                    duration_ms,
                    function.timeout,
                )
            self.invocations.append(
                InvocationRecord(
                    function.logical_id,
                    request_id,
                    invocation_type,
                    error_type,
                    error_message,
                    duration_ms,
                )
            )
        return payload, error_type

    @staticmethod
    def _error_type(exc: BaseException) -> str:
        if isinstance(exc, (HandlerImportError, MarshalError)):
            return exc.error_type
        return type(exc).__name__

    @contextmanager
    def _function_env(self, function: LocalFunction) -> Iterator[None]:
        target = dict(self.base_env)
        target.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.physical_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.physical_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{function.logical_id}",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "LAMBDA_TASK_ROOT": str(self.code_dir(function)),
                "_HANDLER": function.handler,
            }
        )
        target.update(function.environment)
        target.update(self.overrides)
        target.pop("POWERTOOLS_DEV", None)
        previous = dict(os.environ)
        _apply_env(target)
        try:
            yield
        finally:
            _apply_env(previous)

    def _handler(self, function: LocalFunction) -> Callable[..., Any]:
        loaded = self._modules.get(function.logical_id)
        if loaded is None:
            loaded = self._import(function)
            self._modules[function.logical_id] = loaded
        return loaded.handler

    def _import(self, function: LocalFunction) -> _LoadedModule:
        """Import the handler module from the CodeUri folder, once per function.

        Each function gets its own module object (unique name), so module-level state such
        as a ``functools.cache``'d ``_deps()`` is per function, as in AWS; packages the
        module imports (``trailwarden.*``) are imported normally and shared.
        """
        module_path, _, attribute = function.handler.rpartition(".")
        if not module_path:
            raise HandlerImportError(f"Bad handler {function.handler!r}: need module.function")
        relative = Path(*module_path.split("."))
        code_dir = self.code_dir(function)
        # Source, or (a built package) sourceless bytecode in its place.
        candidates = [relative.with_suffix(".py"), relative / "__init__.py"]
        candidates += [relative.with_suffix(".pyc"), relative / "__init__.pyc"]
        file = next((code_dir / c for c in candidates if (code_dir / c).is_file()), code_dir)
        if not file.is_file():
            raise HandlerImportError(
                f"Unable to import module {module_path!r}: no {relative}.py in {code_dir}"
            )
        parent, _, leaf = module_path.rpartition(".")
        unique_leaf = f"_twfn_{_sanitize(function.physical_name)}_{_sanitize(leaf)}"
        # Under the real parent package, so relative imports resolve against it.
        name = f"{parent}.{unique_leaf}" if parent else unique_leaf
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:  # pragma: no cover - file exists
            raise HandlerImportError(f"Unable to import module {module_path!r} from {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:
            sys.modules.pop(name, None)
            raise HandlerImportError(f"Unable to import module {module_path!r}: {exc}") from exc
        except BaseException:
            sys.modules.pop(name, None)
            raise
        handler = getattr(module, attribute, None)
        if not callable(handler):
            sys.modules.pop(name, None)
            raise HandlerNotFoundError(
                f"Handler {attribute!r} missing on module {module_path!r} ({file})"
            )
        return _LoadedModule(name, module, handler)
