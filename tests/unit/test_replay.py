"""`trailwarden replay` (DESIGN §6): what the app would have done with CloudTrail logs.

Expected answers come from events/index.json (the samples' workflow and verdict), never
from the code under test. Most tests call ``replay.run`` in-process; a few run the
installed console script end to end.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import EVENTS, REPO, load_index
from trailwarden.workflows.registry import BY_ID
from trailwarden_local import replay_rules
from trailwarden_local.replay import _Progress, run
from trailwarden_local.replay_core import Replayer, Stats
from trailwarden_local.replay_inputs import DateRange, Loaded, path_date, wanted
from trailwarden_local.replay_rules import ParameterError, load_rules, parse_parameter_overrides
from trailwarden_local.samples import TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Sequence

INDEX = load_index()
PARAMETERS = [f"{key}={value}" for key, value in INDEX["parameters"].items()]
OWN_ROLES: list[str] = INDEX["ownRoleArns"]
CLOUDTRAIL = "AWS API Call via CloudTrail"
FIELDS = {"eventID", "eventName", "workflow", "verdict", "reason", "actions"}
TRAILWARDEN = Path(sys.executable).with_name("trailwarden")


def _event(entry: dict[str, Any]) -> dict[str, Any]:
    return json.loads((EVENTS / entry["file"]).read_text(encoding="utf-8"))


def _event_id(event: dict[str, Any]) -> str:
    if event.get("detail-type") == CLOUDTRAIL:
        return str(event["detail"]["eventID"])
    return str(event["id"])


# Samples whose expected verdict holds with the index's run-wide parameters.
SAMPLES = [entry for entry in INDEX["events"] if not entry.get("parameters")]
# Their CloudTrail records, as CloudTrail writes them to S3 (eventVersion first).
RECORDS = [
    {"eventVersion": "1.09", **_event(entry)["detail"]}
    for entry in SAMPLES
    if _event(entry).get("detail-type") == CLOUDTRAIL
]
EXPECTED = {_event_id(_event(e)): (e.get("workflow"), e["verdict"]) for e in INDEX["events"]}


def sample(file: str) -> dict[str, Any]:
    (entry,) = [e for e in INDEX["events"] if e["file"] == file]
    return _event(entry)


def record_of(file: str, **changes: Any) -> dict[str, Any]:
    """The CloudTrail record inside a sample, with top-level changes (None deletes)."""
    record = {"eventVersion": "1.09", **sample(file)["detail"]}
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def write_log(
    path: Path, records: Sequence[Any], *, gzipped: bool = True, compact: bool = True
) -> Path:
    """A CloudTrail log file: compact gzipped JSON like CloudTrail's, or pretty JSON."""
    document = {"Records": list(records)}
    text = (
        json.dumps(document, separators=(",", ":")) if compact else json.dumps(document, indent=2)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    return path


def replay(
    paths: Sequence[Any],
    *,
    overrides: Sequence[str] = tuple(PARAMETERS),
    own_role_arns: Sequence[str] = tuple(OWN_ROLES),
    **options: Any,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run replay in-process: (exit status, parsed stdout lines, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = run(
        [str(p) for p in paths],
        overrides=overrides,
        own_role_arns=own_role_arns,
        out=out,
        err=err,
        **options,
    )
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def _day(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def by_id(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["eventID"]: line for line in lines}


# --------------------------------------------------------------------------- samples


def test_every_sample_event_gets_its_indexed_workflow_and_verdict() -> None:
    status, lines, err = replay([EVENTS])

    assert status == 0, err
    assert len(lines) == len(INDEX["events"]) == len(EXPECTED)
    assert {line["eventID"]: (line["workflow"], line["verdict"]) for line in lines} == EXPECTED
    assert all(set(line) >= FIELDS for line in lines)
    assert "skipped" in err  # index.json and states/ are not events


def test_acting_verdicts_carry_the_dry_run_plan_and_say_live_state_was_assumed() -> None:
    status, lines, _ = replay([EVENTS / "ami-exposure" / "made-public.json"])

    (line,) = lines
    assert status == 0
    assert line["verdict"] == "remediate"
    assert line["reason"].endswith("(offline: live state assumed)")
    assert [(a["action"], a["resource"]) for a in line["actions"]] == [
        ("ec2:ModifyImageAttribute", "ami-0a1b2c3d4e5f60718")
    ]
    assert line["rule"]


def test_the_console_script_prints_nothing_but_json_lines_on_stdout(tmp_path: Path) -> None:
    command = [str(TRAILWARDEN), "replay", "events/", "--parameter-overrides", *PARAMETERS]
    for arn in OWN_ROLES:
        command += ["--own-role-arn", arn]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    done = subprocess.run(
        command, check=False, capture_output=True, text=True, cwd=REPO, timeout=120, env=env
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(INDEX["events"])
    assert all(set(json.loads(line)) >= FIELDS for line in lines)
    assert "workflow" in done.stderr and "remediate" in done.stderr  # the summary table


# --------------------------------------------------------------------------- sources


def test_gzipped_log_folder_gives_the_same_answers_as_single_events(tmp_path: Path) -> None:
    half = len(RECORDS) // 2
    day = tmp_path / "AWSLogs" / "123456789012" / "CloudTrail" / "us-east-1" / "2026" / "11" / "24"
    write_log(day / "123456789012_CloudTrail_us-east-1_20261124T0215Z_a.json.gz", RECORDS[:half])
    write_log(tmp_path / "pretty.json", RECORDS[half:], gzipped=False, compact=False)
    _, singles, _ = replay([EVENTS / e["file"] for e in SAMPLES])

    status, from_logs, err = replay([tmp_path])

    assert status == 0, err
    assert len(from_logs) == len(RECORDS)
    expected = by_id(singles)
    assert by_id(from_logs) == {event_id: expected[event_id] for event_id in by_id(from_logs)}


def test_s3_prefix_gives_the_same_answers_as_single_events() -> None:
    _, singles, _ = replay([EVENTS / e["file"] for e in SAMPLES])

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="trail-logs")
        prefix = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/"
        for number, start in enumerate(range(0, len(RECORDS), 10)):
            body = json.dumps({"Records": RECORDS[start : start + 10]}, separators=(",", ":"))
            key = f"{prefix}{24 + number % 2}/123456789012_CloudTrail_us-east-1_x{number}.json.gz"
            s3.put_object(Bucket="trail-logs", Key=key, Body=gzip.compress(body.encode()))
        s3.put_object(Bucket="trail-logs", Key=f"{prefix}24/notes.txt", Body=b"not a log")

        status, from_s3, err = replay(["s3://trail-logs/AWSLogs/"])

    assert status == 0, err
    expected = by_id(singles)
    assert len(from_s3) == len(RECORDS)
    assert by_id(from_s3) == {event_id: expected[event_id] for event_id in by_id(from_s3)}


def test_since_and_until_list_only_the_dated_s3_folders_in_range() -> None:
    record = record_of("ami-exposure/made-public.json")
    listed: list[str] = []

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.meta.events.register(
            "before-parameter-build.s3.ListObjectsV2",
            lambda params, **_: listed.append(params["Prefix"]),
        )
        s3.create_bucket(Bucket="trail-logs")
        for day in ("2026/10/31", "2026/11/01", "2026/11/02", "2026/12/01"):
            stamp = day.replace("/", "")
            key = (
                f"AWSLogs/1/CloudTrail/us-east-1/{day}/1_CloudTrail_us-east-1_{stamp}T0000Z.json.gz"
            )
            body = {"Records": [{**record, "eventID": day}]}
            s3.put_object(
                Bucket="trail-logs", Key=key, Body=gzip.compress(json.dumps(body).encode())
            )

        status, lines, _ = replay(
            ["s3://trail-logs/AWSLogs/"],
            since=_day("2026-11-01"),
            until=_day("2026-11-02"),
            s3_client=lambda: s3,
        )

    assert status == 0
    assert [line["eventID"] for line in lines] == ["2026/11/01", "2026/11/02"]
    assert not any(p.endswith(("2026/10/", "2026/12/")) for p in listed)


def test_an_s3_prefix_that_cannot_be_listed_is_an_unreadable_input() -> None:
    with mock_aws():
        status, lines, err = replay(["s3://no-such-bucket/AWSLogs/"])

    assert status == 1
    (line,) = lines
    assert line["eventID"] is None
    assert "s3://no-such-bucket/AWSLogs/" in line["reason"]
    assert "NoSuchBucket" in line["reason"]
    assert "unreadable" in err


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("AWSLogs/1/CloudTrail/us-east-1/2026/11/24/x.json.gz", "2026-11-24"),
        ("logs/123_CloudTrail_eu-west-1_20261001T0000Z_abc.json.gz", "2026-10-01"),
        ("events/ami-exposure/made-public.json", None),
        ("AWSLogs/1/CloudTrail/us-east-1/2026/13/24/x.json.gz", None),
    ],
)
def test_the_day_a_log_was_filed_under_comes_from_its_folder_or_name(
    path: str, expected: str | None
) -> None:
    assert path_date(path) == (_day(expected) if expected else None)


def test_local_dated_folders_outside_the_range_are_not_read(tmp_path: Path) -> None:
    inside = "AWSLogs/1/CloudTrail/us-east-1/2026/11/02/a.json.gz"
    outside = "AWSLogs/1/CloudTrail/us-east-1/2026/10/31/b.json.gz"
    dates = DateRange(_day("2026-11-01"), _day("2026-11-30"))

    assert wanted(inside, dates)
    assert not wanted(outside, dates)
    assert wanted("undated/c.json", dates)  # no date in the path: always read
    assert not wanted("AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/02/d.json.gz", dates)
    assert not wanted("notes.txt", DateRange())


# --------------------------------------------------------------------------- bad input


def test_bad_records_and_files_are_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    good = record_of("ami-exposure/made-public.json")
    write_log(
        tmp_path / "a-mixed.json.gz",
        [
            {
                **record_of("ami-exposure/made-public.json", eventID="null-params"),
                "requestParameters": None,
            },
            record_of("ami-exposure/made-public.json", eventID="no-params", requestParameters=None),
            42,
            good,
        ],
    )
    truncated = gzip.compress(json.dumps({"Records": [good]}).encode())
    (tmp_path / "b-truncated.json.gz").write_bytes(truncated[: len(truncated) // 2])
    (tmp_path / "c-garbage.json").write_text("this is not JSON", encoding="utf-8")
    (tmp_path / "d-not-array.json").write_text('{"Records": {"oops": 1}}', encoding="utf-8")

    status, lines, err = replay([tmp_path, tmp_path / "missing.json.gz"])

    assert status == 1
    lines_by_id = by_id(lines)
    for event_id in ("null-params", "no-params"):
        assert lines_by_id[event_id]["workflow"] == "ami-exposure"
        assert lines_by_id[event_id]["verdict"] == "ignore"
        assert lines_by_id[event_id]["reason"]
    assert lines_by_id[good["eventID"]]["verdict"] == "remediate"
    unreadable = [line for line in lines if line["eventID"] is None]
    reasons = " | ".join(line["reason"] for line in unreadable)
    for name in ("b-truncated.json.gz", "c-garbage.json", "d-not-array.json", "missing.json.gz"):
        assert name in reasons
    assert "record 2 is a int" in reasons
    assert all(line["verdict"] == "ignore" for line in unreadable)
    assert "unreadable" in err


def test_json_that_is_no_event_is_skipped_in_a_folder_but_unreadable_when_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.json").write_text('{"comment": "not an event"}', encoding="utf-8")

    walked = replay([tmp_path])
    named = replay([tmp_path / "config.json"])

    assert walked[:2] == (0, [])
    assert named[0] == 1
    assert "not a CloudTrail log file" in named[1][0]["reason"]


def test_an_event_wrapped_as_event_key_is_read(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"event": sample("ami-exposure/made-public.json")}))

    status, (line,), _ = replay([wrapped])

    assert (status, line["workflow"], line["verdict"]) == (0, "ami-exposure", "remediate")


def test_a_detection_that_raises_is_reported_on_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any) -> Any:
        raise RuntimeError("detector bug")

    monkeypatch.setitem(BY_ID, "ami-exposure", BY_ID["ami-exposure"]._replace(detect=boom))
    write_log(tmp_path / "log.json.gz", [record_of("ami-exposure/made-public.json")])

    status, (line,), err = replay([tmp_path])

    assert status == 0
    assert (line["workflow"], line["verdict"]) == ("ami-exposure", "ignore")
    assert "detection error: RuntimeError: detector bug" in line["reason"]
    assert "raised an error" in err


def test_whatever_else_prints_goes_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = BY_ID["ami-exposure"]

    def chatty(*args: Any) -> Any:
        print("a library talking")
        return workflow.detect(*args)

    monkeypatch.setitem(BY_ID, "ami-exposure", workflow._replace(detect=chatty))
    write_log(tmp_path / "log.json.gz", [record_of("ami-exposure/made-public.json")])

    status, (line,), err = replay([tmp_path])

    assert (status, line["verdict"]) == (0, "remediate")
    assert "a library talking" in err


# --------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param({}, 0, id="every-input-read"),
        pytest.param({"paths": ["missing.json"]}, 1, id="unreadable-input"),
        pytest.param({"overrides": ["NoSuchParameter=1"]}, 2, id="unknown-parameter"),
        pytest.param({"overrides": ["AmiExposureMode=sometimes"]}, 2, id="outside-allowed-values"),
        pytest.param({"overrides": ["AmiExposureMode"]}, 2, id="not-key-value"),
        pytest.param({"own_role_arns": ["trailwarden-role"]}, 2, id="own-role-not-an-arn"),
        pytest.param(
            {"since": _day("2026-11-02"), "until": _day("2026-11-01")}, 2, id="since-after-until"
        ),
        pytest.param({"paths": ["s3://"]}, 2, id="s3-without-bucket"),
        pytest.param({"template": Path("no-such-template.yaml")}, 2, id="no-template"),
    ],
)
def test_exit_status(arguments: dict[str, Any], expected: int) -> None:
    paths = arguments.pop("paths", [EVENTS / "ami-exposure" / "made-public.json"])
    overrides = arguments.pop("overrides", PARAMETERS)

    status, _, err = replay(paths, overrides=overrides, **arguments)

    assert status == expected, err
    if expected == 2:
        assert "error:" in err


