"""``trailwarden replay``: what the app would have done with past CloudTrail logs.

DESIGN §6 is the contract: one JSON object per line per record on stdout
(``eventID``, ``eventName``, ``workflow``, ``verdict``, ``reason``, ``actions``, plus
``rule``: the template rule that would have started the workflow, or null), a summary on
stderr, exit status 0 (every input read), 1 (some input unreadable), 2 (usage error).

The pipeline is a chain of generators: inputs are listed lazily and each document is
decided and printed before the next ones are read, so memory stays flat however many
files there are. With an ``s3://`` input, one reader thread fetches and gunzips up to
two documents ahead, overlapping the network with deciding; local files are read on the
calling thread (a reader thread gains nothing there: ISA-L's inflate holds the GIL, and
handing the GIL back and forth cost ~5% of a run); with ``--jobs N`` forked workers
gunzip and decide whole files and the output keeps the input order. The template's
resolved rules are cached (``--no-cache``): later runs start without loading the YAML
or expanding it with the SAM translator.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import sys
import time
from collections import deque
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from trailwarden.models.settings import DetectionSettings
    from trailwarden_local.replay_core import Replayer, Result, Stats
    from trailwarden_local.replay_inputs import Source

PROG = "trailwarden replay"
EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE = 0, 1, 2
_PROGRESS_EVERY = 0.5  # seconds
# An IAM role ARN; ``*`` (EventBridge wildcard) in the account and the role's path or
# name, e.g. the member role in every account: arn:aws:iam::*:role/trailwarden/member/...
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?:\d{12}|\*):role/[\w+=,.@/*-]+$")
_ACCOUNT_ID = re.compile(r"\b\d{12}\b")
_SHOWN_UNREADABLE = 10


def _default_template() -> Path:
    """samples.TEMPLATE, without importing samples (its dataclasses: ~2 ms of start-up)."""
    return Path(__file__).resolve().parents[2] / "template.yaml"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs (1 to 64)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="CloudTrail log files (.json, .json.gz), folders of them (recursive), "
        "EventBridge event files, or s3://bucket/prefix",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters as for sam deploy (values may contain commas); "
        "unset parameters take the template's defaults",
    )
    parser.add_argument(
        "--own-role-arn",
        action="append",
        default=[],
        metavar="ARN",
        help="an IAM role ARN of the deployed app (repeatable): its calls are the app's own; "
        "'*' matches as EventBridge's wildcard does (arn:aws:iam::*:role/trailwarden/member/"
        "trailwarden-member: the member role in every account)",
    )
    parser.add_argument(
        "--organization-accounts",
        type=Path,
        default=None,
        metavar="FILE",
        help="with DeploymentMode=organization and TrustedAccountIds=organization: the "
        "organisation's accounts (the JSON of 'aws organizations list-accounts', ACTIVE "
        "ones, or account ids); without it only the listed ids are trusted",
    )
    parser.add_argument(
        "--only-matches", action="store_true", help="print only records whose verdict is not ignore"
    )
    parser.add_argument(
        "--since", type=_day, metavar="DATE", help="first day (YYYY-MM-DD) of dated log folders"
    )
    parser.add_argument(
        "--until", type=_day, metavar="DATE", help="last day (YYYY-MM-DD) of dated log folders"
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=None,
        metavar="FILE",
        help="the SAM template whose rules and parameters to use (default: template.yaml)",
    )
    parser.add_argument(
        "--stack-name",
        default="trailwarden",
        metavar="NAME",
        help="the deployed stack's name, for patterns that use AWS::StackName "
        "(default: trailwarden)",
    )
    parser.add_argument(
        "--region",
        default=None,
        metavar="REGION",
        help="the deployed stack's region, for patterns that use AWS::Region "
        "(default: $AWS_REGION, $AWS_DEFAULT_REGION or us-east-1)",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="decide files in N worker processes (output stays in input order; default 1)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the cached rules (kept in $XDG_CACHE_HOME/trailwarden "
        "or ~/.cache/trailwarden, keyed by the template, the parameters and the code)",
    )
    # Also the benchmark's reference run.
    parser.add_argument(
        "--no-shortcuts",
        action="store_true",
        help="parse and match every record in full (about 2.5x slower; see the README)",
    )


def main(args: argparse.Namespace) -> int:
    # No cyclic garbage collection in the command's process, from the start: loading
    # replay's modules and rules makes enough objects for several collections (~4 ms of
    # start-up; run() pauses it for the records in any case).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(args)
    finally:
        if was_enabled:
            gc.enable()


def _main(args: argparse.Namespace) -> int:
    return run(
        args.paths,
        overrides=args.parameter_overrides,
        own_role_arns=args.own_role_arn,
        organization_accounts=args.organization_accounts,
        only_matches=args.only_matches,
        since=args.since,
        until=args.until,
        template=args.template,
        stack_name=args.stack_name,
        region=args.region,
        shortcuts=not args.no_shortcuts,
        rules_cache=None if args.no_cache else default_cache_dir(),
        jobs=args.jobs,
    )


def default_cache_dir() -> Path:
    """Where the command keeps its cached rules: ``$XDG_CACHE_HOME/trailwarden``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trailwarden"


