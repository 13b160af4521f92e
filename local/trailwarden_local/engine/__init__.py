"""Local engine: the real SAM template provisioned into moto, handlers run in-process.

``from trailwarden_local.engine import LocalApp``; see :mod:`trailwarden_local.engine.app`.
"""

from .app import (
    Delivery,
    InvokeResult,
    LocalApp,
    LocalRule,
    LocalStateMachine,
    SkippedResource,
)
from .errors import (
    EngineStateError,
    ParameterError,
    TemplateError,
    UnsupportedTemplateFeature,
)
from .lambda_runtime import InvocationRecord, LocalFunction
from .provision import SKIPPED_RESOURCE_TYPES

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