def test_usage_errors_from_the_command_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from trailwarden_local.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["replay", "--since", "yesterday", "events/"])

    assert exited.value.code == 2
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            ["TrustedAccountIds=111111111111,222222222222"],
            {"TrustedAccountIds": "111111111111,222222222222"},
        ),
        (["A=1", "B=x=y"], {"A": "1", "B": "x=y"}),
        (["ParameterKey=Language,ParameterValue=ko"], {"Language": "ko"}),
        (["NotificationEmail="], {"NotificationEmail": ""}),
    ],
)
def test_parameter_overrides_are_read_as_sam_deploy_reads_them(
    items: list[str], expected: dict[str, str]
) -> None:
    assert parse_parameter_overrides(items) == expected


@pytest.mark.parametrize("item", ["=1", "NoEquals", "Bad Name=1"])
def test_malformed_parameter_overrides_are_refused(item: str) -> None:
    with pytest.raises(ParameterError):
        parse_parameter_overrides([item])


def test_a_value_with_commas_trusts_every_listed_account() -> None:
    untrusted = EVENTS / "ami-exposure" / "shared-untrusted-account.json"

    _, (before,), _ = replay([untrusted])
    _, (after,), _ = replay([untrusted], overrides=["TrustedAccountIds=222222222222,999988887777"])

    assert before["verdict"] == "remediate"
    assert (after["verdict"], after["reason"]) == (
        "ignore",
        "AMI shared only with trusted accounts",
    )


