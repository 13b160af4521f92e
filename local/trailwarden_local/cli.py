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
    demo.add_argument(
        "--workflow",
        action="append",
        metavar="ID",
        help="only this workflow's scenarios (repeatable; default: all)",
    )
    from trailwarden_local import replay

    replay.add_arguments(
        sub.add_parser(
            "replay",
            help="what the app would have done with CloudTrail logs (offline)",
            description="Decide CloudTrail records (files, folders, s3://) with the "
            "template's rules and the workflows' own detections, offline: one JSON line per "
            "record on stdout, a summary on stderr.",
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from trailwarden_local import demo

        return demo.main(json_output=args.json, workflows=set(args.workflow or ()))
    if args.command == "replay":
        from trailwarden_local import replay

        return replay.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