def _usage_error(err: TextIO, message: str) -> int:
    err.write(f"{PROG}: error: {message}\n")
    return EXIT_USAGE


def run(
    paths: Sequence[str],
    *,
    overrides: Sequence[str] = (),
    own_role_arns: Sequence[str] = (),
    organization_accounts: Path | None = None,
    only_matches: bool = False,
    since: date | None = None,
    until: date | None = None,
    template: Path | None = None,
    stack_name: str = "trailwarden",
    region: str | None = None,
    shortcuts: bool = True,
    threads: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    s3_client: Callable[[], Any] | None = None,
    rules_cache: Path | None = None,
    jobs: int = 1,
) -> int:
    """The whole command; returns the exit status.

    ``shortcuts=False`` parses and matches every record in full (the benchmark's
    reference); ``threads=False`` reads inputs on the calling thread even from S3 (local
    files always are); ``rules_cache`` is the folder of cached rule sets (none: the
    template is expanded every time);
    ``jobs`` > 1 decides documents in that many forked worker processes;
    ``organization_accounts`` is the file of the organisation's accounts.
    """
    from trailwarden_local.replay_core import Replayer, Stats
    from trailwarden_local.replay_inputs import (
        DateRange,
        InputUsageError,
        default_s3_client,
        iter_sources,
        loaded,
        parse_s3_url,
    )
    from trailwarden_local.replay_rules import (
        ParameterError,
        TemplateError,
        load_rules,
        parse_parameter_overrides,
    )

    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        return _usage_error(err, "give at least one PATH")
    if since and until and since > until:
        return _usage_error(err, f"--since {since} is after --until {until}")
    bad_arns = [arn for arn in own_role_arns if not _ROLE_ARN.match(arn) or "**" in arn]
    if bad_arns:
        return _usage_error(err, f"--own-role-arn {bad_arns[0]!r} is not an IAM role ARN")
    accounts: frozenset[str] | None = None
    if organization_accounts is not None:
        try:
            accounts = read_organization_accounts(organization_accounts)
        except ValueError as exc:
            return _usage_error(err, f"--organization-accounts: {exc}")
    try:
        for path in paths:
            if path.startswith("s3://"):
                parse_s3_url(path)
        parsed = parse_parameter_overrides(overrides)
        ruleset = load_rules(
            template or _default_template(),
            parsed,
            own_role_arns,
            region=region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            stack_name=stack_name,
            cache_dir=rules_cache,
        )
    except (InputUsageError, ParameterError) as exc:
        return _usage_error(err, str(exc))
    except TemplateError as exc:
        return _usage_error(err, f"cannot use the template: {exc}")
    for note in (*ruleset.notes, *_trust_notes(ruleset.settings, accounts, organization_accounts)):
        err.write(f"{PROG}: note: {note}\n")

    replayer = Replayer(
        ruleset,
        only_matches=only_matches,
        shortcuts=shortcuts,
        organization_accounts=accounts,
    )
    sources = iter_sources(paths, DateRange(since, until), s3_client or default_s3_client)
    total = Stats()
    progress = _Progress(err)
    started = time.monotonic()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # parsed logs are acyclic trees: reference counting frees them
    try:
        # Whatever else prints (a library, a detection) goes to stderr: stdout carries
        # nothing but the JSON lines, which are written to ``out`` directly.
        with contextlib.redirect_stdout(err):
            if jobs > 1 and "fork" in _start_methods():
                results = _in_workers(replayer, sources, jobs)
            else:
                results = map(replayer.process, loaded(sources, _prefetch(paths, threads)))
            for result in results:
                if result.lines:
                    out.write("\n".join(result.lines) + "\n")
                total.merge(result.stats)
                progress.update(total)
        out.flush()
    except BrokenPipeError:  # e.g. `| head`: stop quietly, like other filters
        _silence_stdout()
        return EXIT_UNREADABLE
    finally:
        if gc_was_enabled:
            gc.enable()
        progress.clear()
    _summary(err, total, time.monotonic() - started)
    return EXIT_UNREADABLE if total.unreadable else EXIT_OK


