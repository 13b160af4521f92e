"""Decide every record of one input document the way the deployed app would.

A CloudTrail record is wrapped into the EventBridge envelope
(:func:`trailwarden.events.wrap_cloudtrail_record`), offered to every rule of the
template (:mod:`trailwarden_local.replay_rules`), and, where a rule matches, decided by
the workflow's own detection (:func:`trailwarden.decide.decide`) and, for an acting
verdict, planned by its remediation's offline dry run (``plan(..., state=None, ...)``).

Speed: nearly every record in a month of CloudTrail is a call no rule can match, and
the rules' patterns pin ``eventSource`` / ``eventName`` to a few values. Two shortcuts
follow, both exact:

* :class:`~trailwarden_local.replay_rules.CallFilter` (derived from the compiled
  patterns and the workflows' triggers) lets a record whose call no rule names skip
  wrapping and matching: its line ("no rule matches") is the one the full path prints;
* a gzipped log file in CloudTrail's own compact form is not parsed at all: only the
  three fields the filter and the line need are read (:meth:`Replayer._scan_log`), and
  the few records the filter lets through are parsed one by one.

``shortcuts=False`` (``--no-shortcuts``) parses and matches every record in full; the
benchmark checks that both print the same bytes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Final

from trailwarden.decide import decide
from trailwarden.errors import InvalidEvent
from trailwarden.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    event_key,
    parse_actor,
    record_key,
    text_of,
    wrap_cloudtrail_record,
)
from trailwarden.findings import Mode, Outcome, Verdict
from trailwarden.registry import BY_ID, workflow_for_call, workflow_for_envelope
from trailwarden_local.replay_inputs import Loaded, UnreadableInput, parse_json

if TYPE_CHECKING:
    from trailwarden.registry import Workflow
    from trailwarden_local.replay_rules import ReplayRule, RuleSet

NO_WORKFLOW: Final = "-"
NO_RULE_MATCHES: Final = "no rule matches"
OFFLINE_NOTE: Final = " (offline: live state assumed)"
NOT_AN_EVENT: Final = "not a CloudTrail log file (Records) or an EventBridge event"
VERDICT_ORDER: Final = ("ignore", "alert", "approval", "remediate")  # weakest first
_STRENGTH: Final = {verdict: rank for rank, verdict in enumerate(VERDICT_ORDER)}
_ACTING: Final = (Verdict.REMEDIATE, Verdict.APPROVAL)
_IGNORE: Final = str(Verdict.IGNORE)
# The compact form CloudTrail writes its log files in (see Replayer._scan_log).
_LOG_HEAD: Final = b'{"Records":['
_LOG_TAIL: Final = b"]}"
_RECORD_START: Final = b'{"eventVersion":'
_RECORD_SEPARATOR: Final = b'},{"eventVersion":'
_VERSION_KEY: Final = b'"eventVersion":'
_CALL_FIELDS: Final = re.compile(rb'"eventSource":"([^"\\]*)","eventName":"([^"\\]*)"')
_ID_FIELD: Final = re.compile(rb'"eventID":"([^"\\]*)"')
_CLOSE: Final = ord("}")
# The call filter as bytes, for the scan: pairs, names, sources, name prefixes by
# source (those for any source included), name prefixes for any source.
_ScanFilter = tuple[
    frozenset[tuple[bytes, bytes]],
    frozenset[bytes],
    frozenset[bytes],
    dict[bytes, tuple[bytes, ...]],
    tuple[bytes, ...],
]
# The line of a record no rule can match, after its eventID and eventName.
_UNMATCHED_TAIL: Final = (
    ',"workflow":null,"verdict":"ignore","reason":"' + NO_RULE_MATCHES + '","actions":[],'
    '"rule":null}'
)


def _record_at(data: bytes, low: int, high: int, event_id: bytes) -> Any:
    """The record of a scanned log file holding this (unique) eventID, parsed; else None."""
    needle = b'"eventID":"' + event_id + b'"'
    at = data.find(needle, low, high)
    if at < 0 or data.find(needle, at + 1, high) >= 0:
        return None
    start = data.rfind(_RECORD_SEPARATOR, low, at)
    start = low if start < 0 else start + 2
    end = data.find(_RECORD_SEPARATOR, at, high) + 1 or high
    try:
        return json.loads(data[start:end])
    except ValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


def _json_text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


@dataclass
class Stats:
    """What one document (or the whole run) produced."""

    inputs: int = 0
    records: int = 0
    skipped: int = 0  # walked documents that are neither logs nor events
    unreadable: list[str] = field(default_factory=list)  # "label: why"
    errors: int = 0  # records on which detection or planning code raised
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (workflow, verdict)
    started: Counter[str] = field(default_factory=Counter)  # rule logical id -> matches

    def merge(self, other: Stats) -> None:
        self.inputs += other.inputs
        self.records += other.records
        self.skipped += other.skipped
        self.unreadable += other.unreadable
        self.errors += other.errors
        self.counts.update(other.counts)
        self.started.update(other.started)


# One record's (eventID, eventName, outcome, key): what its output line is made of.
_Produced = tuple[str | None, str | None, "_Outcome", str | None]


@dataclass(frozen=True)
class Result:
    """The output of one input document: its stdout lines and its tallies."""

    lines: list[str]
    stats: Stats


@dataclass(frozen=True)
class _Outcome:
    workflow: str | None
    verdict: str
    reason: str
    actions: tuple[Mapping[str, Any], ...] = ()
    rule: str | None = None
    matched: tuple[str, ...] = ()  # every rule that matched (each starts its target)
    error: bool = False  # detection or planning code raised


def line(
    event_id: str | None, event_name: str | None, outcome: _Outcome, key: str | None = None
) -> str:
    """One output line (compact JSON, the contract's fields plus the matched ``rule``).

    ``key`` is the incident key the app would dedupe and audit under: the eventID, or for
    a record without one its requestID, else a hash of the record (events.record_key).
    """
    return json.dumps(
        {
            "eventID": event_id,
            "key": key,
            "eventName": event_name,
            "workflow": outcome.workflow,
            "verdict": outcome.verdict,
            "reason": outcome.reason,
            "actions": list(outcome.actions),
            "rule": outcome.rule,
        },
        separators=(",", ":"),
        default=str,
    )


class Replayer:
    """Turns input documents into output lines. Holds no per-document state."""

    def __init__(self, ruleset: RuleSet, *, only_matches: bool = False, shortcuts: bool = True):
        self.ruleset = ruleset
        self.only_matches = only_matches
        self.shortcuts = shortcuts  # False: parse and match every record in full
        self._rules: tuple[ReplayRule, ...] = ruleset.rules
        self._settings = ruleset.settings
        self._scan: _ScanFilter | None = None
        call_filter = ruleset.call_filter
        if shortcuts and not call_filter.any_call:
            any_prefixes = tuple(p.encode() for p in call_filter.name_prefixes.get("", ()))
            self._scan = (
                frozenset((s.encode(), n.encode()) for s, n in call_filter.pairs),
                frozenset(n.encode() for n in call_filter.names_any_source),
                frozenset(s.encode() for s in call_filter.sources_any_name),
                {
                    s.encode(): tuple(p.encode() for p in ps) + any_prefixes
                    for s, ps in call_filter.name_prefixes.items()
                    if s
                },
                any_prefixes,
            )

    # ------------------------------------------------------------------ documents

    def process(self, loaded: Loaded) -> Result:
        """Every line of one input document (a log file, an event file)."""
        label, data = loaded.label, loaded.data
        stats = Stats(inputs=1)
        lines: list[str] = []
        if isinstance(data, UnreadableInput):
            return self._unreadable(label, str(data), stats)
        if self.shortcuts and loaded.gzipped:
            scanned = self._scan_log(data, label)
            if scanned is not None:
                return scanned
        try:
            document = parse_json(data)
        except UnreadableInput as exc:
            return self._unreadable(label, str(exc), stats)
        if isinstance(document, dict):
            records = document.get("Records", _MISSING)
            if records is not _MISSING:
                if not isinstance(records, list):
                    return self._unreadable(label, "Records is not an array", stats)
                self._records(records, label, lines, stats)
                return Result(lines, stats)
            event = _event_of(document)
            if event is not None:
                self._emit(self._event_line(event), lines, stats)
                return Result(lines, stats)
            if _is_record(document):
                self._records([document], label, lines, stats)
                return Result(lines, stats)
        if loaded.explicit:
            return self._unreadable(label, NOT_AN_EVENT, stats)
        stats.skipped += 1
        return Result(lines, stats)

    def _scan_log(self, data: bytes, label: str) -> Result | None:
        """The fast path for a CloudTrail log file exactly as CloudTrail writes it.

        CloudTrail writes compact JSON, ``{"Records":[{"eventVersion":...,"eventSource":
        "...","eventName":"...",...,"eventID":"...",...},...]}``, and gzip's CRC proves the
        bytes are what it wrote. For such a file two regular-expression passes read every
        record's ``eventSource`` + ``eventName`` and ``eventID``; they line up record by
        record when the file holds exactly as many of each as it holds ``"eventVersion":``
        keys (a nested or escaped key changes a count and the file is parsed instead). A
        record the rules may match is located by its unique eventID, parsed and decided
        in full. Anything unexpected returns None and the caller parses the whole file:
        the output is the same either way (``--no-shortcuts`` and the benchmark check it).
        """
        scan = self._scan
        if scan is None or not data.startswith(_LOG_HEAD):
            return None
        low, high = len(_LOG_HEAD), len(data.rstrip()) - len(_LOG_TAIL)
        if high <= low or not data.startswith(_LOG_TAIL, high) or data[high - 1] != _CLOSE:
            return None
        if not data.startswith(_RECORD_START, low):
            return None
        calls = _CALL_FIELDS.findall(data, low, high)
        event_ids = _ID_FIELD.findall(data, low, high)
        total = len(calls)
        if len(event_ids) != total or data.count(_VERSION_KEY, low, high) != total:
            return None
        pairs, names_any_source, sources_any_name, prefixes, any_prefixes = scan
        stats = Stats(inputs=1)
        lines: list[str] = []
        append = lines.append
        print_unmatched = not self.only_matches
        unmatched = 0
        for index, ((source, name), event_id) in enumerate(zip(calls, event_ids, strict=True)):
            if (
                (source, name) in pairs
                or name in names_any_source
                or source in sources_any_name
                or (source in prefixes and name.startswith(prefixes[source]))
                or (any_prefixes and name.startswith(any_prefixes))
            ):
                record = _record_at(data, low, high, event_id)
                if record is None or (record.get("eventSource"), record.get("eventName")) != (
                    source.decode(errors="replace"),
                    name.decode(errors="replace"),
                ):
                    return None
                self._emit(self._record_line(record, label, index), lines, stats)
                continue
            unmatched += 1
            if not print_unmatched:
                continue
            if event_id.isascii() and name.isascii():  # the JSON text as written
                text_id = event_id.decode()
                append(
                    '{"eventID":"'
                    + text_id
                    + '","key":"'
                    + text_id
                    + '","eventName":"'
                    + name.decode()
                    + '"'
                    + _UNMATCHED_TAIL
                )
                continue
            try:
                text_id, text_name = event_id.decode(), name.decode()
            except UnicodeDecodeError:
                return None
            append(
                '{"eventID":'
                + encode_basestring_ascii(text_id)
                + ',"key":'
                + encode_basestring_ascii(text_id)
                + ',"eventName":'
                + encode_basestring_ascii(text_name)
                + _UNMATCHED_TAIL
            )
        stats.records += unmatched
        stats.counts[(NO_WORKFLOW, _IGNORE)] += unmatched
        return Result(lines, stats)

    def _unreadable(self, label: str, why: str, stats: Stats) -> Result:
        stats.unreadable.append(f"{label}: {why}")
        outcome = _Outcome(None, _IGNORE, f"unreadable input {label}: {why}")
        return Result([] if self.only_matches else [line(None, None, outcome)], stats)

    def _emit(self, produced: _Produced, lines: list[str], stats: Stats) -> None:
        event_id, event_name, outcome, key = produced
        stats.records += 1
        stats.counts[(outcome.workflow or NO_WORKFLOW, outcome.verdict)] += 1
        stats.started.update(outcome.matched)
        stats.errors += outcome.error
        if not (self.only_matches and outcome.verdict == _IGNORE):
            lines.append(line(event_id, event_name, outcome, key))

    # ------------------------------------------------------------------ records

    def _records(self, records: list[Any], label: str, lines: list[str], stats: Stats) -> None:
        """Parsed records: those whose call no rule names take the short path."""
        call_filter = self.ruleset.call_filter
        use_filter = self.shortcuts and not call_filter.any_call
        pairs = call_filter.pairs
        names_any_source = call_filter.names_any_source
        sources_any_name = call_filter.sources_any_name
        by_prefix, may_match = bool(call_filter.name_prefixes), call_filter.may_match
        print_unmatched = not self.only_matches
        append = lines.append
        unmatched = 0
        for index, record in enumerate(records):
            if use_filter and type(record) is dict:
                name = record.get("eventName")
                source = record.get("eventSource")
                if (
                    type(name) is str
                    and type(source) is str
                    and (source, name) not in pairs
                    and name not in names_any_source
                    and source not in sources_any_name
                    and not (by_prefix and may_match(source, name))
                ):
                    unmatched += 1
                    if print_unmatched:
                        event_id = record.get("eventID")
                        append(
                            '{"eventID":'
                            + _json_text(event_id if type(event_id) is str else None)
                            + ',"key":'
                            + _json_text(record_key(record))
                            + ',"eventName":'
                            + encode_basestring_ascii(name)
                            + _UNMATCHED_TAIL
                        )
                    continue
            self._emit(self._record_line(record, label, index), lines, stats)
        stats.records += unmatched
        stats.counts[(NO_WORKFLOW, _IGNORE)] += unmatched

    def _record_line(self, record: Any, label: str, index: int) -> _Produced:
        if not isinstance(record, Mapping):
            why = f"{label}: record {index} is a {type(record).__name__}, not an object"
            return None, None, _Outcome(None, _IGNORE, why), None
        event_id = _text_or_none(record.get("eventID"))
        event_name = _text_or_none(record.get("eventName"))
        outcome = self.outcome(wrap_cloudtrail_record(record))
        return event_id, event_name, outcome, record_key(record)

    def _event_line(self, event: Mapping[str, Any]) -> _Produced:
        detail = event.get("detail")
        if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE and isinstance(detail, Mapping):
            event_id = _text_or_none(detail.get("eventID"))
            event_name = _text_or_none(detail.get("eventName"))
        else:
            event_id = _text_or_none(event.get("id"))
            event_name = _text_or_none(event.get("detail-type"))
        return event_id, event_name, self.outcome(event), event_key(event)

    # ------------------------------------------------------------------ deciding

    def outcome(self, event: Mapping[str, Any]) -> _Outcome:
        """What the deployed app would do with one EventBridge event.

        The last line of defence: whatever the record holds, it gets its one line. The
        readers below treat a value of the wrong type as absent; an exception that still
        escapes them becomes an ``ignore`` line that names it, never a traceback.
        """
        try:
            return self._outcome(event)
        except Exception as exc:
            return _Outcome(None, _IGNORE, _error("replay", exc), error=True)

    def _outcome(self, event: Mapping[str, Any]) -> _Outcome:
        matched = [rule for rule in self._rules if rule.accepts(event)]
        if not matched:
            return self._unmatched(event)
        outcomes = [self._decide(event, rule) for rule in matched]
        best = max(outcomes, key=lambda o: _STRENGTH.get(o.verdict, 0))
        others = [o for o in outcomes if o is not best]
        reason = best.reason
        if others:
            reason += "".join(f"; also rule {o.rule} ({o.workflow}: {o.verdict})" for o in others)
        return _Outcome(
            best.workflow,
            best.verdict,
            reason,
            best.actions,
            best.rule,
            matched=tuple(rule.logical_id for rule in matched),
            error=any(o.error for o in outcomes),
        )

    def _workflow(self, rule: ReplayRule, event: Mapping[str, Any]) -> Workflow:
        """The rule's workflow; a rule that runs several picks the one the call triggers."""
        if len(rule.workflows) > 1:
            detail = event.get("detail")
            if isinstance(detail, Mapping):
                call = (text_of(detail.get("eventSource")), text_of(detail.get("eventName")))
                for workflow_id in rule.workflows:
                    if call in BY_ID[workflow_id].triggers:
                        return BY_ID[workflow_id]
        return BY_ID[rule.workflows[0]]

    def _decide(self, event: Mapping[str, Any], rule: ReplayRule) -> _Outcome:
        return self._run(event, self._workflow(rule, event), rule.logical_id)

    def _run(self, event: Mapping[str, Any], workflow: Workflow, rule: str | None) -> _Outcome:
        """The workflow's own decision (``decide``) and, when it acts, its dry-run plan."""
        settings = self._settings
        try:
            decision = decide(event, workflow, settings)
        except InvalidEvent as exc:
            return _Outcome(workflow.id, _IGNORE, f"invalid event: {exc}", rule=rule)
        except Exception as exc:  # a detection bug must not stop a month-long replay
            return _Outcome(workflow.id, _IGNORE, _error("detection", exc), rule=rule, error=True)
        detection, verdict = decision.detection, decision.verdict
        reason = detection.reason
        mode = settings.mode(workflow.id)
        if detection.outcome is not Outcome.IGNORE and (
            mode is Mode.OFF or (detection.outcome is Outcome.ACT and mode is Mode.ALERT)
        ):
            reason = f"{reason} (mode {mode})"
        actions: tuple[Mapping[str, Any], ...] = ()
        remediation = workflow.remediation
        if (
            verdict in _ACTING
            and remediation is not None
            and detection.outcome is Outcome.ACT
            and detection.resource_id
        ):
            try:
                plan = remediation.plan(detection.resource_id, detection.facts, None, settings)
            except Exception as exc:  # same: report it on the record's line
                why = _error("planning", exc)
                return _Outcome(workflow.id, _IGNORE, why, rule=rule, error=True)
            actions = tuple(action.to_dict() for action in plan)
            reason += OFFLINE_NOTE
        return _Outcome(workflow.id, str(verdict), reason, actions, rule)

    def _unmatched(self, event: Mapping[str, Any]) -> _Outcome:
        """No rule matched: name the workflow the event belongs to, if any (DESIGN §2)."""
        raw_detail = event.get("detail")
        detail: Mapping[str, Any] = raw_detail if isinstance(raw_detail, Mapping) else {}
        source, detail_type = event.get("source"), event.get("detail-type")
        if not isinstance(source, str) or not isinstance(detail_type, str):
            return _Outcome(None, _IGNORE, NO_RULE_MATCHES)
        workflow: Workflow | None = None
        cloudtrail = detail_type == CLOUDTRAIL_DETAIL_TYPE
        if cloudtrail:
            call_source, call_name = detail.get("eventSource"), detail.get("eventName")
            if isinstance(call_source, str) and isinstance(call_name, str):
                workflow = workflow_for_call(call_source, call_name)
        else:
            workflow = workflow_for_envelope(source, detail_type)
        if workflow is None:
            return _Outcome(None, _IGNORE, NO_RULE_MATCHES)
        rules = self.ruleset.rules_for(workflow.id, source, detail_type)
        if not rules and not cloudtrail:
            # No rule takes this kind of event: the app hands it to the workflow itself
            # (the scheduled backstop starts the state machine directly).
            outcome = self._run(event, workflow, None)
            return _Outcome(
                outcome.workflow,
                outcome.verdict,
                f"{outcome.reason} (delivered to the workflow directly, not by a rule)",
                outcome.actions,
                error=outcome.error,
            )
        return _Outcome(workflow.id, _IGNORE, self._why_not(rules, detail))

    def _why_not(self, rules: tuple[str, ...], detail: Mapping[str, Any]) -> str:
        """Why none of a workflow's rules matched an event of the kind they take."""
        inactive = self.ruleset.inactive_rules
        if not rules:
            return "no rule in the template takes this call"
        if all(rule in inactive for rule in rules):
            return "the workflow's rule is inactive: " + "; ".join(inactive[r] for r in rules)
        error_code = text_of(detail.get("errorCode"))
        if error_code:
            return f"failed call ({error_code}): not matched by the rule pattern"
        # The app's own reader: a non-string where a string belongs is absent.
        actor = parse_actor(detail)
        if actor.type == "AssumedRole" and actor.session_issuer_arn in self._settings.own_role_arns:
            return "the app's own call: not matched by the rule pattern"
        active = [rule for rule in self._rules if rule.logical_id in rules]
        if detail.get("readOnly") in (True, "true") and not any(
            rule.all_management_events for rule in active
        ):
            return "read-only call: EventBridge does not deliver it to an ENABLED rule"
        return "not matched by the rule pattern"


_MISSING: Final = object()


def _error(stage: str, exc: Exception) -> str:
    return f"{stage} error: {type(exc).__name__}: {exc}"


def _event_of(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """An EventBridge event (``events/`` shape), or one wrapped as ``{"event": {...}}``."""
    if "detail-type" in document or ("detail" in document and "source" in document):
        return document
    inner = document.get("event")
    if isinstance(inner, dict) and ("detail-type" in inner or "detail" in inner):
        return inner
    return None


def _is_record(document: Mapping[str, Any]) -> bool:
    """A single raw CloudTrail record (e.g. copied from the console's event history)."""
    return all(isinstance(document.get(key), str) for key in ("eventSource", "eventName")) and (
        "eventVersion" in document or "eventID" in document
    )
