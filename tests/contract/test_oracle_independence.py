"""The demo and the workflow tests grade the code with an oracle of their own.

A "before/after" read with the domain's own readers would agree with the code under
test whatever it did. So, checked on the source with ``ast`` (imports inside functions
and ``importlib.import_module("...")`` count too):

1. **Demo drivers** (``local/trailwarden_local/drivers/``) import nothing from the
   ``trailwarden`` package, not even a constant: contract strings they need (the
   backstop's event ``source``) are written literally. From ``trailwarden_local`` they
   import only the drivers, the engine and the samples (so a domain reader cannot come
   back through another local module, e.g. replay's).
2. **Workflow tests** (``tests/workflow/``) drive the handlers, so they may import the
   package (registry, permissions, errors, settings, message labels) but none of its
   readers: no module of a workflow's detection or remediation (a path segment
   ``detections``, ``detection``, ``remediations``, ``remediation``, ``config_rules``,
   ``config_rule``, or a workflow id such as ``trailwarden.workflows.ami_exposure``),
   no security-group rule parser (``sg_rules``), no data access (``dal``), and no name
   that reads or parses (``read_*``, ``parse_*``, ``live_*``, ``from_api``) from
   anywhere in the package, whether imported or reached as an attribute. They read
   state through a driver's ``read_state`` or plain boto3.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, load_index

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DOMAIN = "trailwarden"
DRIVERS_DIR = REPO / "local" / "trailwarden_local" / "drivers"
WORKFLOW_TESTS_DIR = REPO / "tests" / "workflow"
DRIVER_FILES = sorted(DRIVERS_DIR.glob("*.py"))
WORKFLOW_TEST_FILES = sorted(WORKFLOW_TESTS_DIR.glob("*.py"))

# The only trailwarden_local modules a driver may import (and their submodules).
DRIVER_LOCAL_IMPORTS = (
    "trailwarden_local.drivers",
    "trailwarden_local.engine",
    "trailwarden_local.samples",
)
# Workflow ids are contract strings; a package named after one is that workflow's unit.
WORKFLOW_UNITS = frozenset(
    str(entry["workflow"]).replace("-", "_")
    for entry in load_index()["events"]
    if entry.get("workflow")
)
READER_MODULES = frozenset(
    {
        "detections",
        "detection",
        "remediations",
        "remediation",
        "config_rules",
        "config_rule",
        "sg_rules",
        "dal",
    }
)
READER_NAME = re.compile(r"^(read|parse|live)_|^from_api$")


def _resolve(module: str | None, level: int, package: str) -> str:
    """The absolute module of a (possibly relative) ``from`` import in ``package``."""
    if level == 0:
        return module or ""
    base = package.rsplit(".", level - 1)[0] if level > 1 else package
    return f"{base}.{module}" if module else base


def _attribute_path(node: ast.Attribute) -> tuple[str, list[str]] | None:
    """``a.b.c`` as (root name, [b, c]); None when the chain is not rooted at a name."""
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.insert(0, current.attr)
        current = current.value
    return (current.id, parts) if isinstance(current, ast.Name) else None


def imported(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted path) of everything the source imports or reaches through an
    imported module: ``import m`` gives ``m``; ``from m import n`` gives ``m.n``;
    ``importlib.import_module("m")`` gives ``m``; ``m.x.y`` after ``import m`` gives
    ``m.x.y``."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> the module path it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bound[root] = root
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node.module, node.level, package)
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
                bound[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            path = _attribute_path(node)
            if path and path[0] in bound:
                yield node.lineno, ".".join([bound[path[0]], *path[1]])


def _in(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def driver_violations(source: str, package: str = "trailwarden_local.drivers") -> list[str]:
    problems = []
    for line, path in imported(source, package):
        if _in(path, DOMAIN):
            problems.append(f"line {line}: {path} (drivers import nothing from {DOMAIN})")
        elif _in(path, "trailwarden_local") and not any(
            _in(path, allowed) for allowed in DRIVER_LOCAL_IMPORTS
        ):
            problems.append(f"line {line}: {path} (drivers import only {DRIVER_LOCAL_IMPORTS})")
    return problems


def workflow_test_violations(source: str, package: str = "tests.workflow") -> list[str]:
    problems = []
    for line, path in imported(source, package):
        if not _in(path, DOMAIN):
            continue
        segments = path.split(".")[1:]
        reader_modules = (READER_MODULES | WORKFLOW_UNITS).intersection(segments)
        if reader_modules:
            problems.append(f"line {line}: {path} (a reader module: {sorted(reader_modules)})")
        elif any(READER_NAME.match(segment) for segment in segments):
            problems.append(f"line {line}: {path} (a reader or parser of the domain)")
    return problems


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_both_directories_have_modules_to_check() -> None:
    assert len(DRIVER_FILES) >= 10
    assert len(WORKFLOW_TEST_FILES) >= 10
    assert {"ami_exposure", "sg_open_ingress", "cloudtrail_tamper"} <= WORKFLOW_UNITS


@pytest.mark.parametrize("path", DRIVER_FILES, ids=_relative)
def test_demo_driver_imports_nothing_from_the_domain(path: Path) -> None:
    assert driver_violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", WORKFLOW_TEST_FILES, ids=_relative)
def test_workflow_test_imports_no_domain_reader(path: Path) -> None:
    assert workflow_test_violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from trailwarden.remediations.ami_exposure import read_launch_permissions\n",
        "from trailwarden.workflows.ami_exposure.remediation import read_launch_permissions\n",
        "import trailwarden.sg_rules\n",
        "from trailwarden import sg_rules as rules\n",
        "def f():\n    from trailwarden.detections.cloudtrail_tamper import BACKSTOP_SOURCE\n",
        "import importlib\nimportlib.import_module('trailwarden.sg_rules')\n",
        "from trailwarden_local.replay_core import replay_record\n",
        "from trailwarden_local import replay_rules\n",
        "from ..replay_core import replay_record\n",
    ],
)
def test_a_driver_importing_the_domain_or_replay_is_caught(source: str) -> None:
    assert driver_violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import boto3\nimport ipaddress\n",
        "from trailwarden_local.drivers.base import Prepared, client\n",
        "from trailwarden_local.drivers import observe\n",
        "from . import observe\n",
        "from trailwarden_local.engine import Delivery\n",
        "from trailwarden_local import samples\n",
    ],
)
def test_a_driver_may_import_drivers_engine_samples_and_libraries(source: str) -> None:
    assert driver_violations(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "from trailwarden.remediations.ami_exposure import read_launch_permissions\n",
        "from trailwarden.workflows.ami_exposure.remediation import read_launch_permissions\n",
        "from trailwarden.workflows.ami_exposure import DECLARATION\n",
        "from trailwarden.workflows import sg_open_ingress\n",
        "from trailwarden.detections.sg_change import rule_ids\n",
        "from trailwarden.models.sg_rules import IngressRule\n",
        "from trailwarden.dal.incidents import IncidentStore\n",
        "from trailwarden.models.events import parse_event\n",
        "from trailwarden.logic.assess import live_state as state\n",
        "import trailwarden.remediations.ami_exposure as ami\n",
        "import trailwarden\ntrailwarden.remediations.ami_exposure.read_launch_permissions(e, i)\n",
        "from trailwarden import workflows\nworkflows.waf_protected_ip.remediation.apply()\n",
    ],
)
def test_a_workflow_test_importing_a_domain_reader_is_caught(source: str) -> None:
    assert workflow_test_violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from trailwarden.registry import BY_ID\n",
        "from trailwarden.permissions import declared_actions\n",
        "from trailwarden.workflows.registry import BY_ID\n",
        "from trailwarden.workflows.permissions import declared_actions\n",
        "from trailwarden.errors import ERROR_NAMES\n",
        "from trailwarden.models.errors import ERROR_NAMES\n",
        "from trailwarden.notify.messages import SETTINGS_WARNING_LABEL\n",
        "from trailwarden_local.drivers import DRIVERS\n",
        "from tests.workflow.conftest import Harness, fresh\n",
    ],
)
def test_a_workflow_test_may_import_handlers_registry_and_labels(source: str) -> None:
    assert workflow_test_violations(source) == []
