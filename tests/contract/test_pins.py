"""Every dependency is pinned to an exact version, exactly once, across the three files."""

from __future__ import annotations

import re

from tests.conftest import REPO

FILES = ("layer/requirements.txt", "requirements-dev.txt", "requirements-sam.txt")
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")


def requirements() -> list[tuple[str, str, str]]:
    found = []
    for name in FILES:
        for raw in (REPO / name).read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-r "):
                continue
            match = _REQUIREMENT.match(line)
            assert match, f"{name}: cannot read {raw!r}"
            found.append((name, match.group(1).lower().replace("_", "-"), match.group(3)))
    return found


def test_every_dependency_is_pinned_to_an_exact_version() -> None:
    loose = [(f, pkg, spec) for f, pkg, spec in requirements() if not re.fullmatch(r"==\S+", spec)]

    assert loose == []


def test_no_dependency_is_pinned_twice() -> None:
    packages = [pkg for _f, pkg, _spec in requirements()]

    assert sorted({p for p in packages if packages.count(p) > 1}) == []
