"""Valhalla Ops: the routing table. Blueprints and event handlers, nothing else."""

from chalice import Chalice

from chalicelib.api.audit import audit_api
from chalicelib.api.exports import exports_api
from chalicelib.api.health import health_api
from chalicelib.api.keys import keys_api
from chalicelib.api.maintenance import maintenance_api
from chalicelib.api.notify import notify_api
from chalicelib.api.openapi import openapi_api
from chalicelib.api.retention import retention_api
from chalicelib.auth import auth_blueprint
from chalicelib.errors import normalise_framework_errors

app = Chalice(app_name="valhalla")
app.api.cors = False

for blueprint in (
    auth_blueprint,
    health_api,
    openapi_api,
    maintenance_api,
    keys_api,
    audit_api,
    notify_api,
    exports_api,
    retention_api,
):
    app.register_blueprint(blueprint)


@app.middleware("http")
def one_error_shape(event, get_response):  # type: ignore[no-untyped-def]
    return normalise_framework_errors(get_response(event))
