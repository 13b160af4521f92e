"""Replay answers every record with exactly one line, whatever the record holds, and
decides records without an eventID (CloudTrail eventVersion 1.0) on their content."""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any

import pytest

from tests.unit.test_replay import record_of, replay, write_log
from trailwarden_local import replay_core, replay_inputs
from trailwarden_local.replay_core import _loads_record
from trailwarden_local.replay_rules import ReplayRule

if TYPE_CHECKING:
    from pathlib import Path

CREATE_USER = "iam-user-change/create-user.json"


def version_1_0(file: str) -> dict[str, Any]:
    record = record_of(file, eventID=None, eventVersion="1.0")
    assert "eventID" not in record
    return record


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "pretty"])
def test_a_record_without_event_id_is_decided_on_its_content(tmp_path: Path, compact: bool) -> None:
    record = version_1_0(CREATE_USER)
    write_log(tmp_path / "old.json.gz", [record], compact=compact)

    status, (line,), _ = replay([tmp_path])

    assert status == 0
    assert (line["workflow"], line["verdict"]) == ("iam-user-change", "alert")
    assert line["eventID"] is None
    assert line["key"] == record["requestID"]


def test_without_event_or_request_id_the_key_is_a_stable_record_hash(tmp_path: Path) -> None:
    record = version_1_0(CREATE_USER)
    del record["requestID"]
    write_log(tmp_path / "a" / "old.json.gz", [record])
    write_log(tmp_path / "b" / "old.json", [copy.deepcopy(record)], gzipped=False)

    _, lines, _ = replay([tmp_path])

    assert [line["verdict"] for line in lines] == ["alert", "alert"]
    assert lines[0]["key"].startswith("sha256:")
    assert lines[0]["key"] == lines[1]["key"]


def test_a_record_with_event_id_keeps_it_as_its_key(tmp_path: Path) -> None:
    record = record_of(CREATE_USER)
    unmatched = record_of(CREATE_USER, eventName="ListUsers")
    write_log(tmp_path / "log.json.gz", [record, unmatched])

    _, lines, _ = replay([tmp_path])

    assert [(line["eventID"], line["key"]) for line in lines] == [
        (record["eventID"], record["eventID"]),
        (unmatched["eventID"], unmatched["eventID"]),
    ]


def test_a_session_issuer_arn_that_is_an_object_gets_its_line(tmp_path: Path) -> None:
    # An AssumedRole call that no rule matches goes through _why_not: it used to die with
    # "unhashable type: 'dict'" and every later record got no line.
    record = record_of(
        "sg-open-ingress/ssh-world-nested.json",
        errorCode=None,
        userIdentity={
            "type": "AssumedRole",
            "sessionContext": {"sessionIssuer": {"arn": {"nested": "object"}}},
        },
        requestParameters={"groupId": {"S": "sg-1"}, "ipPermissions": ["x"]},
        responseElements=None,
    )
    record["eventSource"] = "ec2.amazonaws.com"
    after = record_of(CREATE_USER)
    write_log(tmp_path / "log.json.gz", [record, after], compact=False)

    status, lines, err = replay([tmp_path])

    assert status == 0
    assert len(lines) == 2
    assert lines[1]["verdict"] == "alert"
    assert "Traceback" not in err


def test_an_event_source_that_is_an_object_gets_its_line(tmp_path: Path) -> None:
    record = record_of("app-tamper/disable-rule.json", eventSource={"a": 1})
    write_log(tmp_path / "log.json.gz", [record, record_of(CREATE_USER)])

    status, lines, _ = replay([tmp_path])

    assert status == 0
    assert len(lines) == 2


@pytest.mark.parametrize("shortcuts", [False, True])  # True: the fast scan's own path
def test_an_unexpected_error_is_an_ignore_line_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shortcuts: bool
) -> None:
    def broken(*args: Any) -> bool:
        raise RuntimeError("matcher bug")

    # Both matchers: a rule's whole pattern, and its pattern decided for a known call.
    monkeypatch.setattr(ReplayRule, "accepts", broken)
    monkeypatch.setattr(replay_core, "compile_pattern_given", lambda *args, **kwargs: broken)
    write_log(tmp_path / "log.json.gz", [record_of(CREATE_USER), record_of(CREATE_USER)])

    status, lines, err = replay([tmp_path], shortcuts=shortcuts)

    assert status == 0
    assert [line["verdict"] for line in lines] == ["ignore", "ignore"]
    assert "RuntimeError: matcher bug" in lines[0]["reason"]
    assert "2 records raised an error" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("event_id", "key", "event_name", "workflow", "rule"),
    [
        ("e-1", "e-1", "StopLogging", "cloudtrail-tamper", "TrailTampered"),
        (None, None, None, None, None),
        ('\u00e9v\u00e8nement "quoted" \\ \n', "sha256:ab", "N\u00e4me\x00", "w", "r"),
    ],
)
def test_a_line_is_the_compact_json_of_its_fields(
    event_id: str | None,
    key: str | None,
    event_name: str | None,
    workflow: str | None,
    rule: str | None,
) -> None:
    """The hand-built line is byte for byte what json.dumps prints for the same dict."""
    import json
    from datetime import UTC, datetime

    from trailwarden_local.replay_core import _Outcome, line

    actions = ({"action": "revoke", "at": datetime(2026, 1, 1, tzinfo=UTC), "ids": [1, 2.5]},)
    for outcome in (
        _Outcome(workflow, "remediate", "r\u00e9ason \u2713", actions, rule),
        _Outcome(workflow, "ignore", "no rule matches", (), rule),
    ):
        expected = json.dumps(
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
        assert line(event_id, event_name, outcome, key) == expected


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":123456789012345678901234567890}',  # beyond 64 bits: orjson makes it a float
        b'{"a":-9223372036854775809}',
        b'{"a":18446744073709551615,"b":"x"}',
        b'{"a":Infinity,"b":NaN}',  # json reads these; orjson refuses them
        b'{"a":1e400}',
        b'{"a":"\\ud800"}',  # a lone surrogate
        b'{"a":1,"a":2}',
        b'{"a":0.1,"b":[1.0,-0.0,5e-324],"c":null,"d":true}',
    ],
    ids=["huge-int", "below-int64", "uint64-max", "nan", "overflow", "surrogate", "dup", "plain"],
)
def test_a_record_the_scan_cuts_out_is_read_exactly_as_json_reads_it(text: bytes) -> None:
    read = _loads_record(text)

    assert repr(read) == repr(json.loads(text.decode("utf-8", "surrogatepass")))
    assert [type(v) for v in read.values()] == [
        type(v) for v in json.loads(text.decode("utf-8", "surrogatepass")).values()
    ]


