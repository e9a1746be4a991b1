"""The operator console: one page, its script and its style, served by the API itself.

The page needs nothing but this API: no CDN, no external font, no inline script. A strict
Content-Security-Policy says so to the browser. The files live in ``chalicelib/console/``
(packaged with the functions) and are read on first request, then kept for the container.
The script is the concatenation of ``console/js/*.js`` in name order (no build step).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from chalice.app import Response

from chalicelib.api.blueprint import ApiBlueprint
from chalicelib.auth import api_key_authorizer
from chalicelib.domain.common import Role
from chalicelib.http import Call, endpoint

# The console page and its assets sit outside /system; /system/me is its one API route.
console_api = ApiBlueprint(__name__, "", public=True)

ASSETS = Path(__file__).resolve().parent.parent / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@cache
def asset(name: str) -> str:
    if name == "app.js":
        parts = sorted((ASSETS / "js").glob("*.js"))
        return "\n".join(part.read_text(encoding="utf-8") for part in parts)
    return (ASSETS / name).read_text(encoding="utf-8")


def _file(name: str, media_type: str, cache_control: str) -> Response:
    headers: dict[str, str | list[str]] = {
        **HEADERS,
        "Content-Type": f"{media_type}; charset=utf-8",
        "Cache-Control": cache_control,
    }
    return Response(body=asset(name), status_code=200, headers=headers)


@console_api.route("/console", methods=["GET"])
@endpoint(console_api, role=None, media_type="text/html")
def console_page(call: Call) -> Response:
    """The operator console (a single page; it asks for an API key)."""
    return _file("index.html", "text/html", "no-store")


@console_api.route("/console/app.js", methods=["GET"])
@endpoint(console_api, role=None, media_type="text/javascript")
def console_script(call: Call) -> Response:
    """The console's script."""
    return _file("app.js", "text/javascript", "no-cache")


@console_api.route("/console/app.css", methods=["GET"])
@endpoint(console_api, role=None, media_type="text/css")
def console_style(call: Call) -> Response:
    """The console's style sheet."""
    return _file("app.css", "text/css", "no-cache")


@console_api.route("/system/me", methods=["GET"], authorizer=api_key_authorizer)
@endpoint(console_api, role=Role.viewer, response=dict[str, Any])
def whoami(call: Call) -> dict[str, Any]:
    """The calling key: its id, name and role (the console offers what the role may do)."""
    principal = call.principal
    return {"key_id": principal.key_id, "name": principal.name, "role": principal.role.value}