def _prefetch(paths: Sequence[str], threads: bool) -> int:
    """How many documents a reader thread reads ahead: only from S3 (module docstring)."""
    return 2 if threads and any(path.startswith("s3://") for path in paths) else 0


def read_organization_accounts(path: Path) -> frozenset[str]:
    """The organisation's accounts from a file: the JSON ``aws organizations
    list-accounts`` prints (only ACTIVE accounts: those the hub trusts), or any text of
    12-digit account ids. Raises ValueError (unreadable, no account in it)."""
    import json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("Accounts"), list):
        ids = {
            item["Id"]
            for item in document["Accounts"]
            if isinstance(item, dict)
            and isinstance(item.get("Id"), str)
            and _ACCOUNT_ID.fullmatch(item["Id"])
            and (item.get("State") or item.get("Status") or "ACTIVE") == "ACTIVE"
        }
    else:
        ids = set(_ACCOUNT_ID.findall(text))
    if not ids:
        raise ValueError(f"{path}: no account id in it")
    return frozenset(ids)


def _trust_notes(
    settings: DetectionSettings, accounts: frozenset[str] | None, path: Path | None
) -> list[str]:
    """What replay does for TrustedAccountIds=organization (no ListAccounts offline)."""
    if not settings.trust_organization:
        if path is None:
            return []
        return [
            "--organization-accounts is not used: TrustedAccountIds does not name"
            " organization in organisation mode"
        ]
    if accounts is None:
        return [
            "TrustedAccountIds=organization: the organisation's accounts cannot be listed"
            " offline, so only the listed ids are trusted (the stronger verdict, what the hub"
            " does when ListAccounts fails); --organization-accounts FILE gives them"
        ]
    return [f"TrustedAccountIds=organization: the {len(accounts):,} accounts of {path} trusted"]


# --------------------------------------------------------------------------- processing


def _start_methods() -> list[str]:
    import multiprocessing  # only for --jobs: ~7 ms of start-up otherwise

    return multiprocessing.get_all_start_methods()


_WORKER: list[Replayer] = []  # the forked workers' replayer (inherited, never pickled)


def _worker_start() -> None:
    gc.disable()
    sys.stdout = sys.stderr  # stdout belongs to the parent's ordered output