@pytest.mark.parametrize(
    ("mode", "verdict", "planned"),
    [("remediate", "remediate", True), ("alert", "alert", False), ("off", "ignore", False)],
)
def test_the_workflow_mode_decides_the_effective_verdict(
    mode: str, verdict: str, planned: bool
) -> None:
    status, (line,), _ = replay(
        [EVENTS / "ami-exposure" / "made-public.json"],
        overrides=[*PARAMETERS, f"AmiExposureMode={mode}"],
    )

    assert status == 0
    assert line["verdict"] == verdict
    assert bool(line["actions"]) is planned
    if mode != "remediate":
        assert f"(mode {mode})" in line["reason"]


def test_only_matches_prints_only_lines_that_are_not_ignore() -> None:
    _, every, _ = replay([EVENTS])

    status, matches, err = replay([EVENTS], only_matches=True)

    assert status == 0
    assert matches == [line for line in every if line["verdict"] != "ignore"]
    assert matches
    assert "ignore" in err  # the summary still counts everything


def test_own_role_calls_are_excluded_by_the_rule_only_with_own_role_arn() -> None:
    own_call = EVENTS / "ami-exposure" / "own-role-call.json"

    _, (known,), _ = replay([own_call])
    _, (unknown,), _ = replay([own_call], own_role_arns=[])

    assert (known["verdict"], known["rule"]) == ("ignore", None)
    assert "the app's own call" in known["reason"]
    assert unknown["verdict"] != "ignore"


