"""What a cold start imports: the routing table, not the models, the store or the services.

Every Lambda of the app imports ``app`` on a cold start. The routes name their models as
"module.Model" (chalicelib.domain.common.resolve_model) and reach services through
``get_deps()``, so the request that follows builds only what it uses. An eager import in
an API module would quietly put them all back on every cold start; this test notices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Light modules the routing table itself needs: roles, errors, the shield's modes, and the
# hook through which deps hands the event bus to emitters. Base models (domain.schema) are
# not among them: no model class is built at import.
ALLOWED_DOMAIN = {"common", "errors", "jsonsafe", "maintenance_mode"}
ALLOWED_SERVICES = {"emitting"}


def modules_after_import_app() -> set[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VALHALLA_STAGE": "local",
        "PYTHONPATH": str(ROOT),
    }
    code = "import json, sys\nimport app\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_app_builds_no_model_module_and_touches_no_store() -> None:
    loaded = modules_after_import_app()
    own = {name for name in loaded if name.startswith("chalicelib.")}
    assert "chalicelib.api.notify" in own and "chalicelib.api.exports" in own  # the routes are registered

    domain = {name.split(".")[2] for name in own if name.startswith("chalicelib.domain.")}
    services = {name.split(".")[2] for name in own if name.startswith("chalicelib.services.")}
    assert domain <= ALLOWED_DOMAIN, f"models built at import: {sorted(domain - ALLOWED_DOMAIN)}"
    assert services <= ALLOWED_SERVICES, f"services imported at import: {sorted(services - ALLOWED_SERVICES)}"
    assert not {name for name in own if name.startswith(("chalicelib.store", "chalicelib.workers"))}
    assert "boto3" not in loaded and "pynamodb.models" not in loaded  # clients and tables come on first use


def test_every_route_model_name_resolves() -> None:
    from app import app
    from chalicelib.http import RouteDoc

    named = 0
    for methods in app.routes.values():
        for entry in methods.values():
            doc = getattr(entry.view_function, "__valhalla_route__", None) or RouteDoc()
            for ref, model in ((doc.body_ref, doc.body), (doc.query_ref, doc.query)):
                if isinstance(ref, str):
                    named += 1
                    assert model is not None and model.__name__ == ref.rsplit(".", 1)[1]
            if doc.response_ref is not None:
                assert doc.response_model is not None
    assert named > 10
