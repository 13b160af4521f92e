"""Template loading, parameters and intrinsics: no AWS needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from trailwarden_local.engine import (
    LocalApp,
    ParameterError,
    TemplateError,
    UnsupportedTemplateFeature,
)
from trailwarden_local.engine.provision import apply_definition_substitutions
from trailwarden_local.engine.resolver import NO_VALUE, Resolver, referenced_resources
from trailwarden_local.engine.template import load_yaml

from .conftest import FIXTURE_TEMPLATE

if TYPE_CHECKING:
    from pathlib import Path


class _Lookup:
    def __init__(self) -> None:
        self.refs = {"Table": "table-name", "Topic": "arn:aws:sns:us-east-1:1:topic"}
        self.atts = {("Table", "Arn"): "arn:aws:dynamodb:table/t", ("Topic", "TopicName"): "topic"}

    def has_resource(self, logical_id: str) -> bool:
        return logical_id in self.refs

    def ref(self, logical_id: str) -> Any:
        return self.refs[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self.atts[(logical_id, attribute)]


def _resolver(**conditions: Any) -> Resolver:
    return Resolver(
        parameters={"Stage": "prod", "Ids": ["1", "2"]},
        pseudo={"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"},
        conditions={"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}, **conditions},
        resources=_Lookup(),
    )


def test_yaml_short_forms_become_long_forms() -> None:
    loaded = load_yaml(
        "A: !Ref X\n"
        "B: !GetAtt Res.Attr.Nested\n"
        "C: !Sub ['${a}', {a: !Ref Y}]\n"
        "D: !If [Cond, !Condition Other, !Ref AWS::NoValue]\n"
        "E: 2010-09-09\n"
    )
    assert loaded == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Res", "Attr.Nested"]},
        "C": {"Fn::Sub": ["${a}", {"a": {"Ref": "Y"}}]},
        "D": {"Fn::If": ["Cond", {"Condition": "Other"}, {"Ref": "AWS::NoValue"}]},
        "E": "2010-09-09",
    }


def test_template_with_duplicate_keys_is_a_template_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "Resources:\n  A: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SQS::Queue}\n"
    )
    with pytest.raises(TemplateError, match="Duplicate found 'A'"):
        LocalApp(path)


def test_unknown_tag_fails_loudly_when_resolved() -> None:
    fragment = load_yaml("A: !Bogus x\n")
    with pytest.raises(UnsupportedTemplateFeature, match="intrinsic function Fn::Bogus"):
        _resolver().resolve(fragment, "here")


def test_resolver_handles_every_supported_intrinsic() -> None:
    resolver = _resolver()
    fragment = {
        "sub": {"Fn::Sub": "${AWS::Region}:${Table}:${Table.Arn}:${!Literal}:${Stage}"},
        "sub_vars": {"Fn::Sub": ["${x}-${AWS::AccountId}", {"x": {"Ref": "Topic"}}]},
        "join": {"Fn::Join": [",", {"Ref": "Ids"}]},
        "if": {"Fn::If": ["IsProd", {"Fn::GetAtt": ["Topic", "TopicName"]}, "no"]},
        "gone": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "kept"]},
        "list": ["a", {"Ref": "AWS::NoValue"}, "b"],
    }
    assert resolver.resolve(fragment, "test") == {
        "sub": "eu-west-1:table-name:arn:aws:dynamodb:table/t:${Literal}:prod",
        "sub_vars": "arn:aws:sns:us-east-1:1:topic-123456789012",
        "join": "1,2",
        "if": "topic",
        "list": ["a", "b"],
    }
    assert resolver.resolve({"Ref": "AWS::NoValue"}, "test") is NO_VALUE


def test_conditions_compose() -> None:
    resolver = _resolver(
        NotProd={"Fn::Not": [{"Condition": "IsProd"}]},
        Both={"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]},
        Either={"Fn::Or": [{"Condition": "NotProd"}, {"Condition": "Both"}]},
        Loop={"Fn::Not": [{"Condition": "Loop"}]},
    )
    assert resolver.condition("IsProd") is True
    assert resolver.condition("NotProd") is False
    assert resolver.condition("Both") is True
    assert resolver.condition("Either") is True
    with pytest.raises(TemplateError, match="circular"):
        resolver.condition("Loop")


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ({"Fn::GetAZs": ""}, "intrinsic function Fn::GetAZs"),
        ({"Fn::ImportValue": "shared"}, "intrinsic function Fn::ImportValue"),
        ({"Fn::FindInMap": ["M", "prod", "Days"]}, "intrinsic function Fn::FindInMap"),
        ({"Fn::Select": ["0", ["a"]]}, "intrinsic function Fn::Select"),
        ({"Ref": "AWS::NotARealPseudo"}, "pseudo parameter AWS::NotARealPseudo"),
        ("{{resolve:ssm:/param}}", "dynamic reference"),
    ],
)
def test_unsupported_intrinsics_fail_loudly(fragment: Any, message: str) -> None:
    with pytest.raises(UnsupportedTemplateFeature, match=message):
        _resolver().resolve({"Prop": fragment}, "Resources.X.Properties")


def test_unknown_references_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="unknown parameter or resource 'Nope'"):
        _resolver().resolve({"Ref": "Nope"}, "here")
    with pytest.raises(TemplateError, match=r"\$\{Nope\} is not defined"):
        _resolver().resolve({"Fn::Sub": "${Nope}"}, "here")


def test_referenced_resources_sees_ref_getatt_and_sub() -> None:
    fragment = {
        "a": {"Ref": "Table"},
        "b": {"Fn::GetAtt": ["Topic", "TopicName"]},
        "c": {"Fn::Sub": ["${Queue.Arn}-${local}-${!Skip}", {"local": "x"}]},
        "d": {"Ref": "Stage"},
    }
    assert referenced_resources(fragment, {"Table", "Topic", "Queue", "Skip", "local"}) == {
        "Table",
        "Topic",
        "Queue",
    }


def test_definition_substitutions_like_cloudformation() -> None:
    definition = '{"Resource": "${Fn}", "Retry": ${Count}, "Flag": ${On}}'
    assert (
        apply_definition_substitutions(definition, {"Fn": "arn:fn", "Count": 3, "On": True})
        == '{"Resource": "arn:fn", "Retry": 3, "Flag": true}'
    )
    with pytest.raises(TemplateError, match=r"unresolved substitutions \['\$\{Missing\}'\]"):
        apply_definition_substitutions('{"a": "${Missing}"}', {})


def test_unknown_parameter_raises() -> None:
    with pytest.raises(ParameterError, match=r"unknown template parameter\(s\) \['Nope'\]"):
        LocalApp(FIXTURE_TEMPLATE, parameters={"Nope": "x"})


def test_parameter_outside_allowed_values_raises() -> None:
    with pytest.raises(ParameterError, match="'qa' is not one of AllowedValues"):
        LocalApp(FIXTURE_TEMPLATE, parameters={"Stage": "qa"})


def test_expansion_happens_before_any_mock(tmp_path: Path) -> None:
    app = LocalApp(FIXTURE_TEMPLATE, parameters={"Stage": "prod"})
    resources = app.stack.translated_template["Resources"]
    assert resources["RecordFunction"]["Type"] == "AWS::Lambda::Function"
    assert resources["FlowStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert "DefinitionString" in resources["FlowStateMachine"]["Properties"]
    assert app.stack.conditions == {"CreateExtras": False, "IsProd": True, "ProdWithExtras": False}
    assert app.inactive_resources == {"ExtrasQueue"}


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_unsupported_resource_type_raises_at_construction(tmp_path: Path) -> None:
    path = _write(tmp_path, "Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n")
    with pytest.raises(UnsupportedTemplateFeature, match="Vpc: resource type AWS::EC2::VPC"):
        LocalApp(path)


def test_unsupported_intrinsic_in_template_raises(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Resources:\n"
        "  Topic:\n"
        "    Type: AWS::SNS::Topic\n"
        "    Properties:\n"
        "      DisplayName: !Join ['', !GetAZs '']\n",
    )
    with (
        pytest.raises(UnsupportedTemplateFeature, match=r"Topic\.Properties.*Fn::GetAZs"),
        LocalApp(path),
    ):
        pass  # pragma: no cover - start() raises


def test_unsupported_transform_raises(tmp_path: Path) -> None:
    path = _write(tmp_path, "Transform: AWS::LanguageExtensions\nResources: {}\n")
    with pytest.raises(UnsupportedTemplateFeature, match="Transform AWS::LanguageExtensions"):
        LocalApp(path)


def test_rule_target_input_transformer_raises(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "  Rule:\n"
        "    Type: AWS::Events::Rule\n"
        "    Properties:\n"
        "      EventPattern: {source: [x]}\n"
        "      Targets:\n"
        "        - {Id: q, Arn: !GetAtt Queue.Arn, InputPath: $.detail}\n",
    )
    with (
        pytest.raises(UnsupportedTemplateFeature, match=r"Rule: target \['InputPath'\]"),
        LocalApp(path),
    ):
        pass  # pragma: no cover - start() raises


def test_lambda_alias_raises(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = _write(
        tmp_path,
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src/, Runtime: python3.12, Handler: m.h,"
        " AutoPublishAlias: live}\n",
    )
    with pytest.raises(UnsupportedTemplateFeature, match="resource type AWS::Lambda::Version"):
        LocalApp(path)
