"""The HTTP side of the CLI: one session, the bearer token, the API's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 30


class ApiFailure(Exception):
    """The API answered an error (or could not be reached): exit 1 with its ``detail``."""

    def __init__(self, status: int | None, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass
class ApiClient:
    url: str
    token: str | None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session = requests.Session()
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        clean = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = self.session.request(
                method, self.url + path, json=json, params=clean or None, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            raise ApiFailure(None, f"Cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text or response.reason
            raise ApiFailure(response.status_code, detail)
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def stream(self, url: str) -> tuple[int | None, Iterator[bytes]]:
        """A download by URL (a presigned S3 link: no bearer token), as its size and chunks."""
        try:
            response = requests.get(url, stream=True, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise ApiFailure(None, f"Cannot download: {exc}") from None
        if response.status_code >= 400:
            raise ApiFailure(response.status_code, f"Download refused: {response.text[:200]}")
        size = response.headers.get("Content-Length")
        return (int(size) if size and size.isdigit() else None), response.iter_content(chunk_size=64 * 1024)