def _worker_process(label: str, explicit: bool, raw: bytes | str) -> Result:
    """Gunzip and decide one document read by the parent (``str``: why it was unreadable)."""
    from trailwarden_local.replay_inputs import Loaded, Source, UnreadableInput, load

    if isinstance(raw, str):
        return _WORKER[0].process(Loaded(label, explicit, UnreadableInput(raw)))
    return _WORKER[0].process(load(Source(label, explicit, read=lambda: raw)))


def _in_workers(replayer: Replayer, sources: Iterable[Source], jobs: int) -> Iterator[Result]:
    """Results in input order; the parent reads (at most 2 per worker ahead), forked
    workers gunzip and decide."""
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    from trailwarden_local.replay_inputs import UnreadableInput

    _WORKER[:] = [replayer]
    context = multiprocessing.get_context("fork")
    pending: deque[Future[Result]] = deque()
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start) as pool:
        for source in sources:
            try:
                raw: bytes | str = source.read()
            except UnreadableInput as exc:
                raw = str(exc)
            pending.append(pool.submit(_worker_process, source.label, source.explicit, raw))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


# --------------------------------------------------------------------------- stderr


class _Progress:
    """A single self-overwriting line on stderr, only when stderr is a terminal."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._enabled = bool(getattr(err, "isatty", lambda: False)())
        self._start = time.monotonic()
        self._last = self._start
        self._shown = False

    def update(self, stats: Stats) -> None:
        now = time.monotonic()
        if not self._enabled or now - self._last < _PROGRESS_EVERY:
            return
        self._last = now
        rate = stats.records / max(now - self._start, 1e-9)
        self._err.write(
            f"\r{PROG}: {stats.inputs:,} inputs, {stats.records:,} records ({rate:,.0f}/s)\x1b[K"
        )
        self._err.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._err.write("\r\x1b[K")
            self._err.flush()


def _summary(err: TextIO, stats: Stats, seconds: float) -> None:
    from trailwarden_local.replay_core import NO_WORKFLOW, VERDICT_ORDER

    rate = stats.records / seconds if seconds > 0 else 0.0
    err.write(
        f"{PROG}: {stats.inputs:,} inputs ({len(stats.unreadable):,} unreadable, "
        f"{stats.skipped:,} skipped: neither CloudTrail logs nor EventBridge events), "
        f"{stats.records:,} records in {seconds:.1f} s ({rate:,.0f} records/s)\n"
    )
    workflows = sorted({w for w, _ in stats.counts}, key=lambda w: (w == NO_WORKFLOW, w))
    width = max([len("workflow"), *(len(w) for w in workflows)])
    header = f"{'workflow':<{width}}" + "".join(f"  {v:>10}" for v in VERDICT_ORDER)
    err.write(header + "\n")
    for workflow in workflows:
        cells = "".join(f"  {stats.counts[(workflow, v)]:>10,}" for v in VERDICT_ORDER)
        err.write(f"{workflow:<{width}}{cells}\n")
    if stats.started:
        started = ", ".join(f"{rule} {count:,}" for rule, count in sorted(stats.started.items()))
        err.write(f"rules matched (workflow executions started): {started}\n")
    if stats.by_account:
        accounts = sorted({account for account, _ in stats.by_account})
        per_account = "; ".join(
            f"{account} "
            + ", ".join(
                f"{verdict} {stats.by_account[(account, verdict)]:,}"
                for verdict in VERDICT_ORDER[1:]
                if stats.by_account[(account, verdict)]
            )
            for account in accounts
        )
        err.write(f"by account (records not ignored): {per_account}\n")
    if stats.errors:
        err.write(f"{stats.errors:,} records raised an error in detection code (see reason)\n")
    for entry in stats.unreadable[:_SHOWN_UNREADABLE]:
        err.write(f"unreadable: {entry}\n")
    if len(stats.unreadable) > _SHOWN_UNREADABLE:
        err.write(f"... and {len(stats.unreadable) - _SHOWN_UNREADABLE:,} more unreadable\n")
