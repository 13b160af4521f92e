"""What a cold start imports: a function running one workflow loads that workflow's
modules only, and the registry still knows every workflow (replay, tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trailwarden.workflows import registry

REPO = Path(__file__).resolve().parents[2]
# A workflow unit's modules: trailwarden.workflows.<unit>.<module>
WORKFLOW_MODULES = ("trailwarden.workflows.",)


def _loaded_after(code: str, prefixes: tuple[str, ...] = WORKFLOW_MODULES) -> set[str]:
    """The modules named ``prefixes*`` in sys.modules after `code` runs in a fresh
    interpreter (our workflow modules by default)."""
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO / "functions",
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(REPO / "functions")},
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    if prefixes == WORKFLOW_MODULES:
        loaded = {m for m in loaded if m.count(".") >= 3}
    return loaded


def test_importing_the_workflow_handlers_loads_no_workflow() -> None:
    loaded = _loaded_after(
        "import trailwarden.workflows.registry, handlers.alert, handlers.assess, handlers.remediate"
    )

    assert loaded == set()


def test_loading_one_workflow_imports_its_modules_and_no_others() -> None:
    code = "from trailwarden.workflows.registry import load_workflow; load_workflow('ami-exposure')"

    loaded = _loaded_after(code)

    assert {
        "trailwarden.workflows.ami_exposure.detection",
        "trailwarden.workflows.ami_exposure.remediation",
    } <= loaded
    others = [m for m in loaded if not m.startswith("trailwarden.workflows.ami_exposure.")]
    assert others == []


def test_every_workflow_unit_is_registered_under_its_own_id() -> None:
    units = {
        path.name.replace("_", "-")
        for path in (REPO / "functions/trailwarden/workflows").iterdir()
        if (path / "__init__.py").is_file()
    }

    assert {w.id for w in registry.WORKFLOWS} == units
    assert [d.id for d in registry.declarations()] == sorted(units)
    for workflow_id, workflow in registry.BY_ID.items():
        assert workflow.id == workflow_id
        assert registry.load_workflow(workflow_id) is workflow


def test_an_unknown_workflow_id_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        registry.load_workflow("no-such-workflow")


def test_the_discord_approval_functions_load_no_finding_code() -> None:
    loaded = _loaded_after(
        "import handlers.discord_interactions, handlers.discord_resume",
        ("trailwarden.models.findings", "trailwarden.models.events", "trailwarden.notify.discord"),
    )

    assert loaded == set()


def test_a_link_approval_request_loads_neither_parameters_nor_the_discord_app() -> None:
    loaded = _loaded_after(
        "import handlers.approval_request",
        (
            "aws_lambda_powertools.utilities.parameters",
            "trailwarden.approvals.discord_app",
            "trailwarden.notify.discord",
        ),
    )

    assert loaded == set()


def test_the_backstop_loads_no_workflow_message_formatting_until_it_alerts() -> None:
    loaded = _loaded_after(
        "import handlers.backstop",
        (
            "trailwarden.notify.",
            "trailwarden.logic.alert",
            "zoneinfo",
        ),
    )

    assert loaded == {"trailwarden.notify.service"}


def test_the_interactions_function_loads_neither_the_approval_service_nor_its_page() -> None:
    # It must answer Discord within 3 s of a click, cold start included.
    loaded = _loaded_after(
        "import handlers.discord_interactions",
        ("trailwarden.approvals.service", "trailwarden.approvals.page", "trailwarden.notify."),
    )

    assert loaded == set()
