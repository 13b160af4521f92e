"""The `sam build` artifact works on its own, under python3.13 as on Lambda.

Builds once per session (about 20 s; `.aws-sam/build` is reused when newer than every
source) and checks what is shipped, not the source tree: every function's handler
imports from its built folder plus the shared layer alone, and one sample event runs
through the local engine on the built code. Skipped where python3.13 or the SAM CLI is
missing (make test creates .venv-sam).
"""

from __future__ import annotations

import hashlib
import json
import re
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
    domain = {n: f for n, f in result["modules"].items() if n.split(".")[0] == "trailwarden"}
    assert domain
    assert all(f.startswith(str(build_dir)) and f.endswith(".pyc") for f in domain.values())
    assert result["modules"]["aws_lambda_powertools"].startswith(str(layer))