def test_read_only_records_never_reach_an_enabled_rule(tmp_path: Path) -> None:
    write_log(tmp_path / "log.json.gz", [record_of("ami-exposure/made-public.json", readOnly=True)])

    _, (line,), _ = replay([tmp_path])

    assert (line["workflow"], line["verdict"], line["rule"]) == ("ami-exposure", "ignore", None)
    assert "read-only" in line["reason"]


# --------------------------------------------------------------------------- speed paths


def test_the_fast_scan_prints_exactly_what_a_full_parse_prints(tmp_path: Path) -> None:
    made_public = record_of("ami-exposure/made-public.json")
    benign = {
        **record_of("ami-exposure/made-public.json"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "requestParameters": {"instancesSet": {}},
    }
    name_first = {"eventVersion": "1.09", "eventName": "DescribeImages"} | {
        k: v for k, v in benign.items() if k not in ("eventVersion", "eventName")
    }
    files = {
        "canonical": [benign | {"eventID": f"b{i}"} for i in range(20)] + [made_public],
        "escaped-name": [benign | {"eventID": "esc", "eventName": 'Describe"Quoted'}],
        "nested-key": [benign | {"requestParameters": {"eventName": "ModifyImageAttribute"}}],
        "name-before-source": [name_first],
        "not-object": [benign, None],
    }
    for name, records in files.items():
        write_log(tmp_path / f"{name}.json.gz", records)
    spaced = b'{"Records":[' + json.dumps(benign).encode() + b"]}"
    (tmp_path / "spaced.json.gz").write_bytes(gzip.compress(spaced))
    raw_utf8 = json.dumps(
        {"Records": [benign | {"eventID": "ü-1"}, made_public]}, ensure_ascii=False
    )
    (tmp_path / "utf8.json.gz").write_bytes(gzip.compress(raw_utf8.encode()))

    fast = replay([tmp_path])
    full = replay([tmp_path], shortcuts=False)

    assert fast[:2] == full[:2]
    assert by_id(fast[1])[made_public["eventID"]]["verdict"] == "remediate"


def test_the_fast_scan_falls_back_to_a_full_parse_when_fields_do_not_line_up(
    tmp_path: Path,
) -> None:
    made_public = record_of("ami-exposure/made-public.json")
    benign = record_of(
        "ami-exposure/made-public.json",
        eventName="DescribeInstances",
        requestParameters={"instancesSet": {}},
    )
    id_first = {"eventVersion": "1.09", "eventID": "first"} | {
        k: v for k, v in benign.items() if k not in ("eventVersion", "eventID")
    }
    nested_call = {"eventSource": "ec2.amazonaws.com", "eventName": "ModifyImageAttribute"}
    # eventID, eventName adjacent, eventSource later: no field may be read as another
    id_then_name = {"eventVersion": "1.09", "eventID": "adj", "eventName": "CreateUser"} | {
        k: v for k, v in benign.items() if k not in ("eventVersion", "eventID", "eventName")
    }
    files = {
        "nested-call-and-id": [
            benign | {"eventID": "n1", "requestParameters": {**nested_call, "eventID": "x"}},
            made_public,
        ],
        "one-without-id-one-with-two": [
            record_of("ami-exposure/made-public.json", eventID=None),
            benign | {"eventID": "b2", "responseElements": {"eventID": "inner"}},
        ],
        "id-before-call": [id_first, made_public],
        "id-then-name-then-source": [id_then_name, made_public, benign | {"eventID": "b3"}],
        "control-and-del-in-id": [benign | {"eventID": "a\x7fb"}, benign | {"eventID": "c\nd"}],
        "nested-record-array": [
            benign
            | {"eventID": "arr", "resources": [{"eventVersion": "1"}, {"eventVersion": "2"}]},
            made_public,
        ],
        "empty-name": [benign | {"eventID": "e1", "eventName": ""}, made_public],
    }
    for name, records in files.items():
        write_log(tmp_path / f"{name}.json.gz", records)

    fast = replay([tmp_path])
    full = replay([tmp_path], shortcuts=False)

    assert fast[:2] == full[:2]
    assert len(fast[1]) == sum(len(records) for records in files.values())


def test_a_log_as_cloudtrail_writes_it_is_scanned_not_parsed() -> None:
    replayer = Replayer(load_rules(TEMPLATE, dict(INDEX["parameters"]), OWN_ROLES))
    benign = record_of(
        "ami-exposure/made-public.json",
        eventName="DescribeInstances",
        requestParameters={"instancesSet": {}},
    )
    records = [benign | {"eventID": f"b{i}"} for i in range(5)] + RECORDS
    compact = json.dumps({"Records": records}, separators=(",", ":")).encode()
    nested_record_start = json.dumps(
        {"Records": [benign | {"resources": [{"a": 1}, {"eventVersion": "1"}]}, benign]},
        separators=(",", ":"),
    ).encode()

    organization = Replayer(
        load_rules(TEMPLATE, {**INDEX["parameters"], "DeploymentMode": "organization"}, OWN_ROLES)
    )

    for each in (replayer, organization):
        scanned = each._scan_log(compact, "log")
        full = Replayer(each.ruleset, shortcuts=False).process(Loaded("log", False, compact))

        assert scanned is not None
        assert scanned.lines == full.lines
        assert scanned.stats.counts == full.stats.counts
        assert each._scan_log(nested_record_start, "log") is None  # parsed instead


@pytest.mark.parametrize(
    "tails", [[], ["x"], [""], ["", "x", "", ""], ["x", "y", ""], ["a"] * 9 + [""] + ["b"] * 5]
)
def test_the_scans_candidates_are_the_records_with_an_empty_tail(tails: list[str]) -> None:
    from trailwarden_local.replay_core import _candidate_indexes

    assert _candidate_indexes(tails) == [at for at, tail in enumerate(tails) if tail == ""]


def test_the_scan_refuses_an_id_where_a_call_belongs_and_a_call_where_an_id_does() -> None:
    replayer = Replayer(load_rules(TEMPLATE, dict(INDEX["parameters"]), OWN_ROLES))
    benign = record_of(
        "ami-exposure/made-public.json",
        eventName="DescribeInstances",
        requestParameters={"instancesSet": {}},
    )
    head = {"eventVersion": "1.09"}
    rest = {k: v for k, v in benign.items() if k not in ("eventVersion", "eventID")}
    shapes = {
        # ID, call in the first record: an ID read where a call belongs
        "id-first": [head | {"eventID": "first"} | rest, benign | {"eventID": "b"}],
        # a second call, nested after the first record's ID: read where an ID belongs
        "call-after-id": [
            benign | {"eventID": "a", "responseElements": {"eventSource": "s", "eventName": "n"}},
            {k: v for k, v in benign.items() if k != "eventID"},
        ],
        # the one record has no call: its "call" is its ID
        "no-call": [{k: v for k, v in benign.items() if k not in ("eventSource",)}],
    }
    for name, records in shapes.items():
        text = json.dumps({"Records": records}, separators=(",", ":")).encode()

        assert replayer._scan_log(text, name) is None, name


def test_a_record_over_256_kb_is_invalid_on_the_fast_path_too(tmp_path: Path) -> None:
    huge = record_of("ami-exposure/made-public.json", eventID="huge", userAgent="x" * (300 * 1024))
    write_log(tmp_path / "huge.json.gz", [huge, record_of("ami-exposure/made-public.json")])

    fast = replay([tmp_path])
    full = replay([tmp_path], shortcuts=False)

    assert fast[:2] == full[:2]
    line = by_id(fast[1])["huge"]
    assert line["verdict"] == "ignore"
    assert "256 KB" in line["reason"]


def test_rules_preselected_by_call_match_exactly_what_every_rule_matches() -> None:
    ruleset = load_rules(TEMPLATE, dict(INDEX["parameters"]), OWN_ROLES)
    replayer = Replayer(ruleset)
    events = [_event(entry) for entry in INDEX["events"]]
    events += [
        {**event, "detail": {**event["detail"], "eventSource": source}}
        for event in events
        if event.get("detail-type") == CLOUDTRAIL
        for source in ("athena.amazonaws.com", "waf-regional.amazonaws.com")
    ]

    for event in events:
        everyone = [rule.logical_id for rule in ruleset.rules if rule.accepts(event)]
        candidates = [
            rule.logical_id for rule, accepts in replayer._candidates(event) if accepts(event)
        ]
        assert candidates == everyone


def test_cached_rules_give_the_same_lines_without_expanding_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(replay_rules, "_LOADED", {})
    first = replay([EVENTS], rules_cache=cache)
    assert len(list(cache.glob("replay-rules-*.json"))) == 1

    def no_expansion(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the template was expanded although its rules are cached")

    monkeypatch.setattr(replay_rules, "_LOADED", {})
    monkeypatch.setattr("trailwarden_local.engine.resolver.expand_template", no_expansion)
    second = replay([EVENTS], rules_cache=cache)

    assert second[:2] == first[:2]
    assert first[0] == 0
    assert "note: rule" in second[2]  # the notes are cached too


def test_cached_rules_are_keyed_by_the_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(replay_rules, "_LOADED", {})
    replay([EVENTS], rules_cache=cache)
    monkeypatch.setattr(replay_rules, "_LOADED", {})

    status, lines, _ = replay(
        [EVENTS], overrides=[*PARAMETERS, "AmiExposureMode=alert"], rules_cache=cache
    )

    assert status == 0
    assert len(list(cache.glob("replay-rules-*.json"))) == 2
    made_public = _event_id(sample("ami-exposure/made-public.json"))
    assert by_id(lines)[made_public]["verdict"] == "alert"


def test_the_command_caches_rules_under_xdg_cache_home_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailwarden_local import replay as command
    from trailwarden_local.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(replay_rules, "_LOADED", {})
    used: list[Path | None] = []
    real_run = command.run

    def spy(*args: Any, **kwargs: Any) -> int:
        used.append(kwargs["rules_cache"])
        return real_run(*args, **{**kwargs, "out": io.StringIO(), "err": io.StringIO()})

    monkeypatch.setattr(command, "run", spy)
    main(["replay", str(EVENTS / "ami-exposure" / "made-public.json")])
    main(["replay", "--no-cache", str(EVENTS / "ami-exposure" / "made-public.json")])

    assert used == [tmp_path / "trailwarden", None]
    assert len(list((tmp_path / "trailwarden").glob("replay-rules-*.json"))) == 1


def test_an_unreadable_rules_cache_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(replay_rules, "_LOADED", {})
    expected = replay([EVENTS], rules_cache=cache)
    for cached in cache.glob("replay-rules-*.json"):
        cached.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(replay_rules, "_LOADED", {})

    assert replay([EVENTS], rules_cache=cache)[:2] == expected[:2]


def test_jobs_print_the_same_lines_and_summary_in_input_order(tmp_path: Path) -> None:
    for number in range(7):
        write_log(tmp_path / f"{number}.json.gz", RECORDS[number::7])
    (tmp_path / "8-broken.json.gz").write_bytes(gzip.compress(b'{"Records":[')[:-4])
    (tmp_path / "9-event.json").write_text(json.dumps(sample("ec2-keypair/compliant.json")))

    alone = replay([tmp_path])
    parallel = replay([tmp_path], jobs=3)

    assert parallel[:2] == alone[:2]
    assert alone[0] == 1  # the broken file is reported
    assert _summary_table(parallel[2]) == _summary_table(alone[2])


def _summary_table(stderr: str) -> list[str]:
    """stderr without the timing of the run."""
    return [line for line in stderr.splitlines() if "records/s" not in line]


def test_jobs_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    from trailwarden_local.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["replay", "--jobs", "0", "events/"])

    assert exited.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def _reader_threads_while_deciding(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each document decided: whether a reader thread was running meanwhile."""
    seen: list[bool] = []
    process = Replayer.process

    def watched(self: Replayer, loaded: Any) -> Any:
        seen.append(any(t.name == "replay-reader" for t in threading.enumerate()))
        return process(self, loaded)

    monkeypatch.setattr(Replayer, "process", watched)
    return seen


def test_local_files_are_read_on_the_calling_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(5):
        write_log(tmp_path / f"{number}.json.gz", RECORDS[number::5])
    seen = _reader_threads_while_deciding(monkeypatch)

    status, lines, _ = replay([tmp_path])

    assert status == 0
    assert len(lines) == len(RECORDS)
    assert seen == [False] * 5


def test_s3_objects_read_ahead_on_a_thread_print_the_same_as_on_the_calling_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _reader_threads_while_deciding(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="trail-logs")
        for number in range(5):
            body = json.dumps({"Records": RECORDS[number::5]}, separators=(",", ":"))
            key = f"AWSLogs/1/CloudTrail/us-east-1/2026/11/24/1_CloudTrail_x{number}.json.gz"
            s3.put_object(Bucket="trail-logs", Key=key, Body=gzip.compress(body.encode()))

        ahead = replay(["s3://trail-logs/AWSLogs/"], s3_client=lambda: s3)
        threaded = list(seen)
        seen.clear()
        inline = replay(["s3://trail-logs/AWSLogs/"], s3_client=lambda: s3, threads=False)

    assert ahead[0] == 0
    assert len(ahead[1]) == len(RECORDS)
    assert ahead[:2] == inline[:2]
    assert len(threaded) == 5
    assert threaded[0]  # the reader still holds documents 4 and 5 while the first is decided
    assert seen == [False] * 5


def test_every_call_a_rule_matches_passes_the_prefilter() -> None:
    rules = load_rules(TEMPLATE, dict(INDEX["parameters"]), OWN_ROLES)
    _, lines, _ = replay([EVENTS])
    matched = {line["eventID"] for line in lines if line["rule"]}

    for record in RECORDS:
        if record["eventID"] in matched:
            assert rules.call_filter.may_match(record["eventSource"], record["eventName"])
    for workflow in BY_ID.values():
        for source, name in workflow.triggers:
            assert rules.call_filter.may_match(source, name)


def test_progress_is_shown_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = _Progress(stream)
        progress._last = -1e9  # due now
        progress.update(Stats(inputs=3, records=1500))
        progress.clear()

    assert "1,500 records" in terminal.getvalue()
    assert pipe.getvalue() == ""


# --------------------------------------------------------------------------- generic rules

FIXTURE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  AmiExposureMode: {{Type: String, Default: remediate, AllowedValues: [remediate, alert, "off"]}}
  WatchSgChanges: {{Type: String, Default: "no", AllowedValues: ["yes", "no"]}}
Conditions:
  SgWatched: !Equals [!Ref WatchSgChanges, "yes"]
Globals:
  Function: {{Runtime: python3.13, CodeUri: {code}, Handler: handlers.alert.handler}}
Resources:
  AmiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {{Variables: {{WORKFLOW: ami-exposure}}}}
      Events:
        AnyEc2:  # no call named: nothing can skip the full path
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.ec2]
              detail: {{eventName: [{{anything-but: CreateSecurityGroup}}]}}
        Reads:
          Type: EventBridgeRule
          Properties:
            State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
            Pattern: {{detail: {{eventName: [DescribeImages]}}}}
  SgFunction:
    Type: AWS::Serverless::Function
    Condition: SgWatched
    Properties:
      Environment: {{Variables: {{WORKFLOW: sg-change}}}}
      Events:
        Changed:
          Type: EventBridgeRule
          Properties:
            Pattern: {{detail: {{eventName: [ModifyImageAttribute, CreateSecurityGroup]}}}}
"""


@pytest.fixture
def fixture_template(tmp_path: Path) -> Path:
    template = tmp_path / "template.yaml"
    template.write_text(FIXTURE_TEMPLATE.format(code=REPO / "functions"), encoding="utf-8")
    return template


def test_a_record_two_rules_match_gets_the_stronger_verdict_and_names_both(
    tmp_path: Path, fixture_template: Path
) -> None:
    write_log(tmp_path / "logs" / "a.json.gz", [record_of("ami-exposure/made-public.json")])

    status, (line,), _ = replay(
        [tmp_path / "logs"],
        overrides=["WatchSgChanges=yes"],
        template=fixture_template,
    )

    assert status == 0
    assert (line["workflow"], line["verdict"]) == ("ami-exposure", "remediate")
    assert "also rule" in line["reason"]
    assert load_rules(fixture_template, {"WatchSgChanges": "yes"}).call_filter.any_call


def test_rules_whose_condition_is_false_do_not_route(
    tmp_path: Path, fixture_template: Path
) -> None:
    create = record_of("sg-change/create-group.json")
    write_log(tmp_path / "logs" / "a.json.gz", [create])

    _, (watched,), _ = replay(
        [tmp_path / "logs"], overrides=["WatchSgChanges=yes"], template=fixture_template
    )
    _, (unwatched,), _ = replay([tmp_path / "logs"], overrides=[], template=fixture_template)

    assert (watched["workflow"], watched["verdict"]) == ("sg-change", "alert")
    assert (unwatched["workflow"], unwatched["verdict"]) == ("sg-change", "ignore")
    assert "Condition SgWatched is false" in unwatched["reason"]


def test_a_rule_for_all_management_events_receives_read_only_calls(
    tmp_path: Path, fixture_template: Path
) -> None:
    describe = record_of("ami-exposure/made-public.json", eventName="DescribeImages", readOnly=True)
    write_log(tmp_path / "logs" / "a.json.gz", [describe])

    _, (line,), _ = replay([tmp_path / "logs"], overrides=[], template=fixture_template)

    assert line["rule"] is not None and "Reads" in line["rule"]


def fresh_interpreter(probe: str) -> str:
    """What ``probe`` prints in a fresh interpreter with only our two source trees on
    its path (what it imports is what replay's modules import, nothing more)."""
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "PYTHONPATH": f"{REPO / 'functions'}:{REPO / 'local'}"},
    )
    return out.stdout.strip()


