"""Decide every record of one input document the way the deployed app would.

A CloudTrail record is wrapped into the EventBridge envelope
(:func:`trailwarden.models.events.wrap_cloudtrail_record`), offered to every rule of the
template (:mod:`trailwarden_local.replay_rules`), and, where a rule matches, decided by
the workflow's own detection (:func:`trailwarden.logic.decide.decide`) and, for an acting
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
import operator
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from trailwarden.logic.decide import decide
from trailwarden.models.errors import InvalidEvent
from trailwarden.models.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    account_key,
    event_key,
    parse_actor,
    record_key,
    text_of,
    wrap_cloudtrail_record,
)
from trailwarden.models.findings import Mode, Outcome, Verdict
from trailwarden.workflows.registry import BY_ID, workflow_for_call, workflow_for_envelope
from trailwarden_local.patterns import compile_pattern_given
from trailwarden_local.replay_inputs import Loaded, UnreadableInput, parse_json
from trailwarden_local.replay_rules import may_take, own_role_matcher, pattern_calls

if TYPE_CHECKING:
    from collections.abc import Callable

    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.registry import Workflow
    from trailwarden_local.replay_rules import ReplayRule, RuleSet

    # A rule and whether EventBridge would deliver an event to it.
    _Candidate = tuple[ReplayRule, Callable[[Mapping[str, Any]], bool]]

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
# One pass reads, in order, every record's call (eventSource + eventName, adjacent as
# CloudTrail writes them), its eventID and where the next record starts (the
# eventVersion key right after a record's closing "}" and ","), as the texts
# `Source":"<eventSource>","eventName":"<eventName>` and `ID":"<eventID>`, and None
# (one group: a flat list, no tuples). Strings with an escape or a control character do
# not match (the file is parsed). The pattern starts at the keys' `vent` (the `"e` before
# it checked behind): the regular-expression engine skips to the first byte of a
# pattern's literal prefix, and a `v` is ~10x rarer than a `"` in CloudTrail JSON (a
# quarter less time than starting at `"event`); each match starts _KEY_SHIFT bytes into
# its key.
_FIELDS: Final = re.compile(
    rb'vent(?<="event)'
    rb'(?:((?:Source":"[^"\\\x00-\x1f\x7f]+","eventName|ID)":"[^"\\\x00-\x1f\x7f]+)'
    rb'|Version(?<=\},\{"eventVersion)(?=":))"'
)
_KEY_SHIFT: Final = 2  # len('"e')
# A record's "{" is this many bytes before the match of its eventVersion key.
_START_BEFORE: Final = _KEY_SHIFT + 1
_CALL_HEAD: Final = b'Source":"'
_NAME_JOINT: Final = b'","eventName":"'
_ID_HEAD: Final = b'ID":"'
_ID_JOINT: Final = '\nID":"'
_CLOSE: Final = ord("}")
# Organisation mode: every record's account, as CloudTrail writes it (after eventID).
# Every occurrence of the key; the group is None unless its value is 12 digits.
# Started at its `p` (the rest checked behind), as _FIELDS at its `vent`: each match
# starts 5 bytes into the key (the order of keys and records' ends is the same).
_ACCOUNT_FIELD: Final = re.compile(rb'pientAccountId(?<="recipientAccountId)":(?:"(\d{12})")?')
_FIRST_GROUP: Final = operator.itemgetter(1)
_ACCOUNT_ID: Final = re.compile(r"\d{12}")
# What the scan does with a call (the regex's tuple): "" when a rule may take it (the
# record is parsed and decided), else the tail of its line after the eventID's text.
_ScanMemo = dict[bytes, str]
# The line of a record no rule can match, after its eventID and eventName.
_UNMATCHED_TAIL: Final = (
    ',"workflow":null,"verdict":"ignore","reason":"' + NO_RULE_MATCHES + '","actions":[],'
    '"rule":null}'
)
_LINE_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), default=str)
_DECODE: Final = json.JSONDecoder().decode
# orjson, when installed, parses a record ~2x faster than json; it gives the same value
# or refuses (NaN, Infinity, lone surrogates, invalid UTF-8: json decides those), except
# for integers beyond 64 bits, which it turns into floats: a text with 19 digits in a
# row (_DIGIT_RUN, one translate and one search) is left to json as well.
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the stdlib alone gives the same answers
    _orjson = None  # type: ignore[assignment]
_DIGITS_AS_ZERO: Final = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_DIGIT_RUN: Final = b"0" * 19
# An upper bound of the JSON size (json.dumps, as parse_envelope measures it) of the
# EventBridge envelope wrapped around a record parsed from N bytes of JSON text: the
# detail takes at most 6 characters per byte (", " / ": " for "," / ":", \uXXXX for
# UTF-8, 4.5 for a float such as 1e15 -> 1000000000000000.0) and the envelope repeats
# a few of its strings (eventID, time, region, account, source) once more.
_ENVELOPE_PER_BYTE: Final = 12
_ENVELOPE_OVERHEAD: Final = 512


def _parse_record(text: bytes, source: str, name: str, event_id: str) -> Any:
    """One record cut out of a scanned log, parsed; None unless it is the record whose
    fields the scan read there (its call's eventSource and eventName, its eventID)."""
    try:
        record = _loads_record(text)
        if (
            type(record) is dict
            and record.get("eventID") == event_id
            and record.get("eventSource") == source
            and record.get("eventName") == name
        ):
            return record
    except ValueError:  # UnicodeDecodeError included
        pass
    return None


def _loads_record(text: bytes) -> Any:
    """JSON text of one record -> its value, exactly as ``json.loads`` reads it."""
    if _orjson is not None and _DIGIT_RUN not in text.translate(_DIGITS_AS_ZERO):
        try:
            return _orjson.loads(text)
        except ValueError:  # orjson.JSONDecodeError: json says what the text holds
            pass
    # json.loads(text) without its encoding sniffing: the text starts '{"eventVersion"'.
    return _DECODE(text.decode("utf-8", "surrogatepass"))


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
    # Organisation mode: (account, verdict) of the records whose verdict is not ignore.
    by_account: Counter[tuple[str, str]] = field(default_factory=Counter)

    def merge(self, other: Stats) -> None:
        self.inputs += other.inputs
        self.records += other.records
        self.skipped += other.skipped
        self.unreadable += other.unreadable
        self.errors += other.errors
        self.counts.update(other.counts)
        self.started.update(other.started)
        self.by_account.update(other.by_account)


@dataclass(frozen=True)
class Result:
    """The output of one input document: its stdout lines and its tallies."""

    lines: list[str]
    stats: Stats


class _Scanned(NamedTuple):
    """A scanned log (see Replayer._scan_log): its bytes, the records' bounds and the
    fields the scan read, in record order."""

    data: bytes
    low: int
    high: int
    nexts: list[int]  # where each record but the first starts, plus _START_BEFORE
    calls: list[bytes]  # `Source":"<eventSource>","eventName":"<eventName>`
    id_texts: list[str]  # the eventIDs


class _ScannedCall:
    """A call as the scan read it (see _FIELDS): its eventSource and eventName (None:
    not UTF-8) and, once a record of it was wrapped, the rules that may take it."""

    __slots__ = ("name", "quoted_name", "rules", "source")

    def __init__(self, source: str, name: str | None) -> None:
        self.source, self.name = source, name
        self.quoted_name = "" if name is None else encode_basestring_ascii(name)
        self.rules: tuple[_Candidate, ...] | None = None


def _call_texts(call: bytes) -> tuple[str, str | None]:
    source, _, name = call[len(_CALL_HEAD) :].partition(_NAME_JOINT)
    try:
        return source.decode(), name.decode()
    except UnicodeDecodeError:
        return "", None


class _Outcome(NamedTuple):  # a NamedTuple: built for every record a rule may take
    workflow: str | None
    verdict: str
    reason: str
    actions: tuple[Mapping[str, Any], ...] = ()
    rule: str | None = None
    matched: tuple[str, ...] = ()  # every rule that matched (each starts its target)
    error: bool = False  # detection or planning code raised


# One record's (eventID, eventName, outcome, key, account): what its line is made of.
_Produced = tuple[str | None, str | None, "_Outcome", str | None, str | None]
# line()'s account when lines carry none (account mode).
NO_ACCOUNT_FIELD: Final = "\x00no account field\x00"


def line(
    event_id: str | None,
    event_name: str | None,
    outcome: _Outcome,
    key: str | None = None,
    account: str | None = NO_ACCOUNT_FIELD,
) -> str:
    """One output line (compact JSON, the contract's fields plus the matched ``rule``).

    ``key`` is the incident key the app would dedupe and audit under: the eventID, or for
    a record without one its requestID, else a hash of the record (events.record_key);
    in organisation mode ``<account>#`` before it. ``account`` (organisation mode only,
    after ``key``): the account the record was decided in.
    """
    # What json.dumps(..., separators=(",", ":")) of the dict in this order prints, built
    # by hand: only the actions need the encoder (tests compare both).
    shown = "" if account == NO_ACCOUNT_FIELD else f',"account":{_json_text(account)}'
    return (
        f'{{"eventID":{_json_text(event_id)},"key":{_json_text(key)}{shown}'
        f',"eventName":{_json_text(event_name)}{_outcome_fields(outcome)}'
    )


def _outcome_fields(outcome: _Outcome) -> str:
    """A line's end, from ``,"workflow":`` on (see line)."""
    actions, workflow, rule = outcome.actions, outcome.workflow, outcome.rule
    return (
        f',"workflow":{"null" if workflow is None else encode_basestring_ascii(workflow)}'
        f',"verdict":{encode_basestring_ascii(outcome.verdict)}'
        f',"reason":{encode_basestring_ascii(outcome.reason)}'
        f',"actions":{_LINE_ENCODER.encode(list(actions)) if actions else "[]"}'
        f',"rule":{"null" if rule is None else encode_basestring_ascii(rule)}}}'
    )


class Replayer:
    """Turns input documents into output lines. Holds no per-document state."""

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        only_matches: bool = False,
        shortcuts: bool = True,
        organization_accounts: frozenset[str] | None = None,
    ):
        self.ruleset = ruleset
        self.only_matches = only_matches
        self.shortcuts = shortcuts  # False: parse and match every record in full
        self._rules: tuple[ReplayRule, ...] = ruleset.rules
        settings = ruleset.settings
        # Organisation mode: each record is decided in its account (module docstring).
        self._org = settings.organization_mode
        # TrustedAccountIds=organization: the hub adds ListAccounts' accounts; offline,
        # those of --organization-accounts, else only the listed ids (stronger verdict).
        self._org_unknown = settings.trust_organization and organization_accounts is None
        if settings.trust_organization and organization_accounts:
            settings = replace(
                settings,
                trusted_account_ids=settings.trusted_account_ids | organization_accounts,
            )
        self._settings = settings
        self._is_own = own_role_matcher(ruleset.own_role_patterns)
        wildcards = [arn for arn in ruleset.own_role_arns if "*" in arn]
        self._is_own_wildcard = own_role_matcher(wildcards) if wildcards else None
        self._settings_by_issuer: dict[str, DetectionSettings] = {}
        self._scan = shortcuts and not ruleset.call_filter.any_call
        self._scan_memo: _ScanMemo = {}
        self._every_rule: tuple[_Candidate, ...] = tuple((r, r.accepts) for r in self._rules)
        # each rule and the calls its pattern allows (a sound superset, cheap to test)
        self._rule_calls = tuple((rule, pattern_calls(rule.pattern)) for rule in self._rules)
        # (source, eventSource, eventName) -> the rules that may take that call, each with
        # its pattern decided for that call (see _candidates)
        self._rules_by_call: dict[tuple[str | None, str, str], tuple[_Candidate, ...]] = {}
        # the calls the scan read (their text in the log) -> their texts and rules
        self._scanned_calls: dict[bytes, _ScannedCall] = {}

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
        bytes are what it wrote. For such a file one regular-expression pass reads every
        record's ``eventSource`` + ``eventName`` and ``eventID`` in order, and where
        records end (``},{"eventVersion":``). They line up record by record when each
        record gives a call, then an ID, then the next record starts (a nested or escaped
        key breaks the count or the order, and the file is parsed instead). A record the
        rules may take is cut out at its bounds, parsed, checked
        against the scanned fields and decided in full. Anything unexpected returns None
        and the caller parses the whole file: the output is the same either way
        (``--no-shortcuts`` and the benchmark check it).
        """
        if not self._scan or not data.startswith(_LOG_HEAD):
            return None
        low, high = len(_LOG_HEAD), len(data.rstrip()) - len(_LOG_TAIL)
        if high <= low or not data.startswith(_LOG_TAIL, high) or data[high - 1] != _CLOSE:
            return None
        if not data.startswith(_RECORD_START, low):
            return None
        found = list(_FIELDS.finditer(data, low, high))
        fields = list(map(_FIRST_GROUP, found))
        # call, ID, next record, call, ID, ..., call, ID
        total = (len(fields) + 1) // 3
        if len(fields) != 3 * total - 1:
            return None
        calls, found_ids = fields[0::3], fields[1::3]
        # In that order: each call is a call's text and each ID an ID's. A field's text
        # starts `Source":"` or `ID":"` (the group's two forms; a value holds no quote),
        # "I" < "S": the least call and the greatest ID tell. No raw newline in a match.
        try:
            joined_ids, least_call = b"\n".join(found_ids), min(calls)
        except TypeError:  # a record's start (None) where a call or an ID belongs
            return None
        if (
            type(least_call) is not bytes  # the one "call" is a record's start
            or not least_call.startswith(_CALL_HEAD)
            or not max(found_ids).startswith(_ID_HEAD)
            or fields[2::3].count(None) != total - 1
        ):
            return None
        # Where each record but the first starts (_START_BEFORE bytes before its match).
        nexts = list(map(re.Match.start, found[2::3]))
        memo = self._scan_memo
        try:  # every call already known: the common case after the first files
            tails = list(map(memo.__getitem__, calls))
        except KeyError:
            for call in set(calls).difference(memo):
                self._scan_tail(call)
            tails = list(map(memo.__getitem__, calls))
        try:
            # each ID's text after its `ID":"` (split at the joints: no second copy)
            id_texts = joined_ids.decode().split(_ID_JOINT)
        except UnicodeDecodeError:
            return None
        id_texts[0] = id_texts[0][len(_ID_HEAD) :]
        stats = Stats(inputs=1)
        lines: list[str] = []
        if self._org:
            # where each record's closing "}" is (the last one's: just before high); where
            # each eventID is (_KEY_SHIFT bytes into its key: the same order)
            closes = [start - _START_BEFORE - 2 for start in nexts]
            closes.append(high - 1)
            accounts = _scan_accounts(
                data, low, high, closes, list(map(re.Match.start, found[1::3]))
            )
            if accounts is None:
                return None
            if not self.only_matches:
                lines = _account_lines(id_texts, accounts, tails)
        elif not self.only_matches:
            if joined_ids.isascii():  # the JSON text as written
                lines = [
                    f'{{"eventID":"{text}","key":"{text}{tail}'
                    for text, tail in zip(id_texts, tails, strict=True)
                ]
            else:
                lines = [
                    '{"eventID":'
                    + (quoted := encode_basestring_ascii(text)[:-1])
                    + '","key":'
                    + quoted
                    + tail
                    for text, tail in zip(id_texts, tails, strict=True)
                ]
        candidates = _candidate_indexes(tails)
        scanned = _Scanned(data, low, high, nexts, calls, id_texts)
        decided = self._decide_scanned(scanned, candidates, label, lines, stats)
        if decided is None:
            return None
        if self.only_matches:
            lines = decided
        stats.counts[(NO_WORKFLOW, _IGNORE)] += total - stats.records
        stats.records = total
        return Result(lines, stats)

    def _decide_scanned(
        self,
        scanned: _Scanned,
        candidates: list[int],
        label: str,
        lines: list[str],
        stats: Stats,
    ) -> list[str] | None:
        """Decide the scanned records a rule may take (their indexes): each line put in
        ``lines`` (or, with only_matches, the lines returned); None when a record is not
        what the scan read (the file is parsed)."""

        decided: list[str] = []
        only_matches, organization = self.only_matches, self._org
        counts, started = stats.counts, stats.started
        data, low, high, nexts, calls, id_texts = scanned
        known = self._scanned_calls
        for index in candidates:
            # A rule may take it: parse the record and decide it in full.
            start = low if index == 0 else nexts[index - 1] - _START_BEFORE
            end = nexts[index] - _START_BEFORE - 1 if index < len(nexts) else high  # before ",{"
            call = calls[index]
            seen = known.get(call)
            if seen is None:
                seen = known[call] = _ScannedCall(*_call_texts(call))
            if seen.name is None:
                return None
            record = _parse_record(data[start:end], seen.source, seen.name, id_texts[index])
            if record is None:
                return None
            bound = _ENVELOPE_PER_BYTE * (end - start) + _ENVELOPE_OVERHEAD
            if organization:
                self._emit(self._record_line(record, label, index, bound), decided, stats)
                if not only_matches:
                    lines[index] = decided.pop()
                continue
            # _record_line and _emit for what the scan already checked: the record's
            # eventID (its key, record_key) and eventName are the scanned strings.
            event = wrap_cloudtrail_record(record, copy=False)
            # The rules that may take it depend on its call alone (wrap derives the
            # event's source from its eventSource): looked up once per call.
            rules = seen.rules
            if rules is None:
                rules = seen.rules = self._candidates(event)
            # outcome() and _tally() inlined (once per record a rule may take)
            try:
                outcome = self._outcome(event, bound, rules)
            except Exception as exc:
                outcome = _Outcome(None, _IGNORE, _error("replay", exc), error=True)
            stats.records += 1
            counts[(outcome.workflow or NO_WORKFLOW, outcome.verdict)] += 1
            for rule in outcome.matched:
                started[rule] += 1
            stats.errors += outcome.error
            if only_matches and outcome.verdict == _IGNORE:
                continue
            quoted = encode_basestring_ascii(id_texts[index])
            text = (
                f'{{"eventID":{quoted},"key":{quoted},"eventName":{seen.quoted_name}'
                f"{_outcome_fields(outcome)}"
            )
            if only_matches:
                decided.append(text)
            else:
                lines[index] = text
        return decided

    def _scan_tail(self, call: bytes) -> str:
        """Memoised: "" if a rule may take this call, else its line after the eventID.

        Raises nothing: a name that is not UTF-8 is treated as "may match" (the record
        is parsed, and a record that does not parse sends the file to the full path).
        """
        source, _, name = call[len(_CALL_HEAD) :].partition(_NAME_JOINT)
        try:
            text_source, text_name = source.decode(), name.decode()
        except UnicodeDecodeError:
            self._scan_memo[call] = ""
            return ""
        tail = ""
        if not self.ruleset.call_filter.may_match(text_source, text_name):
            tail = '","eventName":' + encode_basestring_ascii(text_name) + _UNMATCHED_TAIL
        self._scan_memo[call] = tail
        return tail

    def _unreadable(self, label: str, why: str, stats: Stats) -> Result:
        stats.unreadable.append(f"{label}: {why}")
        outcome = _Outcome(None, _IGNORE, f"unreadable input {label}: {why}")
        account = None if self._org else NO_ACCOUNT_FIELD
        return Result(
            [] if self.only_matches else [line(None, None, outcome, None, account)], stats
        )

    def _emit(self, produced: _Produced, lines: list[str], stats: Stats) -> None:
        event_id, event_name, outcome, key, account = produced
        self._tally(outcome, account, stats)
        if not (self.only_matches and outcome.verdict == _IGNORE):
            lines.append(
                line(event_id, event_name, outcome, key, account if self._org else NO_ACCOUNT_FIELD)
            )

    def _tally(self, outcome: _Outcome, account: str | None, stats: Stats) -> None:
        """Count one decided record (``account``: organisation mode's, else unused)."""
        stats.records += 1
        stats.counts[(outcome.workflow or NO_WORKFLOW, outcome.verdict)] += 1
        for rule in outcome.matched:
            stats.started[rule] += 1
        stats.errors += outcome.error
        if self._org and outcome.verdict != _IGNORE:
            stats.by_account[(account or "-", outcome.verdict)] += 1

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
        organization = self._org
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
                    if print_unmatched and organization:
                        event_id = record.get("eventID")
                        account = record_account(record)
                        append(
                            '{"eventID":'
                            + _json_text(event_id if type(event_id) is str else None)
                            + ',"key":'
                            + _json_text(account_key(record_key(record), account, True))
                            + ',"account":'
                            + _json_text(account or None)
                            + ',"eventName":'
                            + encode_basestring_ascii(name)
                            + _UNMATCHED_TAIL
                        )
                    elif print_unmatched:
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

    def _record_line(
        self, record: Any, label: str, index: int, size_bound: int | None = None
    ) -> _Produced:
        if type(record) is not dict and not isinstance(record, Mapping):
            why = f"{label}: record {index} is a {type(record).__name__}, not an object"
            return None, None, _Outcome(None, _IGNORE, why), None, None
        event_id = _text_or_none(record.get("eventID"))
        event_name = _text_or_none(record.get("eventName"))
        event = wrap_cloudtrail_record(record, copy=False)
        key = record_key(record)
        if not self._org:
            return event_id, event_name, self.outcome(event, size_bound), key, None
        # The hub sees the event with its account (EventBridge always sets it).
        account = event["account"] = record_account(record)
        outcome = self.outcome(event, size_bound)
        return event_id, event_name, outcome, account_key(key, account, True), account or None

    def _event_line(self, event: Mapping[str, Any]) -> _Produced:
        detail = event.get("detail")
        if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE and isinstance(detail, Mapping):
            event_id = _text_or_none(detail.get("eventID"))
            event_name = _text_or_none(detail.get("eventName"))
        else:
            event_id = _text_or_none(event.get("id"))
            event_name = _text_or_none(event.get("detail-type"))
        account = _text_or_none(event.get("account")) or ""
        key = account_key(event_key(event), account, self._org)
        return event_id, event_name, self.outcome(event), key, account or None

    # ------------------------------------------------------------------ deciding

    def outcome(
        self,
        event: Mapping[str, Any],
        size_bound: int | None = None,
        candidates: tuple[_Candidate, ...] | None = None,
    ) -> _Outcome:
        """What the deployed app would do with one EventBridge event (``size_bound``: an
        upper bound of its JSON size, see :func:`trailwarden.models.events.parse_envelope`;
        ``candidates``: what _candidates answers for it, when the caller knows).

        The last line of defence: whatever the record holds, it gets its one line. The
        readers below treat a value of the wrong type as absent; an exception that still
        escapes them becomes an ``ignore`` line that names it, never a traceback.
        """
        try:
            return self._outcome(event, size_bound, candidates)
        except Exception as exc:
            return _Outcome(None, _IGNORE, _error("replay", exc), error=True)

    def _outcome(
        self,
        event: Mapping[str, Any],
        size_bound: int | None,
        candidates: tuple[_Candidate, ...] | None,
    ) -> _Outcome:
        if candidates is None:
            candidates = self._candidates(event)
        matched = [rule for rule, accepts in candidates if accepts(event)]
        if not matched:
            return self._unmatched(event)
        if len(matched) == 1:  # the common case
            (rule,) = matched
            return self._run(event, self._workflow(rule, event), rule.logical_id, size_bound, True)
        outcomes = [
            self._run(event, self._workflow(rule, event), rule.logical_id, size_bound)
            for rule in matched
        ]
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

    def _candidates(self, event: Mapping[str, Any]) -> tuple[_Candidate, ...]:
        """The rules that may take the event, each with its test (EventBridge delivers the
        event to the rule). For a CloudTrail call, memoised by call: the rules whose
        pattern allows its source, eventSource and eventName, each tested on the rest
        of its pattern only (:func:`~trailwarden_local.patterns.compile_pattern_given`);
        for anything else, every rule and its whole pattern."""
        detail = event.get("detail")
        if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE or type(detail) is not dict:
            return self._every_rule
        event_source, event_name = detail.get("eventSource"), detail.get("eventName")
        if type(event_source) is not str or type(event_name) is not str:
            return self._every_rule
        source = event.get("source")
        call = (source if type(source) is str else None, event_source, event_name)
        candidates = self._rules_by_call.get(call)
        if candidates is None:
            candidates = self._rules_by_call[call] = self._for_call(*call)
        return candidates

    def _for_call(
        self, source: str | None, event_source: str, event_name: str
    ) -> tuple[_Candidate, ...]:
        known = {
            ("detail-type",): CLOUDTRAIL_DETAIL_TYPE,
            ("detail", "eventSource"): event_source,
            ("detail", "eventName"): event_name,
        }
        if source is not None:
            known[("source",)] = source
        candidates: list[_Candidate] = []
        for rule, calls in self._rule_calls:
            if not may_take(calls, event_source, event_name):
                continue
            # The rule's whole pattern was compiled when the rules were loaded.
            test = compile_pattern_given(rule.pattern, known, validated=True)
            if test is not False:
                candidates.append((rule, _accepting(rule, test)))
        return tuple(candidates)

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

    def _run(
        self,
        event: Mapping[str, Any],
        workflow: Workflow,
        rule: str | None,
        size_bound: int | None = None,
        started: bool = False,
    ) -> _Outcome:
        """The workflow's own decision (``decide``) and, when it acts, its dry-run plan.

        ``started``: ``rule`` is the one rule that matched (the outcome names it in
        ``matched``, as the merged outcome of several rules does)."""
        matched = (rule,) if started and rule is not None else ()
        settings = self._settings_for(event)
        try:
            decision = decide(event, workflow, settings, size_bound=size_bound)
        except InvalidEvent as exc:
            why = f"invalid event: {exc}"
            return _Outcome(workflow.id, _IGNORE, why, rule=rule, matched=matched)
        except Exception as exc:  # a detection bug must not stop a month-long replay
            why = _error("detection", exc)
            return _Outcome(workflow.id, _IGNORE, why, rule=rule, matched=matched, error=True)
        detection, verdict = decision.detection, decision.verdict
        reason = detection.reason
        if detection.outcome is not Outcome.IGNORE:
            mode = settings.mode(workflow.id)
            if mode is Mode.OFF or (detection.outcome is Outcome.ACT and mode is Mode.ALERT):
                reason = f"{reason} (mode {mode})"
        if (
            self._org_unknown
            and detection.facts.get("addedUntrustedAccounts")
            and _reads_trusted_accounts(workflow)
        ):
            reason += (
                " (offline: the organisation's accounts are unknown, only TrustedAccountIds'"
                " ids were trusted; --organization-accounts FILE gives them)"
            )
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
                return _Outcome(workflow.id, _IGNORE, why, rule=rule, matched=matched, error=True)
            actions = tuple(action.to_dict() for action in plan)
            reason += OFFLINE_NOTE
        return _Outcome(workflow.id, str(verdict), reason, actions, rule, matched)

    def _settings_for(self, event: Mapping[str, Any]) -> DetectionSettings:
        """The settings, with the session issuer among the own roles when it matches a
        wildcard --own-role-arn (the deployed functions know their exact role ARNs)."""
        if self._is_own_wildcard is None:
            return self._settings
        detail = event.get("detail")
        issuer = parse_actor(detail).session_issuer_arn if isinstance(detail, Mapping) else ""
        if not issuer or not self._is_own_wildcard(issuer):
            return self._settings
        settings = self._settings_by_issuer.get(issuer)
        if settings is None:
            own = self._settings.own_role_arns | {issuer}
            settings = self._settings_by_issuer[issuer] = replace(self._settings, own_role_arns=own)
        return settings

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
        if actor.type == "AssumedRole" and self._is_own(actor.session_issuer_arn):
            return "the app's own call: not matched by the rule pattern"
        active = [rule for rule in self._rules if rule.logical_id in rules]
        if detail.get("readOnly") in (True, "true") and not any(
            rule.all_management_events for rule in active
        ):
            return "read-only call: EventBridge does not deliver it to an ENABLED rule"
        return "not matched by the rule pattern"


_MISSING: Final = object()


def record_account(record: Mapping[str, Any]) -> str:
    """The account a CloudTrail record belongs to (the one EventBridge delivers it in):
    ``recipientAccountId``, else (records before eventVersion 1.02 lack it) the caller's
    ``userIdentity.accountId``; "" when neither is an account id."""
    account = record.get("recipientAccountId")
    if type(account) is str and account:
        return account
    identity = record.get("userIdentity")
    fallback = identity.get("accountId") if isinstance(identity, Mapping) else None
    return fallback if type(fallback) is str and _ACCOUNT_ID.fullmatch(fallback) else ""


def _candidate_indexes(tails: list[str]) -> list[int]:
    """Where the scanned records a rule may take are (their tail is ""): list.index's
    C loop finds each (about one record in ten) instead of a Python loop over all."""
    found: list[int] = []
    at = -1
    find = tails.index
    try:
        while True:
            at = find("", at + 1)
            found.append(at)
    except ValueError:
        return found


def _account_lines(id_texts: list[str], accounts: list[str], tails: list[str]) -> list[str]:
    """The scanned records' lines in organisation mode (see Replayer._scan_log)."""
    rows = zip(id_texts, accounts, tails, strict=True)
    if all(map(str.isascii, id_texts)):  # the JSON text as written
        return [
            f'{{"eventID":"{text}","key":"{account}#{text}","account":"{account}{tail}'
            for text, account, tail in rows
        ]
    return [
        '{"eventID":'
        + (quoted := encode_basestring_ascii(text)[:-1])
        + f'","key":"{account}#'
        + quoted[1:]
        + f'","account":"{account}'
        + tail
        for text, account, tail in rows
    ]


def _scan_accounts(
    data: bytes, low: int, high: int, closes: list[int], id_starts: list[int]
) -> list[str] | None:
    """Every record's ``recipientAccountId`` in a scanned log, or None unless each record
    holds exactly one key of that name, after its eventID (where CloudTrail writes it:
    not inside requestParameters or responseElements), with 12 digits as its value.
    ``closes``: where each record ends; ``id_starts``: where its eventID is."""
    found = list(_ACCOUNT_FIELD.finditer(data, low, high))
    if len(found) != len(closes):
        return None
    accounts = list(map(_FIRST_GROUP, found))
    if None in accounts:
        return None
    starts = list(map(re.Match.start, found))
    # The i-th account lies inside the i-th record, after its eventID, before its end.
    if (
        not all(map(operator.lt, id_starts, starts))
        or not all(map(operator.lt, starts, closes))
        or not all(map(operator.gt, starts[1:], closes))
    ):
        return None
    return b"\n".join(accounts).decode().split("\n")


def _reads_trusted_accounts(workflow: Workflow) -> bool:
    declaration = workflow.declaration
    specs = (declaration.assess, declaration.remediate, declaration.alert)
    return any(spec is not None and "TrustedAccountIds" in spec.reads for spec in specs)


def _accepting(
    rule: ReplayRule, test: Callable[[Mapping[str, Any]], bool] | bool
) -> Callable[[Mapping[str, Any]], bool]:
    """``rule.accepts`` for CloudTrail calls (``detail`` an object) whose known fields
    ``test`` (the rest of the rule's pattern, or its constant value) already took into
    account: a rule that does not receive read-only management events still skips them."""
    skips_read_only = not rule.all_management_events
    rest = _always if isinstance(test, bool) else test  # False: never asked (no candidate)
    if rule.only_account is not None:  # organisation mode, the hub's default bus
        return rule.accepts

    def accepts(event: Mapping[str, Any]) -> bool:
        if skips_read_only and event["detail"].get("readOnly") in (True, "true"):
            return False
        return rest(event)

    return accepts


def _always(event: Mapping[str, Any]) -> bool:
    return True


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
