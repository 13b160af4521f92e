"""The snapshot-exposure workflow was added as one unit (issue: "a workflow is one
unit"): the commit whose subject starts ``snapshot-exposure:`` touches only its unit,
its demo driver, its samples (and their index entries), its tests, the README and the
generated templates (template.yaml, the forwarder and member templates). README "Adding
a workflow" lists the same paths."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALLOWED = (
    re.compile(r"functions/trailwarden/workflows/snapshot_exposure/[^/]+"),
    re.compile(r"local/trailwarden_local/drivers/snapshot_exposure\.py"),
    re.compile(r"events/snapshot-exposure/[^/]+\.json"),
    re.compile(r"events/index\.json"),
    re.compile(r"tests/(unit|workflow|contract)/test_snapshot_exposure\w*\.py"),
    re.compile(r"README\.md"),
    re.compile(r"template\.yaml"),
    re.compile(r"forwarder/template\.yaml"),
    re.compile(r"member/(roles|forwarders)\.yaml"),  # generated too (organisation mode)
)


def allowed(path: str) -> bool:
    return any(pattern.fullmatch(path) for pattern in ALLOWED)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="not a git checkout"
)
def test_the_snapshot_exposure_commit_touches_only_its_unit() -> None:
    commits = [
        line.split(" ", 1)[0]
        for line in git("log", "--format=%H %s").splitlines()
        if line.split(" ", 1)[1].startswith("snapshot-exposure:")
    ]
    assert commits, "no commit whose subject starts 'snapshot-exposure:'"
    for commit in commits:
        paths = git("show", "--name-only", "--format=", commit).split()

        assert paths
        assert [p for p in paths if not allowed(p)] == [], commit


@pytest.mark.parametrize(
    "path",
    [
        "functions/trailwarden/workflows/registry.py",
        "deploy/base.yaml",
        "local/trailwarden_local/drivers/__init__.py",
        "functions/trailwarden/notify/messages.py",
    ],
)
def test_a_shared_file_is_not_part_of_the_unit(path: str) -> None:
    assert not allowed(path)