def _zlib_gunzip(raw: bytes) -> bytes | str:
    """What zlib alone answers: the data, or the reason replay prints."""
    try:
        return replay_inputs._gunzip(raw, zlib.decompressobj, zlib.error)
    except replay_inputs.UnreadableInput as exc:
        return str(exc)


def _inflated_whole(raw: bytes) -> bytes | str:
    """zlib, every member inflated by one unbounded call (no size hint): the reference."""
    parts: list[bytes] = []
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            parts.append(inflater.decompress(raw))
        except zlib.error as exc:
            return f"bad gzip data: {exc}"
        if not inflater.eof:
            return "bad gzip data: truncated (no end-of-stream marker)"
        raw = inflater.unused_data
        if not raw.startswith(replay_inputs.GZIP_MAGIC):
            break
    if raw.strip(b"\0"):
        return "bad gzip data: trailing garbage after the last member"
    return b"".join(parts)


def _corrupt_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 1]) + data[-7:]


@pytest.mark.parametrize(
    "raw",
    [
        gzip.compress(b'{"Records":[]}') + gzip.compress(b"more"),
        _corrupt_crc(gzip.compress(b'{"Records":[]}')),
        gzip.compress(b'{"Records":[]}' * 50)[:-10],
        gzip.compress(b"{}") + b"garbage",
        gzip.compress(b"{}") + b"\0\0\0",
        b"\x1f\x8bnot really gzip",
    ],
    ids=["two-members", "bad-crc", "truncated", "trailing-garbage", "zero-padding", "not-gzip"],
)
def test_a_gzipped_log_reads_as_zlib_reads_it(raw: bytes) -> None:
    try:
        got: bytes | str = replay_inputs.gunzip(raw)
    except replay_inputs.UnreadableInput as exc:
        got = str(exc)

    assert got == _zlib_gunzip(raw)


_BIG = b'{"Records":[' + b'{"eventVersion":"1.08"},' * 4000 + b"{}]}"


def _with_size(data: bytes, size: int) -> bytes:
    """gzip data whose trailer claims ``size`` bytes (CRC left as is)."""
    return data[:-4] + (size % 2**32).to_bytes(4, "little")


@pytest.mark.parametrize(
    "raw",
    [
        gzip.compress(_BIG),
        gzip.compress(_BIG) + gzip.compress(b"{}"),  # the trailer's size: the small one's
        gzip.compress(b"{}") + gzip.compress(_BIG),
        gzip.compress(_BIG) + gzip.compress(_BIG[:-5000]) + gzip.compress(_BIG),
        _with_size(gzip.compress(_BIG), len(_BIG) - 1),
        _with_size(gzip.compress(_BIG), len(_BIG) + 1),
        _with_size(gzip.compress(_BIG), 2**32 - 1),
        _with_size(gzip.compress(_BIG), 0),
        gzip.compress(_BIG)[:-8],
        gzip.compress(_BIG) + b"\0" * 4,
        gzip.compress(_BIG) + b"\xff\xff\xff\x7f",
    ],
    ids=[
        "one-member",
        "big-then-small",
        "small-then-big",
        "three-members",
        "size-one-short",
        "size-one-over",
        "size-huge",
        "size-zero",
        "no-trailer",
        "zero-padding",
        "garbage-size",
    ],
)
def test_a_gzipped_log_inflated_to_its_trailer_size_reads_as_one_unbounded_inflate(
    raw: bytes,
) -> None:
    """The output size the trailer gives bounds the first inflate call only: whatever the
    trailer says (several members, a wrong size), the answer is the unbounded one's."""
    for inflate in (replay_inputs.gunzip, _zlib_gunzip):
        try:
            got: bytes | str = inflate(raw)
        except replay_inputs.UnreadableInput as exc:
            got = str(exc)
        assert got == _inflated_whole(raw)


def test_a_gzipped_log_is_inflated_into_a_buffer_of_the_trailer_size() -> None:
    """One buffer of the size the trailer gives instead of one grown as it fills."""
    asked: list[int] = []

    class Recording:
        def __init__(self, wbits: int) -> None:
            self._inner = zlib.decompressobj(wbits=wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            asked.append(max_length)
            return self._inner.decompress(data, max_length)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    raw = gzip.compress(_BIG)
    assert replay_inputs._gunzip(raw, Recording, zlib.error) == _BIG
    assert asked == [len(_BIG) + 1]
