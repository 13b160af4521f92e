"""Workflow ids (contract) and the template Parameter that sets each one's Mode."""

from __future__ import annotations

from trailwarden.models.modes import Mode

AMI_EXPOSURE = "ami-exposure"
CLOUDTRAIL_TAMPER = "cloudtrail-tamper"
SG_OPEN_INGRESS = "sg-open-ingress"
SG_CHANGE = "sg-change"
WAF_PROTECTED_IP = "waf-protected-ip"
WAF_CHANGE = "waf-change"
IAM_USER_CHANGE = "iam-user-change"
SSM_SESSION = "ssm-session"
EC2_KEYPAIR = "ec2-keypair"
APP_TAMPER = "app-tamper"

# workflow id -> (Mode parameter name, default mode)
MODE_PARAMETERS: dict[str, tuple[str, Mode]] = {
    AMI_EXPOSURE: ("AmiExposureMode", Mode.REMEDIATE),
    CLOUDTRAIL_TAMPER: ("CloudTrailTamperMode", Mode.REMEDIATE),
    SG_OPEN_INGRESS: ("SgOpenIngressMode", Mode.REMEDIATE),
    SG_CHANGE: ("SgChangeMode", Mode.ALERT),
    WAF_PROTECTED_IP: ("WafProtectedIpMode", Mode.APPROVAL),
    WAF_CHANGE: ("WafChangeMode", Mode.ALERT),
    IAM_USER_CHANGE: ("IamUserChangeMode", Mode.ALERT),
    SSM_SESSION: ("SsmSessionMode", Mode.ALERT),
    EC2_KEYPAIR: ("Ec2KeyPairMode", Mode.ALERT),
    APP_TAMPER: ("AppTamperMode", Mode.ALERT),
}


def mode_env_var(workflow: str) -> str:
    """Environment variable that carries a workflow's Mode, e.g. MODE_AMI_EXPOSURE."""
    return "MODE_" + workflow.upper().replace("-", "_")
