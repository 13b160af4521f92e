"""Zipped size of each function's code package and of the shared layer, as built.

Reads `sam build`'s artifact (reused when fresh, else built; see benchmarks/built.py):
each function folder holds the part of our code its handler can import, as python3.13
bytecode (functions/build_package.py), the dependencies are in the one DependenciesLayer.
Printed, never asserted; target: every function package at most 256 KiB zipped
(cold_import.py prints each size beside the function's cold import).

    python benchmarks/package_size.py [--build-dir .aws-sam/build]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from built import LAYER_ID, REPO, ensure_build, package_sizes

TARGET_ZIP_KIB = 256


def report(build_dir: Path) -> None:
    sizes, layer_zip, layer_unpacked = package_sizes(build_dir)
    print(
        f"zipped code package per function (target <= {TARGET_ZIP_KIB} KiB; each holds only "
        "the modules its handler can import, functions/build_package.py)"
    )
    for lid, size in sizes.items():
        flag = "" if size <= TARGET_ZIP_KIB * 1024 else "  OVER"
        print(f"  {lid:<34} {size / 1024:7.1f} KiB{flag}")
    print_layer(layer_zip, layer_unpacked)


def print_layer(layer_zip: int, layer_unpacked: int) -> None:
    print(
        f"  {LAYER_ID + ' (shared layer)':<34} {layer_zip / 2**20:7.2f} MB zipped, "
        f"{layer_unpacked / 2**20:.2f} MB unpacked"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    args = parser.parse_args()
    build_dir = args.build_dir.resolve()
    ensure_build(build_dir)
    report(build_dir)


if __name__ == "__main__":
    main()
