"""The template writer (deploy/trailwarden_deploy/yaml_text.py) writes what it is given:
YAML reads every value back unchanged, hostile strings included."""

from __future__ import annotations

import pytest
from cfnlint.decode import cfn_yaml
from trailwarden_deploy import generate
from trailwarden_deploy.yaml_text import dump, without_comments

HOSTILE = {
    "half": ".5",
    "infinity": ".inf",
    "exponent": "1e3",
    "hex": "0x1f",
    "boolean-word": "yes",
    "off": "off",
    "null-word": "null",
    "hyphens": "foo-bar-baz-qux " * 8 + "end",
    "double-spaces": "two  spaces " * 10,
    "newlines": "line\nbreak " * 12,
    "leading-blank": " lead" + "x" * 90,
    "dash-start": "- dash " * 15,
    "comment-like": "a #hash and a: colon " * 5,
    "flow-chars": "[a, b] {c: d}",
    "quotes": 'it\'s "quoted"',
    "star": "*",
    "empty": "",
}


@pytest.mark.parametrize(("key", "value"), HOSTILE.items())
def test_every_string_reads_back_unchanged(key: str, value: str) -> None:
    assert cfn_yaml.loads(dump({key: value}))[key] == value


def test_strings_in_flow_lists_read_back_unchanged() -> None:
    values = list(HOSTILE.values())

    assert cfn_yaml.loads(dump({"list": values}))["list"] == values


def test_every_generated_workflow_resource_reads_back_as_generated() -> None:
    units = generate.load_units()
    template = cfn_yaml.loads(generate.render())

    for unit in units:
        resources = generate.expand_markers(generate.unit_resources(unit, units), units)
        for logical_id, body in resources.items():
            assert template["Resources"][logical_id] == without_comments(body), logical_id
