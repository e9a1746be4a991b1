"""System events: their types, subscriptions, the filter tester, the event log and resends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.clock import isoformat
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.errors import ValidationFailed
from chalicelib.http import Call, endpoint, path_id
from chalicelib.shield import exempt_from_shield, shield

if TYPE_CHECKING:
    from chalicelib.domain.event_subscriptions import (
        EventQuery,
        EventView,
        FilterResult,
        FilterTest,
        SentEvent,
        SubscriptionView,
        TestEvent,
        UpdateSubscription,
    )
    from chalicelib.domain.schema import PageQuery
    from chalicelib.store.events import EventItem

# The models and the event catalogue are imported by the views that use them: a cold start
# builds only what its request needs (see chalicelib.domain.common.resolve_model).

events_api = ApiBlueprint(__name__, "/system/events")
SUBSCRIPTIONS = "/subscriptions"


@events_api.route("/types", methods=["GET"])
@endpoint(events_api, role=Role.viewer, response="event_subscriptions.EventTypes")
def list_types(call: Call) -> dict[str, Any]:
    """Every event type, with the JSON Schema of its data."""
    from chalicelib.domain.event_subscriptions import EventTypeView
    from chalicelib.domain.events import EVENT_TYPES

    items = [
        EventTypeView(type=name, description=kind.description, schema=kind.schema_document()).model_dump(by_alias=True)
        for name, kind in EVENT_TYPES.items()
    ]
    return {"items": items}


@events_api.route(SUBSCRIPTIONS, methods=["POST"])
@endpoint(
    events_api,
    role=Role.admin,
    status=201,
    body="event_subscriptions.CreateSubscription",
    response="event_subscriptions.SubscriptionView",
    errors=(409,),
)
@shield
def create_subscription(call: Call) -> SubscriptionView:
    """Subscribe channels (1 to 10) to event types (exact, or a trailing '*'), with an optional filter."""
    created = get_deps().subscriptions.create(call.body())
    call.audit("event_subscription.create", "event_subscription", created.id, {"name": created.name})
    return created


@events_api.route(SUBSCRIPTIONS, methods=["GET"])
@endpoint(
    events_api, role=Role.viewer, query="schema.PageQuery", response=PageOf("event_subscriptions.SubscriptionView")
)
def list_subscriptions(call: Call) -> dict[str, Any]:
    """Subscriptions by id."""
    query: PageQuery = call.query()
    return page_body(*get_deps().subscriptions.page(query.limit, query.cursor))


@events_api.route(SUBSCRIPTIONS + "/{subscription_id}", methods=["GET"])
@endpoint(events_api, role=Role.viewer, response="event_subscriptions.SubscriptionView", errors=(404,))
def get_subscription(call: Call, subscription_id: str) -> SubscriptionView:
    """One subscription."""
    return get_deps().subscriptions.get(path_id(subscription_id, "subscription_id"))


@events_api.route(SUBSCRIPTIONS + "/{subscription_id}", methods=["PATCH"])
@endpoint(
    events_api,
    role=Role.admin,
    body="event_subscriptions.UpdateSubscription",
    response="event_subscriptions.SubscriptionView",
    errors=(404,),
)
@shield
def update_subscription(call: Call, subscription_id: str) -> SubscriptionView:
    """Change a subscription's channels, event types, filter (null removes it) or enabled flag."""
    identifier = path_id(subscription_id, "subscription_id")
    change: UpdateSubscription = call.body()
    updated = get_deps().subscriptions.update(identifier, change)
    call.audit("event_subscription.update", "event_subscription", identifier, sorted(change.model_fields_set))
    return updated


@events_api.route(SUBSCRIPTIONS + "/{subscription_id}", methods=["DELETE"])
@endpoint(events_api, role=Role.admin, response="event_subscriptions.SubscriptionView", errors=(404,))
@shield
def delete_subscription(call: Call, subscription_id: str) -> SubscriptionView:
    """Delete a subscription: its events stop (other containers within the config cache bound)."""
    identifier = path_id(subscription_id, "subscription_id")
    deps = get_deps()
    view = deps.subscriptions.get(identifier)
    deps.subscriptions.delete(identifier)
    call.audit("event_subscription.delete", "event_subscription", identifier, {"name": view.name})
    return view


