"""Load template.yaml and expand its SAM transform offline.

moto's CloudFormation has no SAM transform, so the engine runs aws-sam-translator
itself, the way ``sam package`` + CloudFormation would: local ``CodeUri`` folders
are swapped for a fake S3 location (the local folder is remembered so the Lambda
runtime can import the handler from it) and a local state machine ``DefinitionUri``
is inlined as ``Definition`` (SAM then emits ``DefinitionString`` +
``DefinitionSubstitutions``, exactly as for a deployed stack).
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from .errors import TemplateError, UnsupportedTemplateFeature

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
FAKE_ARTIFACT_BUCKET = "trailwarden-local-artifacts"

# AWS managed policies a template may name in a function's Policies (offline stand-in for
# IAM ListPolicies); a name missing here fails loudly when its role is created.
MANAGED_POLICY_ARNS: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ),
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


@dataclass(frozen=True)
class LoadedTemplate:
    """A template after YAML loading and (if it declares the SAM transform) SAM expansion."""

    path: Path
    source: dict[str, Any]  # as written (short-form tags converted), before preprocessing
    translated: dict[str, Any]  # plain CloudFormation, intrinsics still unresolved
    code_dirs: dict[str, Path] = field(default_factory=dict)  # function logical id -> folder


# --------------------------------------------------------------------------- YAML


def load_yaml(text: str) -> Any:
    """Parse CloudFormation YAML (or JSON) into plain long-form data, with cfn-lint's loader
    (short-form tags become ``Fn::*``, duplicate keys are an error); dates stay text."""
    from cfnlint.decode import cfn_yaml

    return json.loads(json.dumps(cfn_yaml.loads(text), default=str))


def load_template_file(path: Path) -> dict[str, Any]:
    """The template at ``path`` as plain data: a fresh copy, parsed once per file version.

    Every workflow test and demo step provisions a fresh app from the same file; a deep
    copy is several times cheaper than parsing it again.
    """
    stat = path.stat()
    return copy.deepcopy(_parsed_template(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed_template(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return data


# --------------------------------------------------------------------------- SAM


def _transforms(template: Mapping[str, Any]) -> list[str]:
    raw = template.get("Transform")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(item, str) for item in items):
        raise UnsupportedTemplateFeature(f"Transform {raw!r}: only named transforms are supported")
    return [str(item) for item in items]


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith(("s3://", "https://", "http://"))


def _local_dir(base_dir: Path, value: str, where: str) -> Path:
    folder = (base_dir / value).resolve()
    if not folder.is_dir():
        raise TemplateError(f"{where}: CodeUri {value!r} is not a folder ({folder})")
    return folder


def _read_definition(base_dir: Path, value: str, where: str) -> Any:
    file = (base_dir / value).resolve()
    if not file.is_file():
        raise TemplateError(f"{where}: DefinitionUri {value!r} is not a file ({file})")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix in (".yaml", ".yml"):
            return load_yaml(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TemplateError(f"{where}: DefinitionUri {value!r} does not parse: {exc}") from exc


def _preprocess_sam(template: dict[str, Any], base_dir: Path) -> dict[str, Path]:
    """What ``sam package`` does: local code -> fake S3, local ASL -> inline Definition."""
    globals_fn = template.get("Globals", {}).get("Function", {}) or {}
    global_code_uri = globals_fn.get("CodeUri")
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict):
            raise TemplateError(f"Resources.{logical_id} is not a mapping")
        rtype = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if props is None:
            props = resource["Properties"] = {}
        where = f"Resources.{logical_id}"
        if rtype == "AWS::Serverless::Function":
            if props.get("PackageType", globals_fn.get("PackageType")) == "Image":
                raise UnsupportedTemplateFeature(f"{where}: PackageType Image")
            if "InlineCode" in props or "InlineCode" in globals_fn:
                raise UnsupportedTemplateFeature(f"{where}: InlineCode (use a local CodeUri)")
            code_uri = props.get("CodeUri", global_code_uri)
            if not _is_local_path(code_uri):
                raise UnsupportedTemplateFeature(
                    f"{where}: CodeUri {code_uri!r} must be a local folder to run locally"
                )
            code_dirs[logical_id] = _local_dir(base_dir, str(code_uri), where)
            props["CodeUri"] = f"s3://{FAKE_ARTIFACT_BUCKET}/{logical_id}.zip"
        elif rtype == "AWS::Serverless::StateMachine":
            uri = props.get("DefinitionUri")
            if uri is not None:
                if not _is_local_path(uri):
                    raise UnsupportedTemplateFeature(
                        f"{where}: DefinitionUri {uri!r} must be a local file to run locally"
                    )
                props["Definition"] = _read_definition(base_dir, str(uri), where)
                del props["DefinitionUri"]
        elif rtype == "AWS::Serverless::LayerVersion":
            # Handlers run in-process on the host's packages: the layer's folder is only
            # checked, then swapped for a fake S3 location as `sam package` would.
            content_uri = props.get("ContentUri")
            if not _is_local_path(content_uri):
                raise UnsupportedTemplateFeature(
                    f"{where}: ContentUri {content_uri!r} must be a local folder to run locally"
                )
            _local_dir(base_dir, str(content_uri), where)
            props["ContentUri"] = f"s3://{FAKE_ARTIFACT_BUCKET}/{logical_id}.zip"
    if _is_local_path(global_code_uri):
        globals_fn["CodeUri"] = f"s3://{FAKE_ARTIFACT_BUCKET}/globals.zip"
    return code_dirs


# SAM translation is pure and the slowest part of start-up: tests and the demo build many
# apps from one template, so results are kept per (preprocessed template, parameters).
_TRANSLATION_CACHE_SIZE = 16
_TRANSLATIONS: dict[str, dict[str, Any]] = {}


def _sam_translate(
    template: dict[str, Any], parameter_values: Mapping[str, Any], region: str
) -> dict[str, Any]:
    # Imported lazily: samtranslator is heavy and only needed at start-up.
    import boto3
    from samtranslator.metrics.metrics import Metrics  # type: ignore[import-untyped]
    from samtranslator.model.exceptions import (  # type: ignore[import-untyped]
        ExceptionWithMessage,
        InvalidDocumentException,
    )
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    metrics = Metrics()  # dummy publisher; published below so its __del__ stays quiet
    translator = Translator(
        MANAGED_POLICY_ARNS,
        Parser(),
        boto_session=boto3.session.Session(region_name=region),
        metrics=metrics,
    )
    try:
        translated: dict[str, Any] = translator.translate(
            copy.deepcopy(template),
            parameter_values=dict(parameter_values),
            get_managed_policy_map=lambda: MANAGED_POLICY_ARNS,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise TemplateError(f"SAM transform failed: {causes}") from exc
    except ExceptionWithMessage as exc:
        raise TemplateError(f"SAM transform failed: {exc.message}") from exc
    finally:
        metrics.publish()
    return translated


def expand_template(
    path: Path, source: Mapping[str, Any], *, parameter_values: Mapping[str, Any], region: str
) -> LoadedTemplate:
    """Expand the SAM transform (if declared) of ``source`` (loaded from ``path``).

    ``parameter_values`` are the final parameter values plus pseudo parameters; SAM uses
    them for the few properties it resolves itself.
    """
    source_copy: dict[str, Any] = copy.deepcopy(dict(source))
    transforms = _transforms(source_copy)
    unsupported = [name for name in transforms if name != SAM_TRANSFORM]
    if unsupported:
        raise UnsupportedTemplateFeature(f"Transform {', '.join(unsupported)}")
    if not transforms:
        if any(
            str(res.get("Type", "")).startswith("AWS::Serverless::")
            for res in source_copy["Resources"].values()
            if isinstance(res, dict)
        ):
            raise TemplateError("AWS::Serverless::* resources need Transform " + SAM_TRANSFORM)
        return LoadedTemplate(path=path, source=source_copy, translated=copy.deepcopy(source_copy))
    working = copy.deepcopy(source_copy)
    code_dirs = _preprocess_sam(working, path.parent)
    key = json.dumps([working, dict(parameter_values), region], sort_keys=True, default=str)
    cached = _TRANSLATIONS.get(key)
    if cached is None:
        cached = _sam_translate(working, parameter_values, region)
        if len(_TRANSLATIONS) >= _TRANSLATION_CACHE_SIZE:
            _TRANSLATIONS.pop(next(iter(_TRANSLATIONS)))
        _TRANSLATIONS[key] = cached
    translated = copy.deepcopy(cached)
    return LoadedTemplate(path=path, source=source_copy, translated=translated, code_dirs=code_dirs)
