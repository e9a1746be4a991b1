from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.deps import get_deps
from chalicelib.domain.common import PageOf, Role, page_body
from chalicelib.http import Call, endpoint, path_id
from chalicelib.shield import shield

if TYPE_CHECKING:
    from chalicelib.domain.keys import ApiKeyView, CreatedKey
    from chalicelib.domain.schema import PageQuery

keys_api = ApiBlueprint(__name__, "/system/keys")


@keys_api.route("/", methods=["POST"])
@endpoint(keys_api, role=Role.admin, status=201, body="keys.CreateKey", response="keys.CreatedKey", errors=(409,))
@shield
def create_key(call: Call) -> CreatedKey:
    """Create an API key; its token is in this response only. Names are unique, revoked keys' too (409)."""
    created = get_deps().keys.create(call.body(), created_by=call.principal.name)
    call.audit("key.create", "api_key", created.id, {"name": created.name, "role": created.role.value})
    from chalicelib.services.event_sources import announce_key  # on first use: not on every cold start

    announce_key(created, call.principal.name, created=True)
    return created


@keys_api.route("/", methods=["GET"])
@endpoint(keys_api, role=Role.admin, query="schema.PageQuery", response=PageOf("keys.ApiKeyView"))
def list_keys(call: Call) -> dict[str, Any]:
    """List API keys (never their tokens)."""
    page: PageQuery = call.query()
    return page_body(*get_deps().keys.page(page.limit, page.cursor))


@keys_api.route("/{key_id}", methods=["DELETE"])
@endpoint(keys_api, role=Role.admin, response="keys.ApiKeyView", errors=(404,))
@shield
def revoke_key(call: Call, key_id: str) -> ApiKeyView:
    """Revoke an API key: it stops working at once (other containers: within VALHALLA_CONFIG_CACHE_SECONDS)."""
    revoked = get_deps().keys.revoke(path_id(key_id, "key_id"))
    call.audit("key.revoke", "api_key", revoked.id, {"name": revoked.name})
    from chalicelib.services.event_sources import announce_key

    announce_key(revoked, call.principal.name, created=False)
    return revoked
