"""A small YAML writer for CloudFormation: block mappings, flow lists of scalars, the
short intrinsic-function tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...) and comments.

PyYAML can write YAML but neither short tags from plain mappings nor comments, and a
template is read by people before it is deployed.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INDENT = "  "
_FLOW_WIDTH = 88
_MAPPING_WIDTH = 64  # a short mapping of scalars reads well on one line
_FOLD_AT = 80  # longer plain strings are written folded (>-)
_PLAIN = re.compile(r"[A-Za-z_/$.][A-Za-z0-9 _./:*${}@,()=+<>?-]*")
# What YAML would read back as a number (.5, .inf, 1e3, 0x1f): quoted.
_NUMBER_LIKE = re.compile(
    r"[-+]?(\.[0-9]+|\.inf|\.nan|[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+)",
    re.I,
)
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}
_SHORT_TAGS = {
    "Ref": "!Ref",
    "Fn::GetAtt": "!GetAtt",
    "Fn::Sub": "!Sub",
    "Fn::If": "!If",
    "Fn::Join": "!Join",
    "Fn::Not": "!Not",
    "Fn::Equals": "!Equals",
    "Fn::And": "!And",
    "Fn::Or": "!Or",
    "Condition": "!Condition",
}


@dataclass(frozen=True)
class Comment:
    """A mapping key written as a ``# text`` line (its value is ignored)."""

    text: str


@dataclass(frozen=True)
class Commented:
    """A value with a comment at the end of its line."""

    value: Any
    comment: str


def scalar(value: Any, *, flow: bool = False) -> str:
    """A scalar, plain where YAML reads it back as the same string, else quoted.
    ``flow``: inside ``[...]`` / ``{...}``, where commas and brackets are syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    plain = (
        _PLAIN.fullmatch(text)
        and not _NUMBER_LIKE.fullmatch(text)
        and text.lower() not in _RESERVED
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
        and not (flow and any(c in text for c in ",[]{}"))
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def _foldable(text: str) -> bool:
    """A folded scalar (>-) reads back the same only for single-spaced text on one line
    with no leading or trailing blanks; anything else is written quoted."""
    return (
        "\n" not in text
        and "  " not in text
        and text == text.strip()
        and not text.startswith(
            ("#", "'", '"', "-", "?", ":", "[", "{", "!", "&", "*", "|", ">", "%", "@", "`")
        )
    )


def _tag(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key in _SHORT_TAGS:
            return _SHORT_TAGS[key], inner
    return None


def _inline_tag(value: Any, *, flow: bool = False) -> str | None:
    tagged = _tag(value)
    if tagged is None:
        return None
    tag, inner = tagged
    if tag == "!GetAtt" and isinstance(inner, list):
        return f"{tag} {'.'.join(inner)}"
    if isinstance(inner, str | int | float | bool):
        return f"{tag} {scalar(inner, flow=flow)}"
    return None


def inline(value: Any, *, flow: bool = False) -> str | None:
    """The value on one line, or None when it reads better as a block."""
    if isinstance(value, Commented):
        return None
    if _tag(value) is not None:
        return _inline_tag(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        if any(isinstance(k, Comment) for k in value) or len(value) > 2:
            return None
        parts = []
        for key, item in value.items():
            text = _inline_tag(item, flow=True) if _tag(item) else None
            if text is None and isinstance(item, str | int | float | bool):
                text = scalar(item, flow=True)
            if text is None and isinstance(item, list | tuple) and flow is False:
                text = inline(item, flow=True)
            if text is None:
                return None
            parts.append(f"{scalar(key, flow=True)}: {text}")
        joined = "{" + ", ".join(parts) + "}"
        return joined if len(joined) <= (_FLOW_WIDTH if flow else _MAPPING_WIDTH) else None
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = []
        for item in value:
            if isinstance(item, Mapping) and _tag(item) is None:
                text = inline(item, flow=True)
            elif _tag(item):
                text = _inline_tag(item, flow=True)
            elif isinstance(item, list | tuple):
                text = None
            else:
                text = scalar(item, flow=True)
            if text is None:
                return None
            items.append(text)
        joined = "[" + ", ".join(items) + "]"
        return joined if len(joined) <= _FLOW_WIDTH else None
    if isinstance(value, str) and len(value) > _FOLD_AT and _foldable(value):
        return None
    return scalar(value, flow=flow)


def block(value: Any, depth: int) -> list[str]:
    """Lines of ``value`` as the body of a key at ``depth`` (its items at depth)."""
    pad = INDENT * depth
    lines: list[str] = []
    if isinstance(value, Mapping) and _tag(value) is None:
        for key, item in value.items():
            if isinstance(key, Comment):
                lines.append(f"{pad}# {key.text}")
                continue
            lines.extend(entry(f"{scalar(key)}:", item, depth))
        return lines
    if isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            lines.extend(entry("-", item, depth))
        return lines
    raise TypeError(f"not a block: {value!r}")


def entry(head: str, value: Any, depth: int) -> list[str]:
    """``head value`` (a key or a list dash) with the value inline or as a block."""
    pad = INDENT * depth
    comment = ""
    if isinstance(value, Commented):
        comment = f"  # {value.comment}"
        value = value.value
    # A commented mapping reads better as a block under its comment.
    multi = isinstance(value, Mapping) and _tag(value) is None and len(value) > 1
    flat = None if comment and multi else inline(value)
    if flat is not None:
        return [f"{pad}{head} {flat}{comment}"]
    if isinstance(value, str):  # a long plain string: folded, as people write them
        lines = textwrap.wrap(
            value, width=84 - len(pad), break_long_words=False, break_on_hyphens=False
        )
        inner = INDENT * (depth + 1)
        return [f"{pad}{head} >-{comment}", *(inner + line for line in lines)]
    tagged = _tag(value)
    if tagged:  # e.g. !If / !Join with a block argument
        tag, inner = tagged
        return [f"{pad}{head} {tag}{comment}", *block(inner, depth + 1)]
    body = block(value, depth + 1)
    if head == "-" and body and not body[0].lstrip().startswith("#"):
        # "- key: value" (or "- - item") on the dash's line
        first = body[0][len(INDENT * (depth + 1)) :]
        return [f"{pad}- {first}{comment}", *body[1:]]
    return [f"{pad}{head}{comment}", *body]


def dump(mapping: Mapping[str, Any], depth: int = 0) -> str:
    return "\n".join(block(mapping, depth)) + "\n"


def without_comments(value: Any) -> Any:
    """The data as YAML reads it back: comments dropped (for round-trip checks)."""
    if isinstance(value, Commented):
        return without_comments(value.value)
    if isinstance(value, Mapping):
        return {k: without_comments(v) for k, v in value.items() if not isinstance(k, Comment)}
    if isinstance(value, list | tuple):
        return [without_comments(v) for v in value]
    return value
