"""Retention policies (one item per category) and purge runs.

A policy's hash key is its ``category``, so DynamoDB itself keeps one policy per
category; the ``by_kind`` index lists the (small) registry in category order
without a Scan. Runs are keyed by their integer id; ``by_created`` lists them
newest first.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register

POLICY_KIND = "policy"
RUN_KIND = "purge_run"


class PoliciesByKind(GlobalSecondaryIndex["PolicyItem"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    category = UnicodeAttribute(range_key=True)


@register
class PolicyItem(Model):
    class Meta(TableMeta):
        logical_name = "data_retention_policies"

    category = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default=POLICY_KIND)
    id = NumberAttribute()
    days_to_keep = NumberAttribute()
    enabled = BooleanAttribute(default=True)
    archive = BooleanAttribute(default=False)
    description = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_kind = PoliciesByKind()


class RunsByCreated(GlobalSecondaryIndex["PurgeRunItem"]):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


@register
class PurgeRunItem(Model):
    class Meta(TableMeta):
        logical_name = "purge_runs"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=RUN_KIND)
    status = UnicodeAttribute()
    dry_run = BooleanAttribute(default=False)
    trigger = UnicodeAttribute()
    requested_by = UnicodeAttribute()
    # One entry per category: the public result plus the worker's position (``state``).
    steps = JSONAttribute(default=list)
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    # The worker holding the run, and until when (a conditional update claims it).
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UnicodeAttribute(null=True)

    by_created = RunsByCreated()
