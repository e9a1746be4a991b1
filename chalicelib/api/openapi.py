"""The API's own description, ``GET /system/openapi.json``: public, generated once per container."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.http import Call, endpoint

openapi_api = ApiBlueprint(__name__, "/system", public=True)

_cache: dict[int, dict[str, Any]] = {}
_lock = threading.Lock()


def document_for(app: Any) -> dict[str, Any]:
    """The OpenAPI document of ``app``, built on first use and kept for the container's life."""
    with _lock:
        if id(app) not in _cache:
            from chalicelib.openapi import build_document

            _cache[id(app)] = build_document(app.routes)
        return _cache[id(app)]


@openapi_api.route("/openapi.json", methods=["GET"])
@endpoint(openapi_api, role=None, response=dict[str, Any])
def openapi_document(call: Call) -> dict[str, Any]:
    """This API as an OpenAPI 3.1 document; no token needed."""
    return document_for(openapi_api.current_app)
