"""Contract vocabulary every function needs, in a module of its own (settings and the
workflow declarations read it; the event and findings code only some functions do):
a workflow's Mode, and the detail-type of CloudTrail API-call events."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    REMEDIATE = "remediate"
    APPROVAL = "approval"
    ALERT = "alert"
    OFF = "off"


CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
