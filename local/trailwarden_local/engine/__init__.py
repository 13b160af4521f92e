"""Local engine: the real SAM template provisioned into moto, handlers run in-process.

``from trailwarden_local.engine import LocalApp``; see :mod:`trailwarden_local.engine.app`.
The names are imported on first use: ``replay`` needs only the offline resolver
(:mod:`~trailwarden_local.engine.resolver`), not moto, boto3 and the Lambda runtime behind
:class:`LocalApp`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import LocalApp
    from .bus import Delivery
    from .errors import (
        EngineStateError,
        ParameterError,
        TemplateError,
        UnsupportedTemplateFeature,
    )
    from .executions import InvokeResult
    from .lambda_runtime import InvocationRecord, LocalFunction
    from .provision import SKIPPED_RESOURCE_TYPES
    from .stack import LocalRule, LocalStateMachine, SkippedResource

_WHERE = {
    "Delivery": "bus",
    "InvokeResult": "executions",
    "LocalApp": "app",
    "LocalRule": "stack",
    "LocalStateMachine": "stack",
    "SkippedResource": "stack",
    "EngineStateError": "errors",
    "ParameterError": "errors",
    "TemplateError": "errors",
    "UnsupportedTemplateFeature": "errors",
    "InvocationRecord": "lambda_runtime",
    "LocalFunction": "lambda_runtime",
    "SKIPPED_RESOURCE_TYPES": "provision",
}

__all__ = [
    "SKIPPED_RESOURCE_TYPES",
    "Delivery",
    "EngineStateError",
    "InvocationRecord",
    "InvokeResult",
    "LocalApp",
    "LocalFunction",
    "LocalRule",
    "LocalStateMachine",
    "ParameterError",
    "SkippedResource",
    "TemplateError",
    "UnsupportedTemplateFeature",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
