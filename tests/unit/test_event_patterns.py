"""Table-driven tests for the EventBridge event-pattern matcher.

Every case reflects a behaviour described in the Amazon EventBridge User Guide; the
comment above each group names the page (and section) it comes from. Where the
guide is silent the case says so and follows aws/event-ruler, EventBridge's engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from trailwarden_local.patterns import (
    PatternError,
    compile_pattern,
    compile_pattern_given,
    matches,
)

OWN_ROLE = "arn:aws:iam::111122223333:role/x"


def case(case_id: str, pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> Any:
    return pytest.param(pattern, event, expected, id=case_id)


def cloudtrail(user_identity: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record as EventBridge delivers it ("AWS API Call via CloudTrail")."""
    return {
        "source": "aws.iam",
        "detail-type": "AWS API Call via CloudTrail",
        "account": "111122223333",
        "region": "us-east-1",
        "detail": {"eventName": "CreateUser", "userIdentity": user_identity},
    }


# The app's rule shape: drop calls made by our own role, keep everything else.
OWN_ROLE_EXCLUSION = {
    "source": ["aws.iam"],
    "detail": {
        "$or": [
            {"userIdentity": {"type": [{"anything-but": "AssumedRole"}]}},
            {
                "userIdentity": {
                    "sessionContext": {"sessionIssuer": {"arn": [{"anything-but": [OWN_ROLE]}]}}
                }
            },
        ]
    },
}


def assumed_role(issuer_arn: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "arn": f"{issuer_arn.replace(':role/', ':assumed-role/')}/session",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer_arn}},
    }


