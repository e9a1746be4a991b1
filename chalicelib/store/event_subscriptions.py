"""Event subscriptions, as DynamoDB items.

Hash key ``id``; every subscription also carries ``kind`` (one partition of the
``by_kind`` index, ordered by id: the table is small and read whole by the cache). A
name is unique because creating a subscription writes, in one transaction, the item
and a marker ``event-subscription-name#<casefolded name>`` in the counters table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import BooleanAttribute, JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.store.base import StoredModel, TableMeta, conditional_failed, register, shared_connection
from chalicelib.store.pagination import query_page

KIND = "subscription"
NAME_MARKER_PREFIX = "event-subscription-name#"


class SubscriptionsByKind(GlobalSecondaryIndex["SubscriptionItem"]):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


@register
class SubscriptionItem(StoredModel):
    class Meta(TableMeta):
        logical_name = "event_subscriptions"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    channel_ids = ListAttribute[int]()
    event_types = ListAttribute[str]()
    filter = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_kind = SubscriptionsByKind()


class SubscriptionNameMarker(StoredModel):
    """Not a table of its own: an ``event-subscription-name#...`` item of the counters table."""

    class Meta(TableMeta):
        logical_name = "counters"

    name = UnicodeAttribute(hash_key=True)
    subscription_id = NumberAttribute()


def _marker_key(name: str) -> str:
    return NAME_MARKER_PREFIX + name.casefold()


class NameTaken(Exception):
    pass


class SubscriptionRepo:
    def __init__(self, region: str, endpoint: str | None) -> None:
        self.region = region
        self.endpoint = endpoint

    def create(self, item: SubscriptionItem) -> None:
        """Write the subscription and its name marker together; :class:`NameTaken` if the name is used."""
        marker = SubscriptionNameMarker(_marker_key(item.name), subscription_id=item.id)
        try:
            with TransactWrite(connection=shared_connection(self.region, self.endpoint)) as transaction:
                transaction.save(marker, condition=SubscriptionNameMarker.name.does_not_exist())
                transaction.save(item, condition=SubscriptionItem.id.does_not_exist())
        except TransactWriteError as exc:
            reasons = [reason for reason in (exc.cancellation_reasons or []) if reason is not None]
            if any(reason.code == "ConditionalCheckFailed" for reason in reasons):
                raise NameTaken(item.name) from None
            raise

    def get(self, subscription_id: int) -> SubscriptionItem | None:
        try:
            return SubscriptionItem.get(subscription_id)
        except DoesNotExist:
            return None

    def update(self, item: SubscriptionItem, changes: dict[str, Any]) -> bool:
        """Apply ``{attribute: value}`` (``None`` removes); ``False`` if the subscription is gone."""
        actions: list[Any] = []
        for name, value in changes.items():
            attribute = getattr(SubscriptionItem, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        try:
            item.update(actions=actions, condition=SubscriptionItem.id.exists())
        except UpdateError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def delete(self, item: SubscriptionItem) -> None:
        """Delete the subscription and free its name, together."""
        marker = SubscriptionNameMarker(_marker_key(item.name))
        with TransactWrite(connection=shared_connection(self.region, self.endpoint)) as transaction:
            transaction.delete(item)
            transaction.delete(marker)

    def page(self, limit: int, cursor: str | None) -> tuple[list[SubscriptionItem], str | None]:
        run = lambda **page: SubscriptionItem.by_kind.query(KIND, **page)  # noqa: E731
        return query_page(run, limit, cursor, lambda item: item, "/system/events/subscriptions")

    def all(self) -> Iterator[SubscriptionItem]:
        yield from SubscriptionItem.by_kind.query(KIND, page_size=100)
