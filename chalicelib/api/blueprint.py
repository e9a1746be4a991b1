"""A blueprint that carries its URL prefix and puts the API-key authorizer on every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Blueprint

from chalicelib.auth import api_key_authorizer


class ApiBlueprint(Blueprint):
    """Routes are written relative to ``url_prefix``; ``public`` blueprints have no authorizer."""

    def __init__(self, import_name: str, url_prefix: str, *, public: bool = False) -> None:
        super().__init__(import_name)
        self.url_prefix = url_prefix
        self.public = public

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        # A full path here would be served under the prefix twice: refuse it at import.
        if self.url_prefix.startswith("/system") and path.startswith("/system"):
            raise ValueError(f"route {path!r}: write it relative to the blueprint's prefix {self.url_prefix!r}")
        if not self.public:
            kwargs.setdefault("authorizer", api_key_authorizer)
        return super().route(path, **kwargs)
