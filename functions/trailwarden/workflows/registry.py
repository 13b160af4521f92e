"""Every workflow, found by listing this package: a sub-package is a workflow unit.

A unit exports ``DECLARATION`` (plain data) and ``load()`` (its code; see
:mod:`trailwarden.workflows.declaration`). Declarations are cheap: every function
reads the Modes from them. A function that runs one workflow calls
:func:`load_workflow`, which imports that unit's code only (its cold start does not pay
for the others). ``WORKFLOWS``, ``BY_ID`` and the ``workflow_for_*`` lookups (replay,
the local engine, tests) load every workflow on first use. Importing this module loads
no unit.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any

from trailwarden.models.modes import CLOUDTRAIL_DETAIL_TYPE
from trailwarden.workflows.declaration import Declaration, Remediation, Workflow

if TYPE_CHECKING:
    from types import ModuleType

    from trailwarden.models.events import Envelope

__all__ = ["Declaration", "Remediation", "Workflow", "declarations", "load_workflow"]

_PACKAGE = "trailwarden.workflows"


def unit_module(workflow_id: str) -> str:
    """The unit package of a workflow id (ami-exposure -> trailwarden.workflows.ami_exposure)."""
    return f"{_PACKAGE}.{workflow_id.replace('-', '_')}"


@cache
def _units() -> tuple[str, ...]:
    package = importlib.import_module(_PACKAGE)
    return tuple(sorted(info.name for info in pkgutil.iter_modules(package.__path__) if info.ispkg))


def _unit(workflow_id: str) -> ModuleType:
    if not workflow_id or workflow_id.replace("-", "_") not in _units():
        raise KeyError(workflow_id)
    return importlib.import_module(unit_module(workflow_id))


@cache
def declarations() -> tuple[Declaration, ...]:
    """Every workflow's declaration, ordered by id. Imports no detection code."""
    found = [importlib.import_module(f"{_PACKAGE}.{name}").DECLARATION for name in _units()]
    return tuple(sorted(found, key=lambda d: d.id))


@cache
def declaration(workflow_id: str) -> Declaration:
    """KeyError for an id that is not registered."""
    found: Declaration = _unit(workflow_id).DECLARATION
    return found


@cache
def load_workflow(workflow_id: str) -> Workflow:
    """The workflow with this id, importing its unit's code (and no other unit's) on
    first use; the same object ``BY_ID`` holds. KeyError for an unknown id."""
    workflow: Workflow = _unit(workflow_id).load()
    return workflow


@cache
def _workflows() -> tuple[Workflow, ...]:
    return tuple(load_workflow(d.id) for d in declarations())


@cache
def _by_id() -> dict[str, Workflow]:
    return {w.id: w for w in _workflows()}


# Every workflow (loading all of them): built on first use by __getattr__ below.
WORKFLOWS: tuple[Workflow, ...]
BY_ID: dict[str, Workflow]


def __getattr__(name: str) -> Any:
    if name == "WORKFLOWS":
        return _workflows()
    if name == "BY_ID":
        return _by_id()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _by_call() -> dict[tuple[str, str], Workflow]:
    return {trigger: w for w in _workflows() for trigger in w.triggers}


@cache
def _by_envelope() -> dict[tuple[str, str], Workflow]:
    return {trigger: w for w in _workflows() for trigger in w.envelope_triggers}


def workflow_for_call(event_source: str, event_name: str) -> Workflow | None:
    """The workflow whose triggers include this call (used to name weaker outcomes)."""
    return _by_call().get((event_source, event_name))


def workflow_for_envelope(source: str, detail_type: str) -> Workflow | None:
    """The workflow that reads this kind of non-CloudTrail event (e.g. Config compliance)."""
    return _by_envelope().get((source, detail_type))


def workflow_for_event(envelope: Envelope) -> Workflow | None:
    """The workflow an EventBridge event belongs to: by call for CloudTrail records, by
    (source, detail-type) otherwise. Weaker outcomes keep the id (DESIGN §2)."""
    if envelope.detail_type == CLOUDTRAIL_DETAIL_TYPE:
        detail = envelope.detail
        return workflow_for_call(
            str(detail.get("eventSource", "")), str(detail.get("eventName", ""))
        )
    return workflow_for_envelope(envelope.source, envelope.detail_type)
