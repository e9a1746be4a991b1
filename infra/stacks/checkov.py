"""The checkov findings this design answers otherwise, each with its reason, in the template's metadata.

``make test`` runs checkov on the synthesized templates (tests/infra/test_checkov.py);
a finding not listed here fails it. A skip is recorded on every resource of the type
(``Metadata.checkov.skip`` with the reason as its comment), so a reviewer reading the
template sees why, and a new resource type gets no exception by accident.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

CMK_REASON = (
    "Encrypted at rest with the AWS-managed key; a customer-managed key per store adds cost and a key policy "
    "to operate without protecting more here. The one secret stored, webhook signing secrets, is envelope-"
    "encrypted with the stack's own KMS key."
)

# Resource type -> checkov check id -> why this design does not follow it.
EXCEPTIONS: dict[str, dict[str, str]] = {
    "AWS::DynamoDB::Table": {"CKV_AWS_119": CMK_REASON},
    "AWS::SQS::Queue": {
        "CKV_AWS_27": "SQS-managed server-side encryption is on (SqsManagedSseEnabled); messages carry only ids."
    },
    "AWS::Logs::LogGroup": {
        "CKV_AWS_158": "Log groups are encrypted by CloudWatch Logs; logs carry no secrets (tokens and webhook "
        "secrets are never logged)."
    },
    "AWS::S3::Bucket": {
        "CKV_AWS_18": "Every object is written by the export worker and read through presigned links the API "
        "issues to an authenticated caller and records in the audit log; server access logs would add a bucket "
        "without adding who asked.",
        "CKV_AWS_21": "Versioning would keep the objects a retention purge deletes: exports must really go away "
        "when their retention ends (and can be regenerated while the records exist).",
    },
    "AWS::Serverless::Function": {
        "CKV_AWS_116": "No function is invoked asynchronously with an event worth keeping: SQS-fed functions "
        "have their queue's dead-letter queue (redrive), the API is synchronous, and a failed scheduled run is "
        "followed by the next one (and raises the function's error alarm).",
        "CKV_AWS_117": "The functions reach only AWS APIs and public webhook receivers: a VPC would add NAT "
        "gateways and cold-start cost and protect no private resource; the SSRF guard keeps webhooks off "
        "private, link-local and metadata addresses.",
        "CKV_AWS_173": "Environment variables hold resource names and settings, and the key that signs "
        "pagination cursors (it grants no access to data); Lambda encrypts them at rest with its service key.",
    },
    "AWS::Serverless::Api": {
        "CKV_AWS_120": "Answers depend on the caller's key and change with every write: a stage cache would "
        "serve one caller's data to another and stale states after writes.",
    },
    "AWS::SecretsManager::Secret": {
        "CKV_AWS_149": "The pagination-cursor key is encrypted with the Secrets Manager AWS-managed key; a "
        "customer-managed key would not narrow who can read it (whoever deploys the stack) and it protects "
        "no data, only the integrity of cursors.",
    },
    "AWS::SNS::Topic": {
        "CKV_AWS_26": "The operators' alarm topic carries alarm names and states only; CloudWatch cannot publish "
        "to a topic encrypted with the AWS-managed SNS key.",
    },
}


def record_exceptions(scope: Construct) -> None:
    """Add ``Metadata.checkov.skip`` (check id and reason) to every resource under ``scope`` with exceptions."""
    for construct in scope.node.find_all():
        if not isinstance(construct, cdk.CfnResource):
            continue
        reasons = EXCEPTIONS.get(construct.cfn_resource_type)
        if reasons:
            skips = [{"id": check, "comment": reason} for check, reason in sorted(reasons.items())]
            construct.add_metadata("checkov", {"skip": skips})
