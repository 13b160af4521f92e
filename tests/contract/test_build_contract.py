"""Offline: every function is built the way the built-artifact test checks it.

`sam build` only compiles a function with functions/Makefile when the function says
`Metadata: BuildMethod: makefile`; without it SAM's pip builder ships the source with
no bytecode. A function added later must say it too, and take the shared layer.
"""

from __future__ import annotations

import ast
from typing import Any

from tests.conftest import REPO
from trailwarden_local.engine.template import load_template_file

TEMPLATE = load_template_file(REPO / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {
    lid: body for lid, body in RESOURCES.items() if body["Type"] == "AWS::Serverless::Function"
}
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]


def test_every_function_is_compiled_by_the_functions_makefile() -> None:
    not_built = sorted(
        lid
        for lid, body in FUNCTIONS.items()
        if (body.get("Metadata") or {}).get("BuildMethod") != "makefile"
        or body["Properties"].get("CodeUri", GLOBALS["CodeUri"]) != "functions/"
    )

    assert FUNCTIONS
    assert not_built == []
    assert (REPO / "functions" / "Makefile").is_file()
    assert not (REPO / "functions" / "requirements.txt").exists()


def test_every_function_takes_the_one_shared_layer() -> None:
    layer = RESOURCES["DependenciesLayer"]
    own_layers = sorted(lid for lid, body in FUNCTIONS.items() if "Layers" in body["Properties"])

    assert GLOBALS["Layers"] == [{"Ref": "DependenciesLayer"}]
    assert own_layers == []
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layer/"
    assert (REPO / "layer" / "Makefile").read_text(encoding="utf-8").count(
        "build-DependenciesLayer:"
    ) == 1


def test_function_code_has_no_assert_statements() -> None:
    """Function packages are compiled with -o 2 (functions/Makefile), which drops asserts:
    the code must raise typed errors instead."""
    found = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in sorted((REPO / "functions").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]

    assert found == []
