"""Offline: what each function's package holds (functions/build_package.py, run by
functions/Makefile during `sam build`), and the manifest that names each function's
handler (functions/packages.json, written by `make template`)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from trailwarden_deploy import generate

from benchmarks.built import load_package_rule
from tests.conftest import REPO
from trailwarden.workflows.registry import declarations
from trailwarden_local.engine.template import load_template_file

rule = load_package_rule()
FUNCTIONS_DIR = REPO / "functions"


def _package(lid: str) -> set[str]:
    spec = rule.read_manifest(FUNCTIONS_DIR)[lid]
    return rule.modules_for(rule.Sources(FUNCTIONS_DIR), spec["handler"], spec["workflow"])


def test_the_committed_package_manifest_is_what_make_template_writes() -> None:
    template = (REPO / "template.yaml").read_text(encoding="utf-8")

    assert (FUNCTIONS_DIR / "packages.json").read_text(
        encoding="utf-8"
    ) == generate.render_packages(template)


def test_the_manifest_names_every_function_its_handler_and_workflow() -> None:
    resources = load_template_file(REPO / "template.yaml")["Resources"]
    functions = {
        lid: body["Properties"]
        for lid, body in resources.items()
        if body["Type"] == "AWS::Serverless::Function"
    }
    manifest = json.loads((FUNCTIONS_DIR / "packages.json").read_text(encoding="utf-8"))

    assert set(manifest["functions"]) == set(functions)
    for lid, spec in manifest["functions"].items():
        assert f"{spec['handler']}.handler" == functions[lid]["Handler"]
        variables = (functions[lid].get("Environment") or {}).get("Variables") or {}
        assert spec["workflow"] == variables.get("WORKFLOW")


def test_a_workflow_function_ships_its_own_workflow_code_and_only_the_others_declarations() -> None:
    modules = _package("AmiExposureAssessFunction")
    units = {f"trailwarden.workflows.{d.id.replace('-', '_')}" for d in declarations()}

    assert {"handlers.assess", "handlers._reach", "trailwarden.workflows.registry"} <= modules
    assert {
        "trailwarden.workflows.ami_exposure.detection",
        "trailwarden.workflows.ami_exposure.remediation",
        "trailwarden.workflows.shares",  # imported inside ami-exposure's load()
    } <= modules
    assert units <= modules  # declarations() imports every unit's __init__
    assert "trailwarden.workflows.sg_open_ingress.remediation" not in modules
    assert "trailwarden.workflows.snapshot_exposure.detection" not in modules
    assert not any(m.startswith("trailwarden.approvals") for m in modules)


def test_a_lazily_imported_module_is_shipped() -> None:
    # handlers/_notify_deps.py imports the Discord webhook inside a function (only with
    # Discord configured): the alert function must still carry it.
    assert "trailwarden.notify.discord" in _package("SgChangeAlertFunction")


def test_a_function_that_loads_no_workflow_ships_no_workflow_code() -> None:
    modules = _package("KeyPairRuleFunction")

    assert "trailwarden.workflows.ec2_keypair.config_rule" in modules
    assert "trailwarden.workflows.ec2_keypair.detection" not in modules
    assert "trailwarden.workflows.registry" not in modules


def test_the_build_copies_exactly_the_rules_modules(tmp_path: Path) -> None:
    copied = rule.build(FUNCTIONS_DIR, "NotifyFunction", tmp_path)
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}

    assert set(copied) == _package("NotifyFunction")
    assert files == {
        str(rule.Sources(FUNCTIONS_DIR).files[m].relative_to(FUNCTIONS_DIR).as_posix())
        for m in copied
    }


def test_the_build_refuses_a_function_missing_from_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(rule.PackageError, match="run make template"):
        rule.build(FUNCTIONS_DIR, "NoSuchFunction", tmp_path)


# --- the rule on a small tree of its own -----------------------------------------------

UNIT = """
from trailwarden.workflows.declaration import DECLARATION_TYPE

DECLARATION = DECLARATION_TYPE


def load():
    from trailwarden.workflows.{name} import detection

    return detection
"""


def _tree(root: Path, handler: str) -> Path:
    files = {
        "handlers/__init__.py": "",
        "handlers/h.py": handler,
        "handlers/_helper.py": "",
        "trailwarden/__init__.py": "",
        "trailwarden/typing_only.py": "",
        "trailwarden/workflows/__init__.py": "",
        "trailwarden/workflows/declaration.py": "DECLARATION_TYPE = object()\n",
        "trailwarden/workflows/registry.py": "import importlib\n",
    }
    for name in ("alpha", "beta"):
        files[f"trailwarden/workflows/{name}/__init__.py"] = UNIT.format(name=name)
        files[f"trailwarden/workflows/{name}/detection.py"] = ""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _modules(tmp_path: Path, handler: str, workflow: str | None = None) -> set[str]:
    sources = rule.Sources(_tree(tmp_path, handler))
    return {m for m in rule.modules_for(sources, "handlers.h", workflow) if m.count(".") >= 2}


def test_a_handler_loading_a_unit_by_its_declaration_ships_that_units_code(
    tmp_path: Path,
) -> None:
    handler = """
        from trailwarden.workflows.beta import DECLARATION as BETA

        def handler():
            from trailwarden.workflows.registry import load_workflow
            return load_workflow(BETA.id)
    """
    modules = _modules(tmp_path, handler)

    assert "trailwarden.workflows.beta.detection" in modules
    assert "trailwarden.workflows.alpha" in modules  # a declaration: the registry lists it
    assert "trailwarden.workflows.alpha.detection" not in modules


def test_the_functions_workflow_is_loaded_through_require_workflow(tmp_path: Path) -> None:
    handler = """
        from trailwarden.workflows.registry import load_workflow

        def handler(env):
            return load_workflow(require_workflow(env))
    """
    assert "trailwarden.workflows.alpha.detection" in _modules(tmp_path, handler, "alpha")
    assert "trailwarden.workflows.beta.detection" not in _modules(tmp_path, handler, "alpha")
    with pytest.raises(rule.PackageError, match="has none"):
        _modules(tmp_path, handler)


def test_a_lookup_over_every_workflow_ships_every_units_code(tmp_path: Path) -> None:
    handler = """
        def handler(event):
            from trailwarden.workflows import registry
            return registry.workflow_for_event(event)
    """
    modules = _modules(tmp_path, handler)

    assert {"trailwarden.workflows.alpha.detection", "trailwarden.workflows.beta.detection"} <= (
        modules
    )


def test_type_checking_imports_are_left_out_and_lazy_ones_kept(tmp_path: Path) -> None:
    handler = """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import trailwarden.typing_only

        def handler():
            import handlers._helper
    """
    sources = rule.Sources(_tree(tmp_path, handler))
    modules = rule.modules_for(sources, "handlers.h", None)

    assert "handlers._helper" in modules
    assert "trailwarden.typing_only" not in modules


def test_a_workflow_load_the_rule_cannot_read_stops_the_build(tmp_path: Path) -> None:
    handler = """
        from trailwarden.workflows.registry import load_workflow

        def handler(name):
            return load_workflow(name)
    """
    with pytest.raises(rule.PackageError, match="cannot tell which workflow"):
        _modules(tmp_path, handler)


def test_an_import_of_a_module_of_ours_that_does_not_exist_stops_the_build(
    tmp_path: Path,
) -> None:
    with pytest.raises(rule.PackageError, match=r"no module trailwarden\.gone"):
        _modules(tmp_path, "def handler():\n    import trailwarden.gone\n")
