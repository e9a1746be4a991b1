"""An export against moto's server (as the local stack runs it): the presigned URL works over plain HTTP."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator

import pytest
import requests
from moto.server import ThreadedMotoServer

from chalicelib.deps import get_deps
from chalicelib.domain.common import SYSTEM_PRINCIPAL, Principal, Role
from chalicelib.domain.exports import CreateExport, ExportFormat
from chalicelib.resources import create_all
from tests.export_support import drain
from tests.support import reset_all


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("VALHALLA_AWS_ENDPOINT_URL", endpoint)
    reset_all(endpoint_changed=True)
    try:
        create_all()
        yield endpoint
    finally:
        server.stop()
        monkeypatch.delenv("VALHALLA_AWS_ENDPOINT_URL")
        reset_all(endpoint_changed=True)


def test_presigned_download_from_the_emulator_endpoint(moto_server: str) -> None:
    deps = get_deps()
    someone = Principal(key_id=7, name="someone", role=Role.operator)
    for mode in ("read_only", "normal"):
        deps.audit.record(someone, "maintenance.set", "maintenance_state", "current", {"mode": mode})
    today = deps.clock().strftime("%Y-%m-%d")
    request = CreateExport(
        job_type="audit_log_export",
        filter_params={"start_date": today, "end_date": today, "actor": "someone"},
        format=ExportFormat.csv,
    )
    job = deps.exports.create(request, SYSTEM_PRINCIPAL)
    assert drain() == ["completed"]
    link = deps.exports.download(job.id)
    assert link.url.startswith(moto_server + "/") and "X-Amz-Signature=" in link.url
    reply = requests.get(link.url, timeout=10)
    assert reply.status_code == 200
    lines = gzip.decompress(reply.content).decode().splitlines()
    assert lines[0].startswith("id,at,actor") and len(lines) == 3
    assert all(",someone," in line for line in lines[1:])
    done = deps.exports.get(job.id)
    manifest_url = requests.get(
        deps.exports.presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": deps.settings.exports_bucket, "Key": f"exports/{job.id}/manifest.json"},
            ExpiresIn=60,
        ),
        timeout=10,
    )
    manifest = json.loads(manifest_url.content)
    assert manifest["sha256"] == hashlib.sha256(reply.content).hexdigest()
    assert manifest["row_count"] == done.row_count == 2