MATCH_CASES = [
    # "Event pattern syntax" (Creating event patterns): fields are ANDed, the values
    # of a leaf array are ORed, nesting must mirror the event, other fields ignored.
    case("exact-string-matches", {"source": ["aws.ec2"]}, {"source": "aws.ec2"}, True),
    case("exact-string-is-case-sensitive", {"source": ["aws.ec2"]}, {"source": "AWS.EC2"}, False),
    case(
        "leaf-array-is-or-second-value-matches",
        {"source": ["aws.ec2", "aws.fargate"]},
        {"source": "aws.fargate"},
        True,
    ),
    case(
        "leaf-array-no-value-matches",
        {"source": ["aws.ec2", "aws.fargate"]},
        {"source": "aws.s3"},
        False,
    ),
    case(
        "all-fields-must-match",
        {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
        {"source": "aws.ec2", "detail-type": "Other"},
        False,
    ),
    case(
        "fields-not-in-pattern-are-ignored",
        {"detail": {"state": ["terminated"]}},
        {"source": "aws.ec2", "id": "1", "detail": {"state": "terminated", "x": 1}},
        True,
    ),
    case(
        "top-level-metadata-fields-are-plain-fields",
        {
            "source": ["aws.iam"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "account": ["111122223333"],
            "region": ["us-east-1"],
        },
        cloudtrail({"type": "Root"}),
        True,
    ),
    case("absent-field-does-not-match", {"source": ["aws.ec2"]}, {"id": "1"}, False),
    case(
        "nested-field-matches",
        {"detail": {"state": ["terminated"]}},
        {"detail": {"state": "terminated"}},
        True,
    ),
    case(
        "nested-pattern-vs-scalar-does-not-match",
        {"detail": {"state": ["terminated"]}},
        {"detail": "terminated"},
        False,
    ),
    case(
        "nested-pattern-vs-absent-object-does-not-match",
        {"detail": {"state": ["terminated"]}},
        {"source": "aws.ec2"},
        False,
    ),
    case(
        "leaf-vs-object-value-does-not-match",
        {"detail": ["terminated"]},
        {"detail": {"state": "terminated"}},
        False,
    ),
    case("number-exact-match", {"detail": {"risk": [80]}}, {"detail": {"risk": 80}}, True),
    # Same page: "For numbers, EventBridge uses string representation. For example,
    # 300, 300.0, and 3.0e2 are not considered equal."
    case("number-300-does-not-equal-300.0", {"n": [300]}, {"n": 300.0}, False),
    case("zero-does-not-match-false", {"flag": [0]}, {"flag": False}, False),
    case("false-does-not-match-zero", {"flag": [False]}, {"flag": 0}, False),
    case("true-does-not-match-one", {"flag": [True]}, {"flag": 1}, False),
    case("true-matches-true", {"flag": [True]}, {"flag": True}, True),
    case(
        "zero-does-not-match-false-next-to-an-operator",
        {"flag": [0, {"prefix": "z"}]},
        {"flag": False},
        False,
    ),
    case(
        "zero-matches-zero-next-to-an-operator", {"flag": [0, {"prefix": "z"}]}, {"flag": 0}, True
    ),
    case("zero-does-not-match-false-in-event-array", {"flag": [0]}, {"flag": [False, None]}, False),
    case("string-5-does-not-match-number-5", {"n": ["5"]}, {"n": 5}, False),
    case("number-5-does-not-match-string-5", {"n": [5]}, {"n": "5"}, False),
    # "Matching events on null values and empty strings in Amazon EventBridge":
    # null and "" are not interchangeable; neither stands for an absent field.
    case("null-matches-null", {"d": {"r": [None]}}, {"d": {"r": None}}, True),
    case("null-does-not-match-absent-field", {"d": {"r": [None]}}, {"d": {}}, False),
    case("null-does-not-match-empty-string", {"d": {"r": [None]}}, {"d": {"r": ""}}, False),
    case("empty-string-matches-empty-string", {"d": {"v": [""]}}, {"d": {"v": ""}}, True),
    case("empty-string-does-not-match-null", {"d": {"v": [""]}}, {"d": {"v": None}}, False),
    case("empty-string-does-not-match-absent-field", {"d": {"v": [""]}}, {"d": {}}, False),
    case("empty-string-does-not-match-text", {"d": {"v": [""]}}, {"d": {"v": "x"}}, False),
    # "Matching on multiple field values" (arrays): an event array matches if its
    # intersection with the pattern array is non-empty.
    case(
        "event-array-matches-on-non-empty-intersection",
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "other"]},
        {
            "resources": [
                "arn:aws:autoscaling:x",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            ]
        },
        True,
    ),
    case("event-array-without-intersection", {"r": ["a", "b"]}, {"r": ["c", "d"]}, False),
    case("empty-event-array-matches-nothing", {"r": ["a"]}, {"r": []}, False),
    case("nested-event-arrays-are-flattened", {"r": ["b"]}, {"r": [["a"], ["b"]]}, True),
    # Same page via event-ruler "JSON Array Matching": arrays of objects are crushed out
    # of the path, and all fields must come from the same array element.
    case(
        "array-of-objects-is-flattened",
        {"launchPermission": {"add": {"items": {"group": ["all"]}}}},
        {"launchPermission": {"add": {"items": [{"userId": "1"}, {"group": "all"}]}}},
        True,
    ),
    case(
        "array-of-objects-no-element-matches",
        {"launchPermission": {"add": {"items": {"group": ["all"]}}}},
        {"launchPermission": {"add": {"items": [{"userId": "1"}, {"group": "none"}]}}},
        False,
    ),
    case(
        "nested-arrays-of-objects-are-flattened",
        {"items": {"group": ["all"]}},
        {"items": [[{"userId": "1"}], [{"group": "all"}]]},
        True,
    ),
    case(
        "array-of-objects-fields-from-one-element-match",
        {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
        {"employees": [{"firstName": "John"}, {"firstName": "Anna", "lastName": "Smith"}]},
        True,
    ),
    case(
        "array-of-objects-fields-from-different-elements-do-not-match",
        {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
        {
            "employees": [
                {"firstName": "Anna", "lastName": "Smith"},
                {"firstName": "Peter", "lastName": "Jones"},
            ]
        },
        False,
    ),
    # "Comparison operators": Begins with / Begins with (ignore case). Strings only.
    case(
        "prefix-matches",
        {"time": [{"prefix": "2017-10-02"}]},
        {"time": "2017-10-02T18:43:48Z"},
        True,
    ),
    case(
        "prefix-does-not-match",
        {"time": [{"prefix": "2017-10-02"}]},
        {"time": "2017-10-03T00:00Z"},
        False,
    ),
    case("prefix-is-case-sensitive", {"r": [{"prefix": "us-"}]}, {"r": "US-east-1"}, False),
    case("prefix-only-matches-strings", {"n": [{"prefix": "1"}]}, {"n": 123}, False),
    case("prefix-absent-field-does-not-match", {"r": [{"prefix": "us-"}]}, {}, False),
    case(
        "prefix-matches-any-array-element",
        {"r": [{"prefix": "us-"}]},
        {"r": ["eu-west-1", "us-east-1"]},
        True,
    ),
    case(
        "prefix-equals-ignore-case-matches",
        {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"service": "eventbridge"},
        True,
    ),
    case(
        "prefix-equals-ignore-case-does-not-match",
        {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"service": "sqs"},
        False,
    ),
    # "Comparison operators": Ends with / Ends with (ignore case).
    case("suffix-matches", {"FileName": [{"suffix": ".png"}]}, {"FileName": "a.png"}, True),
    case("suffix-does-not-match", {"FileName": [{"suffix": ".png"}]}, {"FileName": "a.jpg"}, False),
    case(
        "suffix-is-case-sensitive", {"FileName": [{"suffix": ".png"}]}, {"FileName": "A.PNG"}, False
    ),
    case(
        "suffix-equals-ignore-case-matches",
        {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"FileName": "A.PNG"},
        True,
    ),
    case(
        "suffix-equals-ignore-case-does-not-match",
        {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"FileName": "a.png.bak"},
        False,
    ),
    # "Comparison operators": Equals (ignore case).
    case(
        "equals-ignore-case-matches",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "ALICE"},
        True,
    ),
    case(
        "equals-ignore-case-is-whole-value",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "Alicia"},
        False,
    ),
    case(
        "equals-ignore-case-only-matches-strings",
        {"n": [{"equals-ignore-case": "5"}]},
        {"n": 5},
        False,
    ),
    # "Comparison operators": Wildcard. '*' is any run of characters, '\*' a literal
    # star, '\\' a literal backslash; the whole value must match.
    case(
        "wildcard-star-matches-run", {"f": [{"wildcard": "dir/*.png"}]}, {"f": "dir/a/b.png"}, True
    ),
    case(
        "wildcard-star-matches-empty-run",
        {"f": [{"wildcard": "dir/*.png"}]},
        {"f": "dir/.png"},
        True,
    ),
    case(
        "wildcard-must-match-whole-value", {"f": [{"wildcard": "*.png"}]}, {"f": "a.png.bak"}, False
    ),
    case("wildcard-several-stars", {"f": [{"wildcard": "*/lib/*"}]}, {"f": "/usr/lib/x.so"}, True),
    case("wildcard-without-star-is-exact", {"f": [{"wildcard": "abc"}]}, {"f": "abcd"}, False),
    case("wildcard-dot-is-literal", {"f": [{"wildcard": "a.c*"}]}, {"f": "abc"}, False),
    case("wildcard-escaped-star-is-literal", {"f": [{"wildcard": r"a\*b"}]}, {"f": "a*b"}, True),
    case(
        "wildcard-escaped-star-is-not-wildcard", {"f": [{"wildcard": r"a\*b"}]}, {"f": "axb"}, False
    ),
    case("wildcard-escaped-backslash", {"f": [{"wildcard": "a\\\\*"}]}, {"f": "a\\tail"}, True),
    case("wildcard-only-matches-strings", {"n": [{"wildcard": "*"}]}, {"n": 5}, False),
    case("wildcard-star-spans-newlines", {"f": [{"wildcard": "a*b"}]}, {"f": "a\nb"}, True),
    # "Content filtering" / "Comparison operators": Anything-but with a value, a list
    # of strings or of numbers, and with prefix, suffix, ignore case and wildcard.
    case(
        "anything-but-matches-other-string",
        {"s": [{"anything-but": "initializing"}]},
        {"s": "running"},
        True,
    ),
    case(
        "anything-but-excludes-string",
        {"s": [{"anything-but": "initializing"}]},
        {"s": "initializing"},
        False,
    ),
    case("anything-but-matches-other-number", {"x": [{"anything-but": 123}]}, {"x": 124}, True),
    case("anything-but-excludes-number", {"x": [{"anything-but": 123}]}, {"x": 123}, False),
    case(
        "anything-but-list-excludes-each-string",
        {"s": [{"anything-but": ["stopped", "overloaded"]}]},
        {"s": "overloaded"},
        False,
    ),
    case(
        "anything-but-list-matches-other-string",
        {"s": [{"anything-but": ["stopped", "overloaded"]}]},
        {"s": "running"},
        True,
    ),
    case(
        "anything-but-list-excludes-number",
        {"x": [{"anything-but": [100, 200, 300]}]},
        {"x": 200},
        False,
    ),
    case(
        "anything-but-list-matches-other-number",
        {"x": [{"anything-but": [100, 200, 300]}]},
        {"x": 150},
        True,
    ),
    # The subtlety the app relies on: anything-but compares against a value, so an
    # absent field (or an object, which is not a leaf) never matches.
    case(
        "anything-but-does-not-match-absent-field",
        {"s": [{"anything-but": "x"}]},
        {"other": "y"},
        False,
    ),
    case(
        "anything-but-does-not-match-object-value",
        {"s": [{"anything-but": "x"}]},
        {"s": {"a": "y"}},
        False,
    ),
    case(
        "anything-but-does-not-match-empty-array", {"s": [{"anything-but": "x"}]}, {"s": []}, False
    ),
    # Docs are silent on types: "anything except what's provided", types matter.
    case("anything-but-matches-null-value", {"s": [{"anything-but": "x"}]}, {"s": None}, True),
    case("anything-but-string-5-matches-number-5", {"n": [{"anything-but": "5"}]}, {"n": 5}, True),
    # Event-array semantics (as in the SNS "Numeric value matching" page of the same
    # engine): matches if the array contains a value that is not excluded.
    case(
        "anything-but-array-with-a-non-excluded-element-matches",
        {"s": [{"anything-but": "stopped"}]},
        {"s": ["stopped", "running"]},
        True,
    ),
    case(
        "anything-but-array-of-only-excluded-elements-does-not-match",
        {"s": [{"anything-but": ["stopped", "overloaded"]}]},
        {"s": ["stopped", "overloaded"]},
        False,
    ),
    case(
        "anything-but-prefix-matches",
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {"Region": "eu-west-1"},
        True,
    ),
    case(
        "anything-but-prefix-excludes",
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {"Region": "us-east-1"},
        False,
    ),
    case(
        "anything-but-prefix-does-not-match-absent-field",
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {},
        False,
    ),
    case(
        "anything-but-suffix-matches",
        {"f": [{"anything-but": {"suffix": ".png"}}]},
        {"f": "a.jpg"},
        True,
    ),
    case(
        "anything-but-suffix-excludes",
        {"f": [{"anything-but": {"suffix": ".png"}}]},
        {"f": "a.png"},
        False,
    ),
    case(
        "anything-but-equals-ignore-case-excludes",
        {"s": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"s": "INITIALIZING"},
        False,
    ),
    case(
        "anything-but-equals-ignore-case-matches",
        {"s": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"s": "running"},
        True,
    ),
    case(
        "anything-but-equals-ignore-case-list-excludes",
        {"s": [{"anything-but": {"equals-ignore-case": ["stopped", "overloaded"]}}]},
        {"s": "Overloaded"},
        False,
    ),
    case(
        "anything-but-wildcard-excludes",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/lib/a.so"},
        False,
    ),
    case(
        "anything-but-wildcard-matches",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/a"},
        True,
    ),
    case(
        "anything-but-wildcard-list-excludes-any",
        {"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*.jar"]}}]},
        {"FilePath": "/opt/app.jar"},
        False,
    ),
    # "Content filtering": Numeric matching works with values that are JSON numbers.
    case(
        "numeric-range-upper-inclusive-edge",
        {"c": [{"numeric": [">", 0, "<=", 5]}]},
        {"c": 5},
        True,
    ),
    case(
        "numeric-range-lower-exclusive-edge",
        {"c": [{"numeric": [">", 0, "<=", 5]}]},
        {"c": 0},
        False,
    ),
    case("numeric-range-inside", {"c": [{"numeric": [">", 0, "<=", 5]}]}, {"c": 0.5}, True),
    case("numeric-range-above", {"c": [{"numeric": [">", 0, "<=", 5]}]}, {"c": 5.000001}, False),
    case(
        "numeric-range-lower-inclusive-edge",
        {"c": [{"numeric": [">=", 0, "<", 10]}]},
        {"c": 0},
        True,
    ),
    case(
        "numeric-range-upper-exclusive-edge",
        {"c": [{"numeric": [">=", 0, "<", 10]}]},
        {"c": 10},
        False,
    ),
    case("numeric-range-below", {"c": [{"numeric": [">=", 0, "<", 10]}]}, {"c": -1}, False),
    case("numeric-less-than", {"d": [{"numeric": ["<", 10]}]}, {"d": 9.99}, True),
    case("numeric-greater-than-negative", {"d": [{"numeric": [">", -5]}]}, {"d": -4}, True),
    case(
        "numeric-equals-exponent-notation", {"x": [{"numeric": ["=", 3.018e2]}]}, {"x": 301.8}, True
    ),
    case(
        "numeric-equals-compares-as-numbers", {"x": [{"numeric": ["=", 3.0e2]}]}, {"x": 300}, True
    ),
    case("numeric-equals-other-number", {"x": [{"numeric": ["=", 300]}]}, {"x": 301}, False),
    case(
        "numeric-does-not-match-numeric-string", {"x": [{"numeric": [">", 0]}]}, {"x": "5"}, False
    ),
    case("numeric-does-not-match-true", {"x": [{"numeric": [">", 0]}]}, {"x": True}, False),
    case("numeric-does-not-match-null", {"x": [{"numeric": ["<", 1]}]}, {"x": None}, False),
    case("numeric-does-not-match-absent-field", {"x": [{"numeric": ["<", 1]}]}, {}, False),
    case(
        "numeric-matches-any-array-element", {"x": [{"numeric": [">", 10]}]}, {"x": [1, 50]}, True
    ),
    # "Content filtering": IP address matching for IPv4 and IPv6 (cidr).
    case("cidr-ipv4-inside", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.33"}, True),
    case(
        "cidr-ipv4-last-address-inside",
        {"ip": [{"cidr": "10.0.0.0/24"}]},
        {"ip": "10.0.0.255"},
        True,
    ),
    case(
        "cidr-ipv4-next-network-outside",
        {"ip": [{"cidr": "10.0.0.0/24"}]},
        {"ip": "10.0.1.0"},
        False,
    ),
    case("cidr-ipv4-single-host", {"ip": [{"cidr": "192.0.2.7/32"}]}, {"ip": "192.0.2.7"}, True),
    case("cidr-ipv6-inside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:1::5"}, True),
    case("cidr-ipv6-outside", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::1"}, False),
    case(
        "cidr-ipv4-network-ipv6-address",
        {"ip": [{"cidr": "10.0.0.0/8"}]},
        {"ip": "2001:db8::1"},
        False,
    ),
    case(
        "cidr-invalid-address-does-not-match",
        {"ip": [{"cidr": "10.0.0.0/8"}]},
        {"ip": "AWS Internal"},
        False,
    ),
    case(
        "cidr-hostname-does-not-match",
        {"ip": [{"cidr": "10.0.0.0/8"}]},
        {"ip": "ec2.amazonaws.com"},
        False,
    ),
    case(
        "cidr-non-string-does-not-match", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": 167772161}, False
    ),
    # "Content filtering": Exists matching works on the presence or absence of a field
    # in the event JSON, and only on leaf nodes.
    case(
        "exists-true-field-present",
        {"d": {"state": [{"exists": True}]}},
        {"d": {"state": "pending"}},
        True,
    ),
    case("exists-true-field-absent", {"d": {"state": [{"exists": True}]}}, {"d": {"x": 1}}, False),
    case(
        "exists-true-null-is-a-present-value",
        {"d": {"state": [{"exists": True}]}},
        {"d": {"state": None}},
        True,
    ),
    case(
        "exists-true-empty-string-is-present",
        {"d": {"state": [{"exists": True}]}},
        {"d": {"state": ""}},
        True,
    ),
    case(
        "exists-true-intermediate-node-does-not-match",
        {"d": {"c-count": [{"exists": True}]}},
        {"d": {"c-count": {"c1": 100}}},
        False,
    ),
    case(
        "exists-true-array-of-values",
        {"d": {"tags": [{"exists": True}]}},
        {"d": {"tags": ["a"]}},
        True,
    ),
    case(
        "exists-false-field-absent",
        {"d": {"c-count": [{"exists": False}]}},
        {"d": {"state": "x"}},
        True,
    ),
    case(
        "exists-false-field-present",
        {"d": {"c-count": [{"exists": False}]}},
        {"d": {"c-count": 5}},
        False,
    ),
    case(
        "exists-false-null-is-present",
        {"d": {"c-count": [{"exists": False}]}},
        {"d": {"c-count": None}},
        False,
    ),
    case(
        "exists-false-intermediate-node-counts-as-absent",
        {"d": {"c-count": [{"exists": False}]}},
        {"d": {"c-count": {"c1": 100}}},
        True,
    ),
    case(
        "exists-false-parent-absent", {"d": {"c-count": [{"exists": False}]}}, {"source": "x"}, True
    ),
    case(
        "exists-false-parent-is-scalar",
        {"d": {"c-count": [{"exists": False}]}},
        {"d": "text"},
        True,
    ),
    # Docs are silent on arrays; event-ruler flattens them, so [] has no leaf value.
    case(
        "exists-false-empty-array-has-no-leaf",
        {"d": {"tags": [{"exists": False}]}},
        {"d": {"tags": []}},
        True,
    ),
    case(
        "exists-false-field-in-any-array-element-is-present",
        {"items": {"group": [{"exists": False}]}},
        {"items": [{"userId": "1"}, {"group": "all"}]},
        False,
    ),
    case(
        "exists-false-field-in-no-array-element-is-absent",
        {"items": {"group": [{"exists": False}]}},
        {"items": [{"userId": "1"}, {"userId": "2"}]},
        True,
    ),
    case("exists-false-or-value-matches-absent", {"s": ["x", {"exists": False}]}, {}, True),
    case("exists-false-or-value-matches-value", {"s": ["x", {"exists": False}]}, {"s": "x"}, True),
    case(
        "exists-false-or-value-rejects-other-value",
        {"s": ["x", {"exists": False}]},
        {"s": "y"},
        False,
    ),
    # "Comparison operators": Or ($or), at any level, alongside fields, nested.
    case(
        "or-first-branch-matches",
        {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
        {"metricName": "CPUUtilization"},
        True,
    ),
    case(
        "or-second-branch-matches",
        {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
        {"namespace": "AWS/EC2"},
        True,
    ),
    case(
        "or-no-branch-matches",
        {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
        {"metricName": "ReadLatency", "namespace": "AWS/ES"},
        False,
    ),
    case(
        "or-is-anded-with-sibling-fields",
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": "aws.other", "metricName": "CPU"},
        False,
    ),
    case(
        "or-inside-nested-object",
        {"detail": {"$or": [{"source": ["a"]}, {"detail-type": ["b"]}]}},
        {"detail": {"detail-type": "b"}},
        True,
    ),
    case(
        "or-branch-fields-are-anded",
        {"$or": [{"a": ["1"], "b": ["2"]}, {"c": ["3"]}]},
        {"a": "1", "b": "x"},
        False,
    ),
    case(
        "or-nested-inside-or-branch",
        {"$or": [{"a": ["1"]}, {"b": ["2"], "$or": [{"c": [3]}, {"d": [4]}]}]},
        {"b": "2", "d": 4},
        True,
    ),
    case(
        "or-nested-inside-or-branch-no-inner-match",
        {"$or": [{"a": ["1"]}, {"b": ["2"], "$or": [{"c": [3]}, {"d": [4]}]}]},
        {"b": "2", "d": 5},
        False,
    ),
    case(
        "parallel-or-at-two-levels",
        {"$or": [{"m": ["x"]}, {"n": ["y"]}], "detail": {"$or": [{"s": ["a"]}, {"t": ["b"]}]}},
        {"n": "y", "detail": {"t": "b"}},
        True,
    ),
    case(
        "or-branch-with-exists-false",
        {"$or": [{"a": [{"exists": False}]}, {"a": ["1"]}]},
        {"b": "2"},
        True,
    ),
    # The app's own-role exclusion ($or of two anything-but branches): a caller with
    # no sessionIssuer must still match, only our own AssumedRole is dropped.
    case(
        "own-role-exclusion-iam-user-matches",
        OWN_ROLE_EXCLUSION,
        cloudtrail({"type": "IAMUser"}),
        True,
    ),
    case("own-role-exclusion-root-matches", OWN_ROLE_EXCLUSION, cloudtrail({"type": "Root"}), True),
    case(
        "own-role-exclusion-aws-service-matches",
        OWN_ROLE_EXCLUSION,
        cloudtrail({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}),
        True,
    ),
    case(
        "own-role-exclusion-assumed-role-ours-does-not-match",
        OWN_ROLE_EXCLUSION,
        cloudtrail(assumed_role(OWN_ROLE)),
        False,
    ),
    case(
        "own-role-exclusion-assumed-role-other-matches",
        OWN_ROLE_EXCLUSION,
        cloudtrail(assumed_role("arn:aws:iam::111122223333:role/admin")),
        True,
    ),
    case(
        "own-role-exclusion-assumed-role-without-issuer-does-not-match",
        OWN_ROLE_EXCLUSION,
        cloudtrail({"type": "AssumedRole"}),
        False,
    ),
    case(
        "own-role-exclusion-other-source-does-not-match",
        OWN_ROLE_EXCLUSION,
        {**cloudtrail({"type": "IAMUser"}), "source": "aws.s3"},
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_pattern_matches_event(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    """Each case mirrors the EventBridge User Guide page named in its group comment."""
    assert compile_pattern(pattern)(event) is expected
    assert matches(pattern, event) is expected


INVALID_PATTERNS = [
    # "Event pattern syntax": a pattern is a JSON object whose leaves are arrays.
    pytest.param(["source"], id="pattern-is-not-an-object"),
    pytest.param({}, id="empty-pattern"),
    pytest.param({"detail": {}}, id="empty-nested-object"),
    pytest.param({"source": "aws.ec2"}, id="leaf-is-a-string-not-an-array"),
    pytest.param({"n": 5}, id="leaf-is-a-number-not-an-array"),
    pytest.param({"n": None}, id="leaf-is-null-not-an-array"),
    pytest.param({"source": []}, id="empty-leaf-array"),
    pytest.param({"source": [["aws.ec2"]]}, id="nested-array-in-leaf"),
    pytest.param({1: ["a"]}, id="non-string-field-name"),
    # "Comparison operators": only the documented operators, one per object.
    pytest.param({"s": [{"contains": "x"}]}, id="unknown-operator"),
    pytest.param({"s": [{"$or": [{"a": ["1"]}, {"b": ["2"]}]}]}, id="or-is-not-a-leaf-operator"),
    pytest.param({"s": [{}]}, id="empty-operator-object"),
    pytest.param({"s": [{"prefix": "a", "suffix": "b"}]}, id="operator-object-with-two-keys"),
    pytest.param({"s": [{"prefix": 5}]}, id="prefix-non-string"),
    pytest.param({"s": [{"prefix": ["a", "b"]}]}, id="prefix-list"),
    pytest.param({"s": [{"prefix": {"wildcard": "a*"}}]}, id="prefix-unknown-modifier"),
    pytest.param(
        {"s": [{"suffix": {"equals-ignore-case": 1}}]}, id="suffix-ignore-case-non-string"
    ),
    pytest.param({"s": [{"equals-ignore-case": ["a"]}]}, id="equals-ignore-case-list"),
    # Wildcard: consecutive wildcard characters are not supported; '\' escapes only.
    pytest.param({"s": [{"wildcard": "a**b"}]}, id="wildcard-consecutive-stars"),
    pytest.param({"s": [{"wildcard": r"a\b"}]}, id="wildcard-backslash-escapes-other-char"),
    pytest.param({"s": [{"wildcard": "a\\"}]}, id="wildcard-trailing-backslash"),
    pytest.param({"s": [{"wildcard": 5}]}, id="wildcard-non-string"),
    # Anything-but: strings only or numbers only; prefix/suffix take a single value.
    pytest.param({"s": [{"anything-but": []}]}, id="anything-but-empty-list"),
    pytest.param({"s": [{"anything-but": ["a", 1]}]}, id="anything-but-mixed-list"),
    pytest.param({"s": [{"anything-but": True}]}, id="anything-but-bool"),
    pytest.param({"s": [{"anything-but": None}]}, id="anything-but-null"),
    pytest.param({"s": [{"anything-but": {"prefix": ["a", "b"]}}]}, id="anything-but-prefix-list"),
    pytest.param({"s": [{"anything-but": {"suffix": 1}}]}, id="anything-but-suffix-non-string"),
    pytest.param(
        {"s": [{"anything-but": {"equals-ignore-case": []}}]}, id="anything-but-ignore-case-empty"
    ),
    pytest.param(
        {"s": [{"anything-but": {"wildcard": "a**"}}]}, id="anything-but-wildcard-consecutive-stars"
    ),
    pytest.param({"s": [{"anything-but": {"numeric": [">", 1]}}]}, id="anything-but-numeric"),
    pytest.param({"s": [{"anything-but": {"exists": False}}]}, id="anything-but-exists"),
    # Numeric: [op, number] pairs, "=" alone, at most one lower and one upper bound.
    pytest.param({"n": [{"numeric": 5}]}, id="numeric-not-a-list"),
    pytest.param({"n": [{"numeric": [">", 1, "<"]}]}, id="numeric-odd-length"),
    pytest.param({"n": [{"numeric": ["!=", 1]}]}, id="numeric-unknown-comparator"),
    pytest.param({"n": [{"numeric": [">", "1"]}]}, id="numeric-string-bound"),
    pytest.param({"n": [{"numeric": [">", True]}]}, id="numeric-bool-bound"),
    pytest.param({"n": [{"numeric": [">", 1, ">=", 2]}]}, id="numeric-two-lower-bounds"),
    pytest.param({"n": [{"numeric": ["=", 1, "<", 2]}]}, id="numeric-equals-with-range"),
    pytest.param({"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]}, id="numeric-too-many-bounds"),
    pytest.param({"n": [{"numeric": [">", 5, "<", 1]}]}, id="numeric-range-inverted"),
    pytest.param({"n": [{"numeric": [">", 5, "<=", 5]}]}, id="numeric-range-empty"),
    # Exists takes a boolean; cidr takes an IPv4/IPv6 network in CIDR notation.
    pytest.param({"s": [{"exists": "true"}]}, id="exists-non-bool"),
    pytest.param({"ip": [{"cidr": "10.0.0.0/33"}]}, id="cidr-invalid-prefix-length"),
    pytest.param({"ip": [{"cidr": "not-an-ip/8"}]}, id="cidr-invalid-address"),
    pytest.param({"ip": [{"cidr": "10.0.0.1"}]}, id="cidr-without-prefix-length"),
    pytest.param({"ip": [{"cidr": 10}]}, id="cidr-non-string"),
    # $or: an array of at least two pattern objects.
    pytest.param({"$or": {"a": ["1"]}}, id="or-not-an-array"),
    pytest.param({"$or": []}, id="or-empty"),
    pytest.param({"$or": [{"a": ["1"]}]}, id="or-single-branch"),
    pytest.param({"$or": [{"a": ["1"]}, ["b"]]}, id="or-branch-not-an-object"),
    pytest.param({"$or": [{"a": ["1"]}, {}]}, id="or-empty-branch"),
    pytest.param(
        {"$or": [{"a": ["1"]}, {"b": [{"prefix": 1}]}]}, id="invalid-operator-deep-in-or-branch"
    ),
]


@pytest.mark.parametrize("pattern", INVALID_PATTERNS)
def test_malformed_pattern_fails_at_compile_time(pattern: Any) -> None:
    """Malformed patterns are rejected when compiled ("Comparison operators" page)."""
    with pytest.raises(PatternError):
        compile_pattern(pattern)


def test_pattern_error_is_a_value_error() -> None:
    """Callers may catch ValueError; the type still says what went wrong."""
    with pytest.raises(ValueError, match="unsupported operator"):
        compile_pattern({"s": [{"contains": "x"}]})


def test_compiled_predicate_is_reusable_and_does_not_mutate_inputs() -> None:
    """Compile once, replay many records ("Event pattern syntax": match or not)."""
    pattern = {"detail": {"eventName": [{"prefix": "Create"}], "tags": [{"exists": False}]}}
    snapshot = repr(pattern)
    predicate = compile_pattern(pattern)
    events = [{"detail": {"eventName": name}} for name in ("CreateUser", "DeleteUser")] * 3
    assert [predicate(event) for event in events] == [True, False] * 3
    assert repr(pattern) == snapshot


# --- a pattern decided in part (replay: the fields every rule pins, known per call) ---


def _known_fields(event: dict[str, Any]) -> dict[tuple[str, ...], str]:
    """The string values replay knows before matching: source, detail-type, and the
    call's eventSource and eventName when detail is an object."""
    known = {(key,): event[key] for key in ("source", "detail-type") if type(event.get(key)) is str}
    detail = event.get("detail")
    if type(detail) is dict:
        for key in ("eventSource", "eventName"):
            if type(detail.get(key)) is str:
                known[("detail", key)] = detail[key]
    return known


def _given(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    test = compile_pattern_given(pattern, _known_fields(event))
    return test if isinstance(test, bool) else test(event)


CALL_SHAPED = {
    "source": ["aws.events"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["events.amazonaws.com"],
        "$or": [
            {"eventName": ["PutRule"], "requestParameters": {"name": [{"prefix": "tw-"}]}},
            {"eventName": [{"prefix": "PutTarget"}], "requestParameters": {"rule": ["tw-x"]}},
            {"eventName": [{"anything-but": ["PutRule", "PutTargets"]}], "readOnly": [False]},
        ],
        "errorCode": [{"exists": False}],
    },
}
# The only $or branch left shares a field with its parent: decided as a whole.
COLLIDING = {
    "detail": {
        "requestParameters": {"name": [{"exists": True}]},
        "$or": [
            {"eventName": ["PutRule"], "requestParameters": {"name": ["tw-x"]}},
            {"eventName": ["DeleteRule"], "requestParameters": {"rule": ["tw-x"]}},
        ],
    }
}


def _call(name: str, **detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.events",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": "events.amazonaws.com", "eventName": name, **detail},
    }


GIVEN_CASES = [
    *(
        pytest.param(pattern, event, expected, id=f"match-case-{at}")
        for at, (pattern, event, expected) in enumerate(p.values for p in MATCH_CASES)
    ),
    case("rule-branch", CALL_SHAPED, _call("PutRule", requestParameters={"name": "tw-a"}), True),
    case(
        "rule-branch-other-name",
        CALL_SHAPED,
        _call("PutRule", requestParameters={"name": "x"}),
        False,
    ),
    case(
        "prefix-branch", CALL_SHAPED, _call("PutTargets", requestParameters={"rule": "tw-x"}), True
    ),
    case("anything-but-branch", CALL_SHAPED, _call("DeleteRule", readOnly=False), True),
    case("anything-but-branch-read", CALL_SHAPED, _call("DeleteRule", readOnly=True), False),
    case(
        "failed-call",
        CALL_SHAPED,
        _call("PutRule", requestParameters={"name": "tw-a"}, errorCode="X"),
        False,
    ),
    case("other-source", CALL_SHAPED, {**_call("PutRule"), "source": "aws.s3"}, False),
    case("colliding-match", COLLIDING, _call("PutRule", requestParameters={"name": "tw-x"}), True),
    case("colliding-miss", COLLIDING, _call("PutRule", requestParameters={"name": "tw-y"}), False),
    case(
        "colliding-parent-field-missing",
        COLLIDING,
        _call("DeleteRule", requestParameters={"rule": "tw-x"}),
        False,
    ),
    case(
        "colliding-other",
        COLLIDING,
        _call("DeleteRule", requestParameters={"name": "n", "rule": "tw-x"}),
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), GIVEN_CASES)
def test_pattern_decided_for_the_known_call_matches_as_the_whole_pattern(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert compile_pattern(pattern)(event) is expected

    assert _given(pattern, event) is expected


# Shapes on the way to a leaf: objects only (the fast path), arrays at each depth,
# scalars, null, empty containers, absent keys.
_LEAF_SHAPES: list[Any] = [
    "v",
    0,
    1.5,
    False,
    None,
    "",
    [],
    ["v"],
    [[]],
    [None],
    {},
    {"c": "v"},
    {"c": None},
    {"c": []},
    {"c": ["v"]},
    {"c": {}},
    {"c": {"d": 1}},
    [{"c": "v"}],
    [{"x": 1}, {"c": 0}],
    [{"x": 1}],
    [[{"c": "v"}]],
    {"b": {"c": "v"}},
    [{"b": {"c": "v"}}],
]


@pytest.mark.parametrize("pattern_exists", [True, False])
@pytest.mark.parametrize("shape", range(len(_LEAF_SHAPES)))
def test_exists_answers_as_the_walk_through_every_array(shape: int, pattern_exists: bool) -> None:
    from trailwarden_local.patterns import _has_leaf_at, _has_leaf_through_arrays

    value = _LEAF_SHAPES[shape]
    for event in ({"a": {"b": value}}, {"a": value}, {"a": [value]}, {"z": value}):
        for path in (("a", "b", "c"), ("a", "b"), ("a",)):
            walked = _has_leaf_through_arrays(event, path)
            assert _has_leaf_at(event, path) is walked
            pattern: dict[str, Any] = {path[-1]: [{"exists": pattern_exists}]}
            for key in reversed(path[:-1]):
                pattern = {key: pattern}
            assert compile_pattern(pattern)(event) is (walked is pattern_exists)


@pytest.mark.parametrize(
    "wildcard", ["arn:aws:sns:*", "*", "a.b*", "", "x", "a*b*", "[a]+(*", "a\\**", "é/*"]
)
def test_a_wildcard_answers_as_its_regular_expression_whatever_its_shape(wildcard: str) -> None:
    """A wildcard with one trailing '*' is tested as a prefix, any other by a regular
    expression: both answer as the expression over '.*' (DOTALL) for every '*' would."""
    import re

    regex = "".join(
        ".*" if part == "*" else re.escape(part.replace("\\", ""))
        for part in re.split(r"(?<!\\)(\*)", wildcard)
    )
    values = ["", "x", "a.b", "a.bc\nd", "arn:aws:sns:us-east-1:1:t", "arn:aws:sns", "é/\n", "a*b"]
    values += ["[a]+(", "[a]+(zz", "a*", "a*zz", "ab", "a.b*"]
    test = compile_pattern({"f": [{"wildcard": wildcard}]})

    for value in values:
        expected = re.fullmatch(regex, value, re.DOTALL) is not None
        assert test({"f": value}) is expected, (wildcard, value)
