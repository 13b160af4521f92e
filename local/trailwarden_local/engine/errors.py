"""Errors raised by the local engine. All of them fail loudly and name the culprit."""

from __future__ import annotations


class TemplateError(Exception):
    """The template (or its parameters) cannot be run locally as written."""


class UnsupportedTemplateFeature(TemplateError):  # noqa: N818 - public name fixed by the design
    """An intrinsic function, resource type, attribute or property the engine does not support."""


class ParameterError(TemplateError, ValueError):
    """Unknown parameter name, missing value or a value outside its constraints."""


class EngineStateError(RuntimeError):
    """The engine is used outside its lifecycle (not started, started twice, no mock...)."""
