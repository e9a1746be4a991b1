"""The Chalice app over HTTP, through Chalice's local gateway (which runs the built-in authorizer).

Requests are served on threads, so a slow one does not hold up the others; errors
the gateway makes itself (no token, unknown route) come out in the one error shape,
as the API Gateway gateway responses of :mod:`chalicelib.local.gateway` do in AWS.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalChalice, LocalGatewayException, RouteMatcher, ThreadedHTTPServer

from chalicelib.local.gateway import INTERNAL_ERROR, gateway_error, method_not_allowed
from chalicelib.local.runtime import ThreadLocalLambdaContext


class StackRequestHandler(ChaliceRequestHandler):
    app_object: Chalice

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.app_object = app_object  # before the base class handles the request
        super().__init__(request, client_address, server, app_object=app_object, config=config)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        status, headers, body = gateway_error(error.CODE, dict(error.headers))
        self._send_http_response(status, dict(headers), body)

    def _generic_handle(self) -> None:
        allowed = self._allowed_methods()
        if allowed is not None and self.command not in allowed:
            self._refuse_method(allowed)
            return
        try:
            super()._generic_handle()
        except Exception:
            body = json.dumps({"status_code": 500, "detail": INTERNAL_ERROR}).encode()
            self._send_http_response(500, {"Content-Type": "application/json"}, body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 to a verb without a ``do_<VERB>`` method (TRACE, CONNECT,
        # anything made up); API Gateway's ``ANY`` methods answer 405, and so does this.
        if name.startswith("do_"):
            return self._refuse_unknown_method
        raise AttributeError(name)

    def _allowed_methods(self) -> set[str] | None:
        """The methods the request's path serves; ``None`` when no route matches (the gateway's 404)."""
        routes = self.app_object.routes
        try:
            matched = RouteMatcher(list(routes)).match_route(self.path)
        except ValueError:
            return None
        return set(routes[matched.route])

    def _refuse_unknown_method(self) -> None:
        self._refuse_method(self._allowed_methods() or set())

    def _refuse_method(self, allowed: set[str]) -> None:
        # The body is not read: close the connection rather than parse what follows it.
        self.close_connection = True
        status, headers, body = method_not_allowed(allowed)
        self._send_http_response(status, {**headers, "Connection": "close"}, body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: every request is logged by the app itself."""


class _Server(ThreadedHTTPServer):
    allow_reuse_address = True


class LocalStackChalice(ThreadLocalLambdaContext, LocalChalice):
    """The served app: per-thread ``current_request`` and ``lambda_context``."""


def serve_locally(app: Chalice) -> type:
    """Switch ``app`` to per-thread request state (as ``chalice local`` does); its old class is returned."""
    original = type(app)
    if not isinstance(app, LocalStackChalice):
        app.__class__ = type("LocalStack" + original.__name__, (LocalStackChalice, original), {})
    return original


class HttpServer:
    def __init__(self, app: Chalice, config: Config, host: str, port: int) -> None:
        handler = functools.partial(StackRequestHandler, app_object=app, config=config)
        self.server = _Server((host, port), handler)
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
