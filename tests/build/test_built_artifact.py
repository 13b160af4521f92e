"""The `sam build` artifact works on its own, under python3.13 as on Lambda.

Builds once per session (about 20 s; `.aws-sam/build` is reused when newer than every
source) and checks what is shipped, not the source tree. Each function's package holds
only the modules its handler can import (functions/build_package.py): its handler and
every module it ships import from its built folder plus the shared layer alone, every
import compiled into its bytecode (lazy ones included) finds its module in the package,
and one sample event runs through the local engine on the built code. Skipped where
python3.13 or the SAM CLI is missing (make test creates .venv-sam).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from benchmarks.built import (
    LAYER_ID,
    REPO,
    built_functions,
    find_python313,
    find_sam,
    is_fresh,
    lambda_env,
    load_package_rule,
    run_probe,
    runtime_boto3,
    sam_build,
)

PYTHON313 = find_python313()
SAM = find_sam()
pytestmark = [
    pytest.mark.skipif(PYTHON313 is None, reason="no python3.13 on PATH or under pyenv"),
    pytest.mark.skipif(SAM is None, reason="no SAM CLI (.venv-sam/bin/sam; make test creates it)"),
]
# What the engine needs under python3.13, at the versions pinned for development.
ENGINE_PACKAGES = ("moto", "aws-sam-translator", "PyYAML", "boto3", "botocore")
PACKAGES = ("handlers", "trailwarden")  # ours: each function ships part of them
rule = load_package_rule()


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert PYTHON313 is not None
    assert SAM is not None
    default = REPO / ".aws-sam" / "build"
    if is_fresh(default):
        return default
    target = tmp_path_factory.mktemp("sam") / "build"
    sam_build(target, PYTHON313, SAM)
    return target


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert PYTHON313 is not None
    return runtime_boto3(tmp_path_factory.mktemp("runtime") / "boto3", PYTHON313)


def stdlib_dir() -> str:
    assert PYTHON313 is not None
    code = "import sysconfig; print(sysconfig.get_paths()['stdlib'])"
    out = subprocess.run(
        [PYTHON313, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_every_handler_imports_from_its_built_folder_and_the_layer_alone(
    build_dir: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    functions = built_functions(build_dir)
    allowed = (str(build_dir / LAYER_ID / "python"), str(runtime_dir), stdlib_dir())

    strays: dict[str, list[str]] = {}
    for lid, spec in sorted(functions.items()):
        module, _, attribute = spec["handler"].rpartition(".")
        paths = [build_dir / lid, build_dir / LAYER_ID / "python", runtime_dir]
        env = lambda_env(spec["env"], tmp_path)
        loaded = run_probe(PYTHON313 or "", paths, module, env, attribute)["modules"]
        ours = (str(build_dir / lid), *allowed)
        strays[lid] = [
            f"{name}: {file}" for name, file in loaded.items() if file and not file.startswith(ours)
        ]
        assert loaded[module].startswith(str(build_dir / lid))
        assert loaded["aws_lambda_powertools"].startswith(allowed[0])

    assert len(functions) >= 21
    assert {lid: s for lid, s in strays.items() if s} == {}


# Runs under `python3.13 -I -S` like PROBE: imports every module a function ships, then
# calls load() of each workflow unit the function may load (its WORKFLOW, the backstop's
# app-tamper), with the function's folder, the layer and the runtime's boto3 alone.
IMPORT_ALL = """
import importlib, json, socket, sys
def _no_network(*args, **kwargs):
    raise OSError("network is off in the built-artifact probe")
socket.socket.connect = _no_network
socket.create_connection = _no_network
sys.path[:0] = {paths!r}
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = repr(error)
for unit in {units!r}:
    try:
        importlib.import_module(unit).load()
    except Exception as error:
        failed[unit + ".load()"] = repr(error)
print(json.dumps(failed))
"""

# Runs under python3.13 (bytecode is version-specific): every import statement compiled
# into a package's .pyc files, module-level and inside functions alike.
BYTECODE_IMPORTS = """
import dis, json, marshal, pathlib, sys
root = pathlib.Path(sys.argv[1])
found = []
def walk(code, module):
    instructions = list(dis.get_instructions(code))
    for i, ins in enumerate(instructions):
        if ins.opname == "IMPORT_NAME":
            level, fromlist = instructions[i - 2].argval, instructions[i - 1].argval
            found.append([module, code.co_qualname, ins.line_number, ins.argval, level,
                          list(fromlist or ())])
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            walk(const, module)
for path in sorted(root.rglob("*.pyc")):
    parts = path.relative_to(root).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    walk(marshal.loads(path.read_bytes()[16:]), name)
