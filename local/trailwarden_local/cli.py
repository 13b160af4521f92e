"""The `trailwarden` command: `demo [--json]` and `replay PATH...`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trailwarden", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every workflow against the embedded AWS emulator")
    demo.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from trailwarden_local import demo

        return demo.main(json_output=args.json)
    return 2


if __name__ == "__main__":
    sys.exit(main())
