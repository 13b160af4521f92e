"""Zipped deployment package size of each function in template.yaml.

Every function shares CodeUri functions/, so the code zip is the same for all of them;
the dependencies (functions/requirements.txt) are installed for python3.13 on arm64
(manylinux2014_aarch64 wheels from PyPI) as `sam build` would, and zipped with the code.
boto3 and botocore are bundled (see functions/requirements.txt). Printed, never asserted.

    python benchmarks/package_size.py [--no-deps]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SKIP = {"__pycache__", ".pyc", "requirements.txt"}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)


def zipped_size(*roots: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for root in roots:
            for path in sorted(root.rglob("*")):
                if (
                    path.is_file()
                    and not any(part in SKIP for part in path.parts)
                    and (path.suffix != ".pyc")
                ):
                    archive.write(path, path.relative_to(root))
    return buffer.tell()


def install_dependencies(target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(target),
            "--python-version",
            "3.13",
            "--platform",
            "manylinux2014_aarch64",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "-r",
            str(REPO / "functions" / "requirements.txt"),
        ],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-deps", action="store_true", help="code only (no network)")
    args = parser.parse_args()
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_Loader)
    functions = sorted(
        lid
        for lid, body in template["Resources"].items()
        if body.get("Type") == "AWS::Serverless::Function"
    )
    code = zipped_size(REPO / "functions")
    with_deps = None
    if not args.no_deps:
        with tempfile.TemporaryDirectory() as tmp:
            install_dependencies(Path(tmp))
            with_deps = zipped_size(REPO / "functions", Path(tmp))
    print("zipped deployment package per function (CodeUri functions/)")
    print(f"  {'function':<34} {'code':>10} {'code + deps':>14}")
    for lid in functions:
        deps = f"{with_deps / 1024:10.1f} KiB" if with_deps else "   (skipped)"
        print(f"  {lid:<34} {code / 1024:6.1f} KiB {deps}")


if __name__ == "__main__":
    main()