print(json.dumps(found))
"""


def shipped_modules(folder: Path) -> dict[str, Path]:
    """Module name -> .pyc file of a built function package."""
    found = {}
    for path in folder.rglob("*.pyc"):
        parts = path.relative_to(folder).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_lines(source: Path) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            lines.update(range(node.body[0].lineno, (node.body[-1].end_lineno or 0) + 1))
    return lines


def missing_imports(folder: Path, handler: str, workflow: str | None) -> list[str]:
    """Every import of one of our modules, read from the package's own bytecode (lazy ones
    included), that the package does not hold. Not checked: `if TYPE_CHECKING:` blocks
    (never run) and the load() of a workflow unit the function never loads."""
    assert PYTHON313 is not None
    out = subprocess.run(
        [PYTHON313, "-I", "-S", "-c", BYTECODE_IMPORTS, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    sources = rule.Sources(REPO / "functions")
    _, loaded = rule.package_for(sources, handler, workflow)
    shipped = shipped_modules(folder)
    skipped = {m: _type_checking_lines(sources.files[m]) for m in shipped}
    missing = []
    for module, qualname, line, imported, level, fromlist in json.loads(out.stdout):
        if line in skipped[module]:
            continue
        if qualname == "load" and sources.unit_of(module) == module and module not in loaded:
            continue
        name = imported
        if level:
            base = module if sources.is_package(module) else module.rpartition(".")[0]
            base = ".".join(base.split(".")[: len(base.split(".")) - level + 1])
            name = f"{base}.{imported}" if imported else base
        if name.split(".")[0] not in PACKAGES:
            continue
        targets = [name, *(f"{name}.{f}" for f in fromlist if f"{name}.{f}" in sources.files)]
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                needed = ".".join(parts[:i])
                if needed not in shipped:
                    missing.append(f"{module} ({qualname}, line {line}) imports {needed}")
    return sorted(set(missing))


def test_every_module_a_function_ships_imports_with_the_layer_alone(
    build_dir: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    """Not only the handler: every module in the package (those its handler imports
    lazily too), and the code of each workflow it may load."""
    sources = rule.Sources(REPO / "functions")
    failures = {}
    for lid, spec in sorted(built_functions(build_dir).items()):
        module = spec["handler"].rpartition(".")[0]
        _, units = rule.package_for(sources, module, spec["env"].get("WORKFLOW"))
        modules = sorted(shipped_modules(build_dir / lid))
        paths = [str(build_dir / lid), str(build_dir / LAYER_ID / "python"), str(runtime_dir)]
        script = IMPORT_ALL.format(paths=paths, modules=modules, units=sorted(units))
        out = subprocess.run(
            [PYTHON313 or "", "-I", "-S", "-c", script],
            capture_output=True,
            text=True,
            env=lambda_env(spec["env"], tmp_path),
            check=False,
        )
        assert out.returncode == 0, out.stderr[-4000:]
        failures[lid] = json.loads(out.stdout.strip().splitlines()[-1])
        if spec["env"].get("WORKFLOW"):
            assert unit_name(spec["env"]["WORKFLOW"]) in units, lid

    assert (
        "trailwarden.workflows.app_tamper"
        in rule.package_for(sources, "handlers.backstop", None)[1]
    )
    assert {lid: f for lid, f in failures.items() if f} == {}


def unit_name(workflow: str) -> str:
    return f"trailwarden.workflows.{workflow.replace('-', '_')}"


def test_every_import_in_a_functions_bytecode_is_in_its_package(build_dir: Path) -> None:
    missing = {
        lid: missing_imports(
            build_dir / lid, spec["handler"].rpartition(".")[0], spec["env"].get("WORKFLOW")
        )
        for lid, spec in sorted(built_functions(build_dir).items())
    }

    assert {lid: m for lid, m in missing.items() if m} == {}


def test_the_import_check_finds_a_lazily_imported_module_a_package_lacks(
    build_dir: Path, runtime_dir: Path, tmp_path: Path
) -> None:
    """The alert function imports the Discord webhook only when Discord is configured:
    without it the handler still imports, and only the bytecode check sees the gap."""
    spec = built_functions(build_dir)["SgChangeAlertFunction"]
    folder = tmp_path / "SgChangeAlertFunction"
    shutil.copytree(build_dir / "SgChangeAlertFunction", folder)
    (folder / "trailwarden" / "notify" / "discord.pyc").unlink()
    paths = [folder, build_dir / LAYER_ID / "python", runtime_dir]

    run_probe(PYTHON313 or "", paths, "handlers.alert", lambda_env(spec["env"], tmp_path))
    missing = missing_imports(folder, "handlers.alert", "sg-change")

    assert missing
    assert all(m.endswith("imports trailwarden.notify.discord") for m in missing)
    assert any(m.startswith("handlers._notify_deps (") for m in missing)


def test_packages_carry_unchecked_python313_bytecode_and_only_arm64_extensions(
    build_dir: Path,
) -> None:
    functions = built_functions(build_dir)
    layer = build_dir / LAYER_ID / "python"
    pycs = [p for lid in functions for p in (build_dir / lid).rglob("*.pyc")]
    pycs += list(layer.rglob("*.cpython-313.pyc"))
    layer_sources = [p for p in layer.rglob("*.py") if "__pycache__" not in p.parts]

    # flags word of a .pyc: 1 = hash-based without source check (unchecked-hash).
    assert {int.from_bytes(p.read_bytes()[4:8], "little") for p in pycs} == {1}
    assert [
        p
        for p in layer_sources
        if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()
    ] == []
    for lid in functions:
        shipped = {p.suffix for p in (build_dir / lid).rglob("*") if p.is_file()}
        assert shipped == {".pyc"}, lid  # no sources, no requirements.txt, no Makefile
    # The only compiled extensions are PyNaCl's and cffi's, built for the functions'
    # arm64 (ELF e_machine 183 = AArch64). Only the Discord interactions function imports
    # nacl, lazily, so every handler still imports here on x86_64.
    extensions = sorted(layer.rglob("*.so"))
    assert {p.relative_to(layer).parts[0] for p in extensions} <= {
        "nacl",
        "_cffi_backend.cpython-313-aarch64-linux-gnu.so",
    }
    assert extensions, "PyNaCl's compiled module is missing from the layer"
    for extension in extensions:
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183, (
            extension
        )
    assert not any((layer / name).exists() for name in ("boto3", "botocore", "aws_xray_sdk"))


def _pins(*names: str) -> list[str]:
    text = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    text += (REPO / "layer" / "requirements.txt").read_text(encoding="utf-8")
    pins = []
    for name in names:
        match = re.search(rf"^{re.escape(name)}(\[[^\]]*\])?==(\S+)", text, re.MULTILINE | re.I)
        assert match, f"{name} is not pinned"
        pins.append(f"{name}{match.group(1) or ''}=={match.group(2)}")
    return pins


@pytest.fixture(scope="session")
def engine_deps() -> Path:
    """The engine's own dependencies for python3.13 (pinned versions), kept between runs."""
    assert PYTHON313 is not None
    pins = _pins(*ENGINE_PACKAGES)
    key = hashlib.sha256(json.dumps(pins).encode()).hexdigest()[:12]
    target = REPO / ".aws-sam" / f"engine-py313-{key}"
    if not (target / ".complete").is_file():
        pip = [PYTHON313, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(
            [*pip, "--target", str(target), *pins],
            check=True,
            capture_output=True,
        )
        (target / ".complete").touch()
    return target


ENGINE_RUN = """
import json, sys
sys.path[:0] = {paths!r}
import boto3
from trailwarden_local.engine import LocalApp

index = json.load(open({index!r}))
event = json.load(open({event!r}))
env = {{"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}}
with LocalApp({template!r}, parameters=index["parameters"], function_env_overrides=env,
              code_root={code_root!r}) as app:
    ec2 = boto3.client("ec2", region_name=app.region)
    image = ec2.register_image(Name="built-code", RootDeviceName="/dev/xvda")["ImageId"]
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={{"Add": [{{"Group": "all"}}]}})
    event["detail"]["requestParameters"]["imageId"] = image
    (delivery,) = app.put_event(event)
    execution = app.wait_for_execution(delivery.execution_arn)
    after = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")
    ran = sorted({{i.function_logical_id for i in app.invocations}})
    errors = [i.error_type for i in app.invocations if i.error_type]
files = {{n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}}
print(json.dumps({{"status": execution["status"], "after": after["LaunchPermissions"],
                  "ran": ran, "errors": errors, "modules": files}}))
"""


def test_sample_event_runs_through_the_engine_on_the_built_code(
    build_dir: Path, engine_deps: Path, tmp_path: Path
) -> None:
    """ami-exposure made public: Assess, Notify, Remediate and Report run from the built
    packages (python3.13 bytecode) with the layer's Powertools; the image is private after."""
    layer = build_dir / LAYER_ID / "python"
    script = ENGINE_RUN.format(
        paths=[str(REPO / "local"), str(layer), str(engine_deps)],
        index=str(REPO / "events" / "index.json"),
        event=str(REPO / "events" / "ami-exposure" / "made-public.json"),
        template=str(REPO / "template.yaml"),
        code_root=str(build_dir),
    )
    env = lambda_env({}, tmp_path)

    out = subprocess.run(
        [PYTHON313 or "", "-I", "-S", "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )

    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "SUCCEEDED"
    assert result["errors"] == []
    assert result["after"] == []
    assert {"AmiExposureAssessFunction", "AmiExposureRemediateFunction"} <= set(result["ran"])
    # our code is the built packages' sourceless bytecode (overlaid by the engine in one
    # folder, since the functions share its process), never the source tree
    ours = {n: f for n, f in result["modules"].items() if n.split(".")[0] in PACKAGES}
    assert "trailwarden.workflows.ami_exposure.remediation" in ours
    assert all(
        f.endswith(".pyc") and not f.startswith(str(REPO / "functions")) for f in ours.values()
    )
    assert result["modules"]["aws_lambda_powertools"].startswith(str(layer))
