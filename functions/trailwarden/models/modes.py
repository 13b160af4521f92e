"""A workflow's Mode (contract vocabulary), in a module of its own: settings and the
workflow ids need it in every function, the findings code only some functions."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    REMEDIATE = "remediate"
    APPROVAL = "approval"
    ALERT = "alert"
    OFF = "off"
