"""Cold import of each handler as Lambda does it, as a ratio to a bare `import boto3`.

What Lambda does on a cold start: a python3.13 imports the handler module from the
built function folder (/var/task) with the shared layer (/opt/python) and the runtime's
precompiled boto3 on the path, all read-only, so only the bytecode the artifact carries
is used. Here: `sam build`'s artifact (reused when fresh, else built), copied read-only,
imported by `python3.13 -I -S` with PYTHONDONTWRITEBYTECODE=1 (benchmarks/built.py);
the baseline is `import boto3` from a compiled copy of the pinned boto3 standing in for
the runtime's (what every Lambda pays anyway). Median of N fresh processes. Then the
zipped size of each function package and of the layer. Printed, never asserted;
targets: every handler <= 1.3x, every function package <= 256 KiB zipped.

    python benchmarks/cold_import.py [--runs 11] [--build-dir .aws-sam/build]
"""

from __future__ import annotations

import argparse
import shutil
import stat
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from built import (
    LAYER_ID,
    REPO,
    built_functions,
    ensure_build,
    lambda_env,
    package_sizes,
    run_probe,
    runtime_boto3,
)

TARGET_RATIO = 1.3
TARGET_ZIP_KIB = 256


def read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def median_seconds(
    python313: str, paths: list[Path], module: str, env: dict[str, str], runs: int
) -> float:
    return statistics.median(
        run_probe(python313, paths, module, env)["seconds"] for _ in range(runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    args = parser.parse_args()
    build_dir = args.build_dir.resolve()
    python313 = ensure_build(build_dir)
    functions = built_functions(build_dir)
    # One function per handler module (functions sharing a module ship the same code).
    by_module: dict[str, str] = {}
    for lid, spec in sorted(functions.items()):
        by_module.setdefault(spec["handler"].rpartition(".")[0], lid)

    with tempfile.TemporaryDirectory(prefix="tw-cold-") as tmp:
        root = Path(tmp)
        runtime = runtime_boto3(root / "runtime", python313)
        layer = root / "opt"
        shutil.copytree(build_dir / LAYER_ID, layer)
        for lid in by_module.values():
            shutil.copytree(build_dir / lid, root / "task" / lid)
        home = root / "home"
        home.mkdir()
        for folder in (runtime, layer, root / "task"):
            read_only(folder)
        try:
            base_env = lambda_env({}, home)
            baseline = median_seconds(python313, [runtime], "boto3", base_env, args.runs)
            print(
                f"cold import under python3.13 from the read-only built artifact, "
                f"median of {args.runs} fresh processes (target <= {TARGET_RATIO}x)"
            )
            print(f"  {'import boto3 (runtime stand-in)':<34} {baseline * 1000:7.1f} ms  1.00x")
            worst = 0.0
            for module, lid in sorted(by_module.items()):
                env = lambda_env(functions[lid]["env"], home)
                paths = [root / "task" / lid, layer / "python", runtime]
                took = median_seconds(python313, paths, module, env, args.runs)
                ratio = took / baseline
                worst = max(worst, ratio)
                flag = "" if ratio <= TARGET_RATIO else "  OVER"
                print(f"  {module:<34} {took * 1000:7.1f} ms  {ratio:.2f}x{flag}")
            print(f"  worst {worst:.2f}x")
        finally:
            for path in [root, *root.rglob("*")]:
                path.chmod(path.stat().st_mode | stat.S_IWUSR)

    sizes, layer_zip, layer_unpacked = package_sizes(build_dir)
    print(f"zipped code package per function (target <= {TARGET_ZIP_KIB} KiB)")
    for lid, size in sizes.items():
        flag = "" if size <= TARGET_ZIP_KIB * 1024 else "  OVER"
        print(f"  {lid:<34} {size / 1024:7.1f} KiB{flag}")
    print(
        f"  {LAYER_ID + ' (shared layer)':<34} {layer_zip / 2**20:7.2f} MB zipped, "
        f"{layer_unpacked / 2**20:.2f} MB unpacked"
    )


if __name__ == "__main__":
    main()
