"""Cold import of each handler as Lambda does it, as a ratio to a bare `import boto3`.

What Lambda does on a cold start: a python3.13 imports the handler module from the
built function folder (/var/task) with the shared layer (/opt/python) and the runtime's
precompiled boto3 on the path, all read-only, so only the bytecode the artifact carries
is used. Here: `sam build`'s artifact (reused when fresh, else built), copied read-only,
imported by `python3.13 -I -S` with PYTHONDONTWRITEBYTECODE=1 (benchmarks/built.py);
the baseline is `import boto3` from a compiled copy of the pinned boto3 standing in for
the runtime's (what every Lambda pays anyway). Median of N fresh processes. Then the
zipped size of each function's package (each holds only what its handler can import, so
they differ) and of the layer. Printed, never asserted; targets: every handler <= 1.3x,
every function package <= 256 KiB zipped.

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

import package_size
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
BASELINE = "import boto3 (runtime stand-in)"


def read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def measure(
    python313: str, cases: dict[str, tuple[list[Path], str, dict[str, str]]], runs: int
) -> dict[str, tuple[float, float]]:
    """Median (CPU seconds, wall seconds) per case (name -> sys.path, module, env). Runs
    are interleaved (every case once per round) so a change of load on a shared machine
    hits every case alike."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (paths, module, env) in cases.items():
            probe = run_probe(python313, paths, module, env)
            samples[name].append((probe["cpu_seconds"], probe["seconds"]))
    return {
        name: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for name, got in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    args = parser.parse_args()
    build_dir = args.build_dir.resolve()
    python313 = ensure_build(build_dir)
    functions = built_functions(build_dir)
    sizes, layer_zip, layer_unpacked = package_sizes(build_dir)

    with tempfile.TemporaryDirectory(prefix="tw-cold-") as tmp:
        root = Path(tmp)
        runtime = runtime_boto3(root / "runtime", python313)
        layer = root / "opt"
        shutil.copytree(build_dir / LAYER_ID, layer)
        # Each function's own package: they differ (build_package.py), as on Lambda.
        for lid in functions:
            shutil.copytree(build_dir / lid, root / "task" / lid)
        home = root / "home"
        home.mkdir()
        for folder in (runtime, layer, root / "task"):
            read_only(folder)
        try:
            cases = {BASELINE: ([runtime], "boto3", lambda_env({}, home))}
            for lid, spec in sorted(functions.items()):
                paths = [root / "task" / lid, layer / "python", runtime]
                module = spec["handler"].rpartition(".")[0]
                cases[lid] = (paths, module, lambda_env(spec["env"], home))
            medians = measure(python313, cases, args.runs)
        finally:
            for path in [root, *root.rglob("*")]:
                path.chmod(path.stat().st_mode | stat.S_IWUSR)

    base_cpu, base_wall = medians.pop(BASELINE)
    print(
        f"cold import of each function's handler under python3.13 from its read-only built "
        f"package, median of {args.runs} fresh processes (targets: <= {TARGET_RATIO}x, "
        f"<= {package_size.TARGET_ZIP_KIB} KiB zipped; the ratio is of process CPU time, "
        "steady on a busy machine; wall clock beside it)"
    )
    columns = f"{'cpu':>9} {'ratio':>6} {'wall':>9} {'ratio':>6} {'zipped':>11}"
    print(f"  {'':<34} {'handler':<30} {columns}")
    print(
        f"  {BASELINE:<34} {'':<30} {base_cpu * 1000:6.1f} ms {1:5.2f}x "
        f"{base_wall * 1000:6.1f} ms {1:5.2f}x"
    )
    worst = 0.0
    for lid, (cpu, wall) in medians.items():
        ratio = cpu / base_cpu
        worst = max(worst, ratio)
        size = sizes[lid]
        flag = "" if ratio <= TARGET_RATIO else "  OVER (time)"
        flag += "" if size <= package_size.TARGET_ZIP_KIB * 1024 else "  OVER (size)"
        module = functions[lid]["handler"].rpartition(".")[0]
        print(
            f"  {lid:<34} {module:<30} {cpu * 1000:6.1f} ms {ratio:5.2f}x "
            f"{wall * 1000:6.1f} ms {wall / base_wall:5.2f}x {size / 1024:7.1f} KiB{flag}"
        )
    print(f"  worst {worst:.2f}x, largest package {max(sizes.values()) / 1024:.1f} KiB")
    package_size.print_layer(layer_zip, layer_unpacked)


if __name__ == "__main__":
    main()
