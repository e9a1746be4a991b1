"""Delivery and export analytics (viewer), read from aggregates maintained as work happens.

Each answer carries ``X-Query-Count``: the DynamoDB requests it took.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import Role
from chalicelib.http import Call, Reply, endpoint

if TYPE_CHECKING:
    pass

if TYPE_CHECKING:
    # Only a type here: the store (and PynamoDB) load on the first request, not on a cold import.
    from chalicelib.store.stats import QueryCount

stats_api = ApiBlueprint(__name__, "/system/stats")


def _reply(body: object, count: QueryCount) -> Reply:
    return Reply(body, headers={"X-Query-Count": str(count.queries)})


@stats_api.route("/deliveries", methods=["GET"])
@endpoint(stats_api, role=Role.viewer, query="stats.DeliveryStatsQuery", response="stats.DeliveryStats")
def delivery_stats(call: Call) -> Reply:
    """Sent, failed, attempts, retries and latency percentiles per time bucket (at most 1,440)."""
    return _reply(*get_deps().stats_reader.deliveries(call.query()))


@stats_api.route("/exports", methods=["GET"])
@endpoint(stats_api, role=Role.viewer, query="stats.ExportStatsQuery", response="stats.ExportStats")
def export_stats(call: Call) -> Reply:
    """Finished export jobs per type: counts by status, rows, bytes, durations, rows per second."""
    return _reply(*get_deps().stats_reader.exports(call.query()))


@stats_api.route("/backlog", methods=["GET"])
@endpoint(stats_api, role=Role.viewer, response="stats.Backlog")
def backlog(call: Call) -> Reply:
    """Pending notifications (total, top 20 channels, oldest), running exports and purge runs."""
    return _reply(*get_deps().stats_reader.backlog())
