"""The Security Hub sink: one ASFF finding per incident, in the account it happened in.

- stage ``raised``: ``BatchImportFindings`` of one finding whose ``Id`` derives from the
  incident (``trailwarden/<account>/<workflow>/<eventID>``), so a retried delivery
  re-imports the same finding (Security Hub updates it) and never makes a second one,
  and two workflows that match one event make two findings.
- stage ``closed``: ``BatchUpdateFindings`` sets ``Workflow.Status`` (RESOLVED when the
  bad state is gone, NOTIFIED otherwise) and a ``Note`` of what was done: after a finding
  exists ``BatchImportFindings`` can no longer change those fields.

The finding uses the account's default product ARN
(``arn:<partition>:securityhub:<region>:<account>:product/<account>/default``), which
Security Hub accepts only from the finding's own account (``caller_may_import``): the
client comes from ``client_for(finding)`` with the account it calls as, and a client of
another account is refused before any call. In organisation mode that client is the
member role's in the finding's account (``handlers._reach.Reach.security_hub_for``).

Every string that came from the event is plain text here (the console shows it as
typed): control, bidi, zero-width and other invisible characters are dropped, and each
field is cut to its ASFF limit.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from trailwarden.dal.member_clients import partition_of
from trailwarden.models.errors import NotificationFailed, TrailwardenError
from trailwarden.models.findings import Severity, Verdict
from trailwarden.notify.sinks import Limits
from trailwarden.notify.text import plain, truncate
from trailwarden.workflows.declaration import Grant, sub

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mypy_boto3_securityhub.literals import (
        PartitionType,
        SeverityLabelType,
        WorkflowStatusType,
    )
    from mypy_boto3_securityhub.type_defs import (
        AwsSecurityFindingTypeDef,
        BatchUpdateFindingsRequestTypeDef,
        FindingProviderFieldsTypeDef,
        ResourceTypeDef,
    )

    from trailwarden.models.findings import Finding
    from trailwarden.notify.sinks import Notice

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "trailwarden"
UPDATED_BY = "trailwarden"

# ASFF limits (Security Hub API Reference, "AwsSecurityFinding": Title at most 256
# characters, Description at most 1024, Types at most 50; "Note": Text at most 512;
# Security Hub User Guide, "Resources ASFF object": at most 32 resources; "ProductFields":
# at most 50 pairs, keys of 128 characters, values of 2048; a finding at most 240 KB
# ("BatchImportFindings")). ``total`` is in characters: every field is cut far below it.
LIMITS = Limits(title=256, text=1024, fields=50, total=240 * 1024)
NOTE_TEXT_LIMIT = 512
RESOURCES_LIMIT = 32
TYPES_LIMIT = 50
ID_LIMIT = 512  # a resource id from the event is cut to this (any real ARN is shorter)
PRODUCT_FIELD_VALUE_LIMIT = 256  # ours are short; the ASFF limit is 2048
RECOMMENDATION_LIMIT = 512

_ACCOUNT = re.compile(r"\d{12}")
_SAFE_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,200}")
# Partitions ASFF's Resource.Partition accepts (botocore's enum); another is left out.
_PARTITIONS: dict[str, PartitionType] = {
    p: p for p in ("aws", "aws-cn", "aws-us-gov", "aws-us-iso", "aws-us-iso-b")
}

_SEVERITY_LABELS: dict[Severity, SeverityLabelType] = {
    Severity.INFO: "INFORMATIONAL",
    Severity.MEDIUM: "MEDIUM",
    Severity.HIGH: "HIGH",
    Severity.CRITICAL: "CRITICAL",
}

# Our resource types (CloudFormation names) as ASFF resource types (the members of
# ASFF's ResourceDetails; a test checks each against botocore's model). Anything else
# is "Other", as ASFF asks.
ASFF_RESOURCE_TYPES: dict[str, str] = {
    "AWS::CloudTrail::Trail": "AwsCloudTrailTrail",
    "AWS::EC2::Instance": "AwsEc2Instance",
    "AWS::EC2::SecurityGroup": "AwsEc2SecurityGroup",
    "AWS::EC2::Volume": "AwsEc2Volume",
    "AWS::IAM::Role": "AwsIamRole",
    "AWS::IAM::User": "AwsIamUser",
    "AWS::Lambda::Function": "AwsLambdaFunction",
    "AWS::SNS::Topic": "AwsSnsTopic",
    "AWS::StepFunctions::StateMachine": "AwsStepFunctionStateMachine",
    "AWS::WAFv2::RuleGroup": "AwsWafv2RuleGroup",
    "AWS::WAFv2::WebACL": "AwsWafv2WebAcl",
}
OTHER_RESOURCE = "Other"
# ASFF asks for the ARN as a resource's Id where it has one: a plain id (an sg-..., a
# trail or user name) of these types becomes one ({p}artition, {r}egion, {a}ccount).
_ARN_FORMATS: dict[str, str] = {
    "AWS::CloudTrail::Trail": "arn:{p}:cloudtrail:{r}:{a}:trail/{id}",
    "AWS::EC2::Image": "arn:{p}:ec2:{r}::image/{id}",
    "AWS::EC2::Instance": "arn:{p}:ec2:{r}:{a}:instance/{id}",
    "AWS::EC2::SecurityGroup": "arn:{p}:ec2:{r}:{a}:security-group/{id}",
    "AWS::EC2::Snapshot": "arn:{p}:ec2:{r}::snapshot/{id}",
    "AWS::IAM::User": "arn:{p}:iam::{a}:user/{id}",
}
_PLAIN_RESOURCE_ID = re.compile(r"[A-Za-z0-9._+=,@-]{1,128}")

# Finding types (namespace/category), from what the resource is: data that can leave
# the account, the logging that would show it, or a configuration check otherwise.
BEST_PRACTICES = "Software and Configuration Checks/AWS Security Best Practices"
_TYPES_BY_RESOURCE: dict[str, tuple[str, ...]] = {
    "AWS::EC2::Image": ("Effects/Data Exposure",),
    "AWS::EC2::Snapshot": ("Effects/Data Exposure",),
    "AWS::CloudTrail::Trail": ("TTPs/Defense Evasion",),
}

# What the sink calls, in the account of the finding (IAM service authorization reference,
# Security Hub: BatchImportFindings needs the "product" resource and takes the
# securityhub:TargetAccount condition key, the finding's AwsAccountId; BatchUpdateFindings
# acts on the "hub" resource and takes securityhub:ASFFSyntaxPath/<field> keys). Granted
# with SecurityHubFindings=on: to the delivering functions in account mode, to the
# member role in organisation mode (``${AWS::AccountId}`` is then the member's).
IMPORT_GRANT = Grant(
    actions=("securityhub:BatchImportFindings",),
    resources=(
        sub(
            "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"
        ),
    ),
    why="Security Hub sink: this account's own findings (default product ARN), any region",
    conditions={"StringEquals": {"securityhub:TargetAccount": {"Ref": "AWS::AccountId"}}},
)
UPDATE_GRANT = Grant(
    actions=("securityhub:BatchUpdateFindings",),
    resources=(sub("arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default"),),
    why="Security Hub sink: close this account's findings (never suppress them)",
    conditions={
        "StringEquals": {"securityhub:ASFFSyntaxPath/Workflow.Status": ["RESOLVED", "NOTIFIED"]}
    },
)
SECURITY_HUB_GRANTS = (IMPORT_GRANT, UPDATE_GRANT)
SECURITY_HUB_ACTIONS = frozenset(a for g in SECURITY_HUB_GRANTS for a in g.actions)

# The longest a Security Hub call may take with its client's config (dal/clients.py
# _SERVICE_CONFIGS: 2 attempts of 2 s connect + 5 s read): the sink starts only with at
# least this much left before the send deadline, so it can never run past the function.
WORST_CASE_SECONDS = 2 * (2 + 5)

# Closing outcomes that leave nothing to do (the bad state is gone).
RESOLVED_OUTCOMES = frozenset({"remediated", "already-clean"})


class SecurityHubClient(NamedTuple):
    """A ``securityhub`` client and the account it calls as (the one that signs)."""

    client: Any
    account: str


@dataclass(frozen=True)
class Rendered:
    """One request: ``operation`` is "import" or "update"; ``finding`` says where."""

    operation: str
    request: Mapping[str, Any]
    finding: Finding


def caller_may_import(caller_account: str, finding: Finding) -> bool:
    """Security Hub's rule for the default product ARN: only the finding's own account
    (its ``AwsAccountId``) may import or update it."""
    return bool(_ACCOUNT.fullmatch(caller_account)) and caller_account == finding.account


def finding_id(finding: Finding) -> str:
    """``trailwarden/<account>/<workflow>/<eventID>``: the same for every delivery of an
    incident (the incident key is ``<account>#<eventID>`` in organisation mode, the
    eventID in account mode: both give the same id), and one per workflow, so two
    workflows matching one event never overwrite each other's finding. A key or
    workflow that is not a plain id is hashed."""
    key = finding.incident_key
    prefix = f"{finding.account}#"
    if key.startswith(prefix):
        key = key[len(prefix) :]
    return f"trailwarden/{finding.account}/{_plain_id(finding.workflow)}/{_plain_id(key)}"


def _plain_id(value: str) -> str:
    if _SAFE_ID.fullmatch(value) and "/" not in value:
        return value
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def product_arn(finding: Finding) -> str:
    account, region = finding.account, finding.region
    return f"arn:{partition_of(region)}:securityhub:{region}:{account}:product/{account}/default"


def severity_label(severity: Severity) -> SeverityLabelType:
    return _SEVERITY_LABELS.get(severity, "MEDIUM")


def resource_type(cloudformation_type: str) -> str:
    return ASFF_RESOURCE_TYPES.get(cloudformation_type, OTHER_RESOURCE)


def resource_id(finding: Finding) -> str:
    """The resource's ARN when the event named it by a plain id of a type with ARNs;
    otherwise what the event said, neutralised and cut."""
    raw = finding.resource_id.strip()
    arn = _ARN_FORMATS.get(finding.resource_type)
    if arn and _PLAIN_RESOURCE_ID.fullmatch(raw) and _ACCOUNT.fullmatch(finding.account):
        return arn.format(
            p=partition_of(finding.region), r=finding.region, a=finding.account, id=raw
        )
    return _text(raw, ID_LIMIT)


def finding_types(finding: Finding) -> list[str]:
    types = [*_TYPES_BY_RESOURCE.get(finding.resource_type, ()), BEST_PRACTICES]
    return types[:TYPES_LIMIT]


def workflow_status(outcome: str) -> WorkflowStatusType:
    """RESOLVED when the bad state is gone; NOTIFIED (a human was told and must look)
    for rejected, expired, failed, partly remediated and anything else."""
    return "RESOLVED" if outcome in RESOLVED_OUTCOMES else "NOTIFIED"


def _text(value: object, limit: int) -> str:
    """One neutralised line cut to ``limit``; never blank (ASFF's ``.*\\S.*``)."""
    return truncate(plain(value), limit) or "-"


def _timestamp(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _event_time(finding: Finding, now: datetime) -> str:
    """CloudTrail's eventTime as ASFF wants it; ``now`` when it is missing or malformed."""
    try:
        moment = datetime.fromisoformat(finding.event_time.replace("Z", "+00:00"))
    except ValueError:
        return _timestamp(now)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _timestamp(moment)


def _resource(finding: Finding) -> ResourceTypeDef:
    if not finding.resource_id.strip():
        resource: ResourceTypeDef = {
            "Type": "AwsAccount",
            "Id": f"AWS::::Account:{finding.account}",
        }
    else:
        resource = {
            "Type": resource_type(finding.resource_type),
            "Id": resource_id(finding),
        }
    partition = _PARTITIONS.get(partition_of(finding.region))
    if partition is not None:
        resource["Partition"] = partition
    if finding.region:
        resource["Region"] = finding.region
    return resource


class SecurityHubSink:
    """Imports and updates trailwarden's findings in Security Hub (see the module)."""

    name = "securityhub"
    tells_people = False  # a console nobody watches in time; no approval link
    limits = LIMITS

    def __init__(
        self,
        client_for: Callable[[Finding], SecurityHubClient],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        deadline: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``deadline`` (``monotonic()`` time, the send deadline of the webhooks): once
        it has passed the sink is skipped, neither assuming a role nor calling."""
        self._client_for = client_for
        self._clock = clock
        self._deadline = deadline
        self._monotonic = monotonic

    # --- render (pure) ----------------------------------------------------------------

    def render(self, notice: Notice) -> Rendered:
        if notice.stage == "closed":
            return Rendered("update", dict(self.update_request(notice)), notice.finding)
        return Rendered("import", {"Findings": [self.asff(notice)]}, notice.finding)

    def asff(self, notice: Notice) -> AwsSecurityFindingTypeDef:
        """The finding of a raised incident, with ASFF's required set."""
        finding, message = notice.finding, notice.message
        now = _timestamp(self._clock())
        observed = _event_time(finding, self._clock())
        label = severity_label(finding.severity)
        types = finding_types(finding)
        # the summary, then every field but one that only repeats it (the reason)
        parts = [message.summary]
        parts += [f"{name}: {value}" for name, value in message.fields if value != message.summary]
        description = " | ".join(p for p in (plain(part) for part in parts) if p)
        # What finding providers are asked to set (BatchImportFindings): it keeps our
        # severity and types apart from what analysts change later.
        provider: FindingProviderFieldsTypeDef = {"Severity": {"Label": label}, "Types": types}
        asff: AwsSecurityFindingTypeDef = {
            "SchemaVersion": SCHEMA_VERSION,
            "Id": finding_id(finding),
            "ProductArn": product_arn(finding),
            "GeneratorId": f"trailwarden-{finding.workflow}",
            "AwsAccountId": finding.account,
            "Types": types,
            "CreatedAt": observed,
            "UpdatedAt": now,
            "FirstObservedAt": observed,
            "LastObservedAt": observed,
            "Severity": {"Label": label},
            "FindingProviderFields": provider,
            "Title": _text(message.title, LIMITS.title),
            "Description": truncate(description, LIMITS.text) or "-",
            "Resources": [_resource(finding)][:RESOURCES_LIMIT],
            "ProductName": PRODUCT_NAME,
            "CompanyName": PRODUCT_NAME,
            "Region": finding.region,
            "ProductFields": self._product_fields(finding),
        }
        if finding.account_name:
            asff["AwsAccountName"] = _text(finding.account_name, 50)
        if finding.verdict in (Verdict.REMEDIATE, Verdict.APPROVAL):
            plan = "; ".join(a.description for a in finding.plan)
            action = (
                "trailwarden remediates"
                if finding.verdict is Verdict.REMEDIATE
                else ("trailwarden remediates after approval")
            )
            asff["Remediation"] = {
                "Recommendation": {
                    "Text": _text(f"{action}: {plan}" if plan else action, RECOMMENDATION_LIMIT)
                }
            }
        return asff

    def update_request(self, notice: Notice) -> BatchUpdateFindingsRequestTypeDef:
        """What closes the incident's finding: its workflow status and a note."""
        finding = notice.finding
        done = "; ".join(plain(line) for line in notice.done if plain(line))
        head = plain(notice.message.title) or notice.status
        return {
            "FindingIdentifiers": [{"Id": finding_id(finding), "ProductArn": product_arn(finding)}],
            "Workflow": {"Status": workflow_status(notice.status)},
            "Note": {
                "Text": _text(f"{head}: {done}" if done else head, NOTE_TEXT_LIMIT),
                "UpdatedBy": UPDATED_BY,
            },
        }

    @staticmethod
    def _product_fields(finding: Finding) -> dict[str, str]:
        fields = {
            "trailwarden/workflow": finding.workflow,
            "trailwarden/verdict": str(finding.verdict),
            "trailwarden/eventID": finding.event_id,
            "trailwarden/eventName": finding.event_name,
        }
        return {k: _text(v, PRODUCT_FIELD_VALUE_LIMIT) for k, v in fields.items() if v}

    # --- deliver ----------------------------------------------------------------------

    def deliver(self, rendered: Rendered) -> str:
        """ "imported" or "updated"; NotificationFailed (type and code, never more) when
        the client cannot be had, is another account's, or Security Hub refuses."""
        finding = rendered.finding
        if not finding.region:
            raise NotificationFailed(
                "Security Hub: the finding has no region (the event named none): "
                "no product ARN to write it to"
            )
        if self._deadline is not None and self._deadline - self._monotonic() < WORST_CASE_SECONDS:
            raise NotificationFailed(
                "Security Hub skipped: too little time left before the send deadline"
            )
        try:
            reach = self._client_for(finding)
        except NotificationFailed:
            raise  # already says why, and holds nothing secret
        except (TrailwardenError, ClientError, BotoCoreError) as err:
            raise NotificationFailed(f"Security Hub unreachable: {_reason(err)}") from err
        if not caller_may_import(reach.account, finding):
            raise NotificationFailed(
                f"Security Hub: account {reach.account or '?'} may not write findings of "
                f"account {finding.account or '?'} (default product ARN)"
            )
        try:
            if rendered.operation == "update":
                answer = reach.client.batch_update_findings(**rendered.request)
            else:
                answer = reach.client.batch_import_findings(**rendered.request)
        except (ClientError, BotoCoreError) as err:
            raise NotificationFailed(f"Security Hub: {_reason(err)}") from err
        if rendered.operation == "update":
            unprocessed = answer.get("UnprocessedFindings") or []
            if unprocessed:
                first = unprocessed[0]
                raise NotificationFailed(
                    f"Security Hub did not update the finding: {_code(first.get('ErrorCode'))}"
                )
            return "updated"
        if answer.get("FailedCount", 0):
            failed = (answer.get("FailedFindings") or [{}])[0]
            raise NotificationFailed(
                f"Security Hub did not import the finding: {_code(failed.get('ErrorCode'))} "
                f"{_text(failed.get('ErrorMessage', ''), 200)}"
            )
        return "imported"


def _code(value: object) -> str:
    return _text(value, 64)


def _reason(err: BaseException) -> str:
    """The error's type and, for a ClientError, its code: never its message (which may
    quote a request) nor anything of the credentials."""
    if isinstance(err, ClientError):
        # modelled errors are subclasses named after their code: one name is enough
        return f"ClientError {_code(err.response.get('Error', {}).get('Code', ''))}"
    return type(err).__name__