@events_api.route(SUBSCRIPTIONS + "/{subscription_id}/test", methods=["POST"])
@endpoint(
    events_api,
    role=Role.admin,
    status=202,
    body="event_subscriptions.TestEvent",
    response="event_subscriptions.SentEvent",
    errors=(404,),
)
@shield
def test_subscription(call: Call, subscription_id: str) -> SentEvent:
    """Send an example event of a type the subscription takes to its channels (its filter not applied)."""
    from chalicelib.domain.event_subscriptions import SentEvent
    from chalicelib.domain.events import any_pattern_matches

    identifier = path_id(subscription_id, "subscription_id")
    request: TestEvent = call.body()
    deps = get_deps()
    subscription = deps.subscriptions.snapshot(identifier)
    if not any_pattern_matches(list(subscription.event_types), request.event_type):
        raise ValidationFailed.single(
            ["body", "event_type"], f"Subscription {identifier} does not take {request.event_type} events."
        )
    event_id, notification_ids = deps.events.send_test(identifier, subscription.channel_ids, request.event_type)
    return SentEvent(event_id=event_id, notification_ids=notification_ids)


@events_api.route("/filters/test", methods=["POST"])
@endpoint(
    events_api, role=Role.viewer, body="event_subscriptions.FilterTest", response="event_subscriptions.FilterResult"
)
@exempt_from_shield
def test_filter(call: Call) -> FilterResult:
    """Whether a filter matches an event envelope (writes nothing, so it works in every mode)."""
    from chalicelib.domain import event_filters
    from chalicelib.domain.event_subscriptions import FilterResult, filter_problems

    request: FilterTest = call.body()
    problems = filter_problems(request.filter, ["body", "filter"])
    if problems:
        raise ValidationFailed(problems)
    return FilterResult(matches=event_filters.matches(request.filter, request.event))


def event_view(item: EventItem, role: Role) -> EventView:
    from chalicelib.domain.disclosure import event_data_for
    from chalicelib.domain.event_subscriptions import EventView
    from chalicelib.services.events import stored_envelope

    envelope = stored_envelope(item)
    return EventView(
        **{**envelope, "data": event_data_for(role, envelope.get("data"))},
        notification_ids=[int(value) for value in item.notification_ids or []],
        fanout="pending" if item.fanout_state else "done",
    )


@events_api.route("/", methods=["GET"])
@endpoint(
    events_api,
    role=Role.viewer,
    query="event_subscriptions.EventQuery",
    response=PageOf("event_subscriptions.EventView"),
)
def list_events(call: Call) -> dict[str, Any]:
    """The event log, newest first, by type and time; each event with the notifications it made."""
    from chalicelib.domain.events import EVENT_TYPES

    query: EventQuery = call.query()
    if query.type is not None and query.type not in EVENT_TYPES:
        raise ValidationFailed.single(["query", "type"], f"Unknown event type {query.type!r}.")
    since = isoformat(query.since) if query.since else None
    until = isoformat(query.until) if query.until else None
    items, cursor = get_deps().events.log.page(query.type, since, until, query.limit, query.cursor)
    return page_body([event_view(item, call.principal.role) for item in items], cursor)


@events_api.route("/{event_id}", methods=["GET"])
@endpoint(events_api, role=Role.viewer, response="event_subscriptions.EventView", errors=(404,))
def get_event(call: Call, event_id: str) -> EventView:
    """One event with the notifications it made."""
    return event_view(get_deps().events.get(_event_id(event_id)), call.principal.role)


@events_api.route("/{event_id}/resend", methods=["POST"])
@endpoint(events_api, role=Role.operator, status=202, response="event_subscriptions.SentEvent", errors=(404,))
@shield
def resend(call: Call, event_id: str) -> SentEvent:
    """Fan an event out again to the subscriptions that want it today."""
    from chalicelib.domain.event_subscriptions import SentEvent

    identifier, notification_ids = get_deps().events.resend(_event_id(event_id))
    call.audit("event.resend", "event", identifier, {"notification_ids": notification_ids})
    return SentEvent(event_id=identifier, notification_ids=notification_ids)


def _event_id(raw: str) -> str:
    from chalicelib.domain.events import EVENT_ID_PREFIX

    if not raw.startswith(EVENT_ID_PREFIX) or len(raw) > 64 or not raw[len(EVENT_ID_PREFIX) :].isalnum():
        raise ValidationFailed.single(["path", "event_id"], "Must be an event id (evt_...).")
    return raw
