"""The audit log, partitioned by UTC day so a time range and a purge are key queries.

``sk`` is ``<ISO timestamp>#<event id>``: sorting by it is sorting by time.
The ``by_actor`` and ``by_action`` indexes serve the list filters; the set of days
that hold events lives on a counter-table item so a purge can find old partitions
without a Scan.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.base import TableMeta, register


class AuditByActor(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AuditByAction(GlobalSecondaryIndex["AuditItem"]):
    class Meta:
        index_name = "by_action"
        projection = AllProjection()

    action = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


@register
class AuditItem(Model):
    class Meta(TableMeta):
        logical_name = "audit_log"

    day = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    role = UnicodeAttribute()
    action = UnicodeAttribute()
    resource_type = UnicodeAttribute()
    resource_id = UnicodeAttribute(null=True)
    summary = JSONAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)

    by_actor = AuditByActor()
    by_action = AuditByAction()


class AuditDays(Model):
    """Not a table of its own: the ``audit-days`` item of the counters table."""

    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    days = UnicodeSetAttribute(null=True)


AUDIT_DAYS_KEY = "audit-days"
