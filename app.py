"""Valhalla Ops: the routing table. Blueprints and event handlers, nothing else.

Each event handler imports its worker when it runs, so the API's cold start does not
pay for the delivery, export and purge code.
"""

from chalice import Chalice, Rate

from chalicelib.api.audit import audit_api
from chalicelib.api.channel_health import channel_health_api
from chalicelib.api.console import console_api
from chalicelib.api.events import events_api
from chalicelib.api.exports import exports_api
from chalicelib.api.health import health_api
from chalicelib.api.keys import keys_api
from chalicelib.api.maintenance import maintenance_api
from chalicelib.api.notify import notify_api
from chalicelib.api.openapi import openapi_api
from chalicelib.api.replays import replays_api
from chalicelib.api.retention import retention_api
from chalicelib.api.stats import stats_api
from chalicelib.auth import auth_blueprint
from chalicelib.errors import normalise_framework_errors
from chalicelib.settings import get_settings

# Logs go through the Powertools logger only (chalicelib.logs); Chalice would print each line twice.
app = Chalice(app_name="valhalla", configure_logs=False)
app.api.cors = False

app.register_blueprint(auth_blueprint)
for blueprint in (
    health_api,
    openapi_api,
    maintenance_api,
    keys_api,
    audit_api,
    notify_api,
    channel_health_api,
    replays_api,
    exports_api,
    retention_api,
    stats_api,
    console_api,
    events_api,
):
    app.register_blueprint(blueprint, url_prefix=blueprint.url_prefix)


@app.middleware("http")
def one_error_shape(event, get_response):  # type: ignore[no-untyped-def]
    return normalise_framework_errors(get_response(event))


@app.on_sqs_message(queue=get_settings().queue("notifications"), batch_size=10)
def deliver_notifications(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import notifications as notification_worker

    # Event handlers get their Lambda context on the event (app.lambda_context is HTTP-only).
    remaining = event.context.get_remaining_time_in_millis if event.context is not None else None
    return notification_worker.deliver(event, remaining_ms=remaining)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_notifications(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import notifications as notification_worker

    notification_worker.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_events(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import events as events_worker

    events_worker.sweep()


@app.schedule(get_settings().purge_schedule)
def purge_expired(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import retention as retention_worker

    return retention_worker.run_scheduled_purge(retention_worker.budget_for(event.context))


@app.on_sqs_message(queue=get_settings().queue("purge"), batch_size=1)
def process_purge_runs(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import retention as retention_worker

    return retention_worker.handle_purge_event(event, retention_worker.budget_for(event.context))


@app.on_sqs_message(queue=get_settings().queue("exports"), batch_size=1)
def run_export(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import exports as export_worker

    return export_worker.handle_export_event(event)


@app.on_sqs_message(queue=get_settings().queue("replays"), batch_size=1)
def run_replays(event):  # type: ignore[no-untyped-def]
    from chalicelib.workers import replays as replay_worker

    remaining = event.context.get_remaining_time_in_millis if event.context is not None else None
    return replay_worker.handle(event, remaining_ms=remaining)
