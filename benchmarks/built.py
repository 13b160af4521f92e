"""The `sam build` artifact as Lambda sees it: shared by the cold-start benchmark and the
built-artifact test (tests/build/).

Lambda's python3.13 runtime puts the function folder (/var/task), the layer's `python/`
(/opt/python) and its own boto3 on `sys.path`; everything is read-only, so nothing is
compiled that the artifact does not carry. :func:`probe_command` reproduces that with a
python3.13 started with `-I -S` (no project virtualenv, no site-packages, no PYTHON*
variables) and a boto3 stand-in copied from this environment (the pinned version) and
compiled, since the runtime provides boto3 already compiled.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
LAYER_ID = "DependenciesLayer"
# The runtime's boto3 and what it imports (all pure Python), copied from this environment.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
PLACEHOLDER = "placeholder"  # environment values the template leaves to CloudFormation
SOURCES = (REPO / "template.yaml", REPO / "functions", REPO / "layer")


def load_package_rule() -> ModuleType:
    """functions/build_package.py (what each function package holds), as a module: it is
    a build script in functions/, not part of a package."""
    path = REPO / "functions" / "build_package.py"
    module = sys.modules.get("build_package")
    if module is None:
        spec = importlib.util.spec_from_file_location("build_package", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_package"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return module


def find_python313() -> str | None:
    """A python3.13 the way `make build` finds one: $PYTHON313, PATH, then pyenv."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [os.environ.get("PYTHON313", ""), shutil.which("python3.13") or ""]
    candidates += sorted(str(p) for p in Path(pyenv_root).glob("versions/3.13*/bin/python3.13"))
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def find_sam() -> str | None:
    """The SAM CLI of `make test` (.venv-sam), else $SAM, else `sam` on PATH."""
    local = REPO / ".venv-sam" / "bin" / "sam"
    for candidate in (str(local), os.environ.get("SAM", ""), shutil.which("sam") or ""):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def is_fresh(build_dir: Path) -> bool:
    """True when `build_dir` holds a build newer than every source file it is made of."""
    built = build_dir / "template.yaml"
    if not built.is_file() or not (build_dir / LAYER_ID / "python").is_dir():
        return False
    stamp = built.stat().st_mtime
    for source in SOURCES:
        files = [source] if source.is_file() else source.rglob("*")
        if any(f.stat().st_mtime > stamp for f in files if "__pycache__" not in f.parts):
            return False
    return True


def sam_build(build_dir: Path, python313: str, sam: str) -> None:
    """Plain `sam build` (as `make build` runs it) into `build_dir`."""
    env = {
        **os.environ,
        "PATH": f"{Path(python313).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHON313": python313,
        "SAM_CLI_TELEMETRY": "0",
    }
    subprocess.run(
        [sam, "build", "--template", str(REPO / "template.yaml"), "--build-dir", str(build_dir)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )


def runtime_boto3(target: Path, python313: str) -> Path:
    """boto3 standing in for the runtime's: this environment's (pinned) copy, compiled."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed here (requirements-dev.txt)")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            shutil.copytree(
                origin.parent,
                target / name,
                ignore=shutil.ignore_patterns("__pycache__"),
                dirs_exist_ok=True,
            )
        else:
            shutil.copy2(origin, target / origin.name)
    subprocess.run(
        [
            python313,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda _loader, _suffix, _node: {"intrinsic": True})


def built_functions(build_dir: Path) -> dict[str, dict[str, Any]]:
    """Logical id -> {"handler", "env"} from the built template; values the template
    leaves to CloudFormation (!Ref, !GetAtt, ...) become placeholders."""
    template = yaml.load((build_dir / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    defaults = template.get("Globals", {}).get("Function", {})
    global_env = (defaults.get("Environment") or {}).get("Variables") or {}
    found = {}
    for lid, body in template["Resources"].items():
        if body.get("Type") != "AWS::Serverless::Function":
            continue
        props = body["Properties"]
        variables = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        found[lid] = {
            "handler": props["Handler"],
            "env": {k: v if isinstance(v, str) else PLACEHOLDER for k, v in variables.items()},
        }
    return found


def lambda_env(function_env: dict[str, str], home: Path) -> dict[str, str]:
    """A Lambda-like environment with no credentials and no way to find any."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
        **function_env,
    }


# Runs under `python3.13 -I -S`: sockets refuse to connect, sys.path is what Lambda gives
# (function, layer, runtime boto3, stdlib), the module is imported and timed (wall clock
# and process CPU time), and every module loaded is reported with the file it came from.
PROBE = """
import json, socket, sys, time
def _no_network(*args, **kwargs):
    raise OSError("network is off in the built-artifact probe")
socket.socket.connect = _no_network
socket.create_connection = _no_network
sys.path[:0] = {paths!r}
started, cpu = time.perf_counter(), time.process_time()
module = __import__({module!r}, fromlist=["_"])
took, cpu = time.perf_counter() - started, time.process_time() - cpu
attribute = {attribute!r}
if attribute and not callable(getattr(module, attribute, None)):
    raise SystemExit(f"{{module.__name__}} has no callable {{attribute}}")
files = {{name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}}
print(json.dumps({{"seconds": took, "cpu_seconds": cpu, "modules": files}}))
"""


def probe_command(
    python313: str, paths: list[Path], module: str, attribute: str | None = None
) -> list[str]:
    code = PROBE.format(paths=[str(p) for p in paths], module=module, attribute=attribute)
    return [python313, "-I", "-S", "-c", code]


def run_probe(
    python313: str,
    paths: list[Path],
    module: str,
    env: dict[str, str],
    attribute: str | None = None,
) -> dict[str, Any]:
    out = subprocess.run(
        probe_command(python313, paths, module, attribute),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def zipped_size(root: Path) -> int:
    """Bytes of `root` zipped as `sam deploy` would (deflate, every file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root))
    return buffer.tell()


def package_sizes(build_dir: Path) -> tuple[dict[str, int], int, int]:
    """(zipped bytes per function package, zipped layer bytes, unpacked layer bytes)."""
    sizes = {lid: zipped_size(build_dir / lid) for lid in sorted(built_functions(build_dir))}
    layer = build_dir / LAYER_ID
    unpacked = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    return sizes, zipped_size(layer), unpacked


def ensure_build(build_dir: Path) -> str:
    """Reuse `build_dir` when fresh, else `sam build` into it; returns the python3.13."""
    python313 = find_python313()
    if python313 is None:
        sys.exit("no python3.13 on PATH or under pyenv: cannot build or import the artifact")
    if not is_fresh(build_dir):
        sam = find_sam()
        if sam is None:
            sys.exit("no SAM CLI (.venv-sam/bin/sam, $SAM or sam on PATH): run make build")
        print(f"building {build_dir} with sam build ...", file=sys.stderr)
        sam_build(build_dir, python313, sam)
    return python313
