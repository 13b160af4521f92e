"""Remediate: run a workflow's verified, idempotent fix for a Finding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailwarden.models.errors import RemediationRefused
from trailwarden.models.findings import Finding, Verdict

if TYPE_CHECKING:
    from trailwarden.models.settings import DetectionSettings
    from trailwarden.workflows.base import ClientFactory, RemediationResult
    from trailwarden.workflows.registry import Workflow


def remediate(
    finding: Finding,
    workflow: Workflow,
    settings: DetectionSettings,
    clients: ClientFactory,
    *,
    decision: Any = None,
) -> RemediationResult:
    """``decision`` is the human's answer the approval branch put in the state."""
    if finding.workflow != workflow.id:
        raise RemediationRefused(f"finding of {finding.workflow} sent to {workflow.id}")
    if finding.verdict not in (Verdict.REMEDIATE, Verdict.APPROVAL):
        raise RemediationRefused(f"verdict {finding.verdict} does not allow remediation")
    if finding.verdict is Verdict.APPROVAL and not (
        isinstance(decision, Mapping) and decision.get("status") == "approved"
    ):
        raise RemediationRefused("an approval finding without an approved decision")
    if finding.account and finding.account in settings.excluded_account_ids:
        raise RemediationRefused(f"account {finding.account} is in ExcludedAccountIds")
    remediation = workflow.remediation
    if remediation is None or not finding.resource_id:
        raise RemediationRefused(f"{workflow.id} has nothing to remediate")
    if not finding.region:  # Finding.from_dict checked its shape; a fix needs one
        raise RemediationRefused("the finding names no region to remediate in")
    return remediation.apply(finding.resource_id, finding.facts, finding.region, clients, settings)