def test_replay_decides_every_workflow_without_loading_the_aws_sdk() -> None:
    """Remediation and lookup modules import botocore only when an AWS call fails: replay
    (and a detection-only cold start) never pays for it."""
    probe = (
        "import sys\n"
        "from trailwarden.workflows.registry import BY_ID\n"
        "import trailwarden_local.replay_core, trailwarden_local.replay\n"
        "assert len(BY_ID) > 10\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')))"
    )
    assert fresh_interpreter(probe) == "[]"


def test_replay_of_local_files_loads_no_reader_thread_s3_dates_or_retry_jitter() -> None:
    """The reader thread and its queue (S3 only), the month lengths of S3 prefixes and
    the WAF lock retry's jitter are imported where used: local replay's start-up skips
    them (~2 ms of a process that must stay under 1/5 of jq's time)."""
    probe = (
        "import sys\n"
        "import trailwarden_local.replay, trailwarden_local.replay_core\n"
        "import trailwarden_local.replay_inputs\n"
        "from trailwarden.workflows.registry import BY_ID\n"
        "remediations = [w.remediation for w in BY_ID.values()]\n"
        "assert 'trailwarden.workflows.waf_protected_ip.remediation' in sys.modules\n"
        "print(sorted(m for m in ('threading', 'queue', 'calendar', 'random') if m in sys.modules))"
    )
    assert fresh_interpreter(probe) == "[]"


def test_the_command_collects_no_garbage_while_replays_modules_load() -> None:
    """The command pauses cyclic garbage collection from its start (loading the modules
    and rules is several collections' worth of objects), and restores it after."""
    probe = (
        "import gc, sys\n"
        "from trailwarden_local import cli, replay\n"
        "def run(*args, **kwargs):\n"
        "    import trailwarden_local.replay_core, trailwarden_local.replay_rules\n"
        "    return 0\n"
        "replay.run = run\n"
        "args = cli.build_parser().parse_args(['replay', 'logs/'])\n"
        "collections = []\n"
        "gc.callbacks.append(lambda phase, info: collections.append(info['generation']))\n"
        "status = replay.main(args)\n"
        "during, enabled = len(collections), gc.isenabled()\n"
        "gc.disable()\n"  # a caller that had it off finds it off
        "replay.main(args)\n"
        "print(status, during, enabled, gc.isenabled())"
    )
    assert fresh_interpreter(probe) == "0 0 True False"


def test_the_default_template_is_the_samples_template() -> None:
    from trailwarden_local.replay import _default_template

    assert _default_template() == TEMPLATE
