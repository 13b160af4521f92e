"""The approval service as the link endpoint and the Discord resume build it alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trailwarden.approvals.service import ApprovalService
from trailwarden.approvals.store import ApprovalStore
from trailwarden.dal.clients import make_client

if TYPE_CHECKING:
    from trailwarden.models.settings import ApprovalSettings, NotifySettings


def build_approval_service(settings: ApprovalSettings, notify: NotifySettings) -> ApprovalService:
    """SendTaskSuccess without SDK retries: a retried send whose first attempt landed
    answers TaskTimedOut, which would be misread as an expired approval."""
    return ApprovalService(
        store=ApprovalStore(make_client("dynamodb"), settings.table),
        sfn=make_client("stepfunctions", retries=False),
        settings=settings,
        language=notify.language,
        zone=notify.zone,
    )
