"""Cold import time of each handler module, as a ratio to a bare `import boto3`.

Each measurement is a fresh interpreter (a Lambda cold start imports the handler
module once); the median of N runs is reported. Printed, never asserted.

    python benchmarks/cold_import.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANDLERS = REPO / "functions" / "handlers"
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def measure(module: str, runs: int) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "functions"),
        "PYTHONDONTWRITEBYTECODE": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "trailwarden",
        "POWERTOOLS_METRICS_NAMESPACE": "trailwarden",
    }
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=REPO,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    measure("boto3", 2)  # warm the bytecode caches so every module is measured alike
    baseline = measure("boto3", args.runs)
    modules = sorted(
        f"handlers.{p.stem}" for p in HANDLERS.glob("*.py") if not p.stem.startswith("_")
    )
    print(f"cold import, median of {args.runs} fresh interpreters (baseline: import boto3)")
    print(f"  {'import boto3':<28} {baseline * 1000:8.1f} ms   1.00x")
    for module in modules:
        measure(module, 1)
        took = measure(module, args.runs)
        print(f"  {module:<28} {took * 1000:8.1f} ms   {took / baseline:.2f}x")


if __name__ == "__main__":
    main()
