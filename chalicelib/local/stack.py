"""The whole system on one machine: embedded AWS, the API over HTTP, queue pumps, the scheduler.

``python -m chalicelib.local`` runs it until Ctrl-C; tests and scripts use
:class:`LocalStack` directly::

    with LocalStack(port=0) as stack:
        requests.get(stack.base_url + "/system/health")
"""

from __future__ import annotations

import importlib
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from chalice.app import Chalice
from chalice.config import Config

from chalicelib.clock import Clock, utcnow
from chalicelib.local.emulator import EmbeddedAws, Environment, point_at
from chalicelib.local.pumps import SqsPump, sqs_sources
from chalicelib.local.runtime import DEFAULT_BUDGET_SECONDS, function_name
from chalicelib.local.scheduler import Scheduler
from chalicelib.local.server import HttpServer, serve_locally

PROJECT_DIR = Path(__file__).resolve().parents[2]
ADMIN_KEY_NAME = "local-admin"
Log = Callable[[str], None]


def print_line(line: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {line}", flush=True)


def reset_caches() -> None:
    """Forget settings, services, boto3 clients and PynamoDB connections (the endpoint changed)."""
    from chalicelib.aws import reset_clients
    from chalicelib.deps import reset_deps
    from chalicelib.settings import reset_settings
    from chalicelib.store.models import reset_connections

    reset_settings()
    reset_deps()
    reset_clients()
    reset_connections()


def chalice_config_file(project_dir: Path) -> dict[str, Any]:
    path = project_dir / ".chalice" / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def stage_environment(config: dict[str, Any], stage: str) -> dict[str, str]:
    """The environment a deployed function of ``stage`` would have, from ``.chalice/config.json``."""
    values = dict(config.get("environment_variables", {}))
    values.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return {str(name): str(value) for name, value in values.items()}


class LocalStack:
    def __init__(
        self,
        app: Chalice | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        aws_port: int = 0,
        stage: str = "local",
        admin_token: str | None = None,
        log: Log = print_line,
        clock: Clock = utcnow,
        project_dir: Path = PROJECT_DIR,
        run_event_sources: bool = True,
    ) -> None:
        """``run_event_sources=False``: pumps and scheduler are built but not run (tests drive them)."""
        self._app = app
        self.host = host
        self.requested_port = port
        self.aws_port = aws_port
        self.stage = stage
        self._admin_token = admin_token
        self.log = log
        self.clock = clock
        self.project_dir = project_dir
        self.run_event_sources = run_event_sources
        self.environment = Environment()
        self.aws: EmbeddedAws | None = None
        self.http: HttpServer | None = None
        self.pumps: list[SqsPump] = []
        self.scheduler: Scheduler | None = None
        self.admin_token = ""
        self.admin_token_generated = False
        self.startup_seconds = 0.0
        self._original_class: type | None = None
        self._lock = threading.Lock()
        self._running = False

    # --- lifecycle ---

    def start(self) -> LocalStack:
        with self._lock:
            if self._running:
                return self
            started = time.perf_counter()
            try:
                self._start()
            except BaseException:
                self._stop()
                raise
            self._running = True
            self.startup_seconds = time.perf_counter() - started
        self._announce()
        if self.run_event_sources:
            for pump in self.pumps:
                pump.start()
            if self.scheduler is not None:
                self.scheduler.start()
        return self

    def _start(self) -> None:
        disk_config = chalice_config_file(self.project_dir)
        self.environment.update_defaults(stage_environment(disk_config, self.stage))
        self.environment.default("VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS", "true")
        self.aws = EmbeddedAws(self.host, self.aws_port)
        point_at(self.environment, self.aws.start())
        reset_caches()

        from chalicelib.resources import create_all
        from chalicelib.settings import get_settings

        create_all()
        self._create_admin_key(self._admin_token or get_settings().local_admin_token)

        app = self.app
        self._original_class = serve_locally(app)
        config = Config(
            chalice_stage=self.stage,
            user_provided_params={"project_dir": str(self.project_dir), "chalice_app": app},
            config_from_disk=disk_config,
        )
        self.http = HttpServer(app, config, self.host, self.requested_port)
        self.http.start()
        self._create_event_sources(app, config)

    def _create_admin_key(self, token: str | None) -> None:
        from chalicelib.deps import get_deps
        from chalicelib.domain.common import Role
        from chalicelib.domain.keys import CreateKey

        self.admin_token_generated = not token
        created = get_deps().keys.create(
            CreateKey(name=ADMIN_KEY_NAME, role=Role.admin),
            created_by="local-stack",
            token=token or "vk_" + secrets.token_urlsafe(32),
        )
        self.admin_token = created.token

    def _create_event_sources(self, app: Chalice, config: Config) -> None:
        from chalicelib.aws import client
        from chalicelib.settings import get_settings
        from chalicelib.workers.notifications import write_held_tallies

        region = get_settings().region

        def budget(name: str) -> int:
            scoped = config.scope(self.stage, name).lambda_timeout
            return int(scoped) if scoped else DEFAULT_BUDGET_SECONDS

        self.pumps = [
            SqsPump(
                app,
                source,
                sqs=client("sqs"),
                stage=self.stage,
                region=region,
                log=self.log,
                budget_seconds=budget(source.name),
                concurrency=get_settings().local_pump_concurrency,
                # Lambda writes a container's held tallies with its next batch; locally, once idle.
                on_idle=write_held_tallies if source.handler_string == "app.deliver_notifications" else None,
            )
            for source in sqs_sources(app)
        ]
        self.scheduler = Scheduler(app, stage=self.stage, region=region, log=self.log, clock=self.clock)

    def stop(self) -> None:
        with self._lock:
            self._stop()
            self._running = False

    def _stop(self) -> None:
        workers: list[SqsPump | Scheduler] = [*self.pumps, *([self.scheduler] if self.scheduler else [])]
        for worker in workers:
            worker.signal_stop()
        if self.http is not None:
            self.http.stop()
            self.http = None
        for worker in workers:
            worker.join(10)
        self.pumps, self.scheduler = [], None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self._original_class is not None and self._app is not None:
            self._app.__class__ = self._original_class
            self._original_class = None
        self.environment.restore()
        reset_caches()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- what callers need ---

    @property
    def app(self) -> Chalice:
        if self._app is None:
            if str(self.project_dir) not in sys.path:
                sys.path.insert(0, str(self.project_dir))
            self._app = importlib.import_module("app").app
        return self._app

    @property
    def base_url(self) -> str:
        if self.http is None:
            raise RuntimeError("the local stack is not running")
        return self.http.base_url

    @property
    def endpoint_url(self) -> str:
        if self.aws is None:
            raise RuntimeError("the local stack is not running")
        return self.aws.endpoint_url

    def banner(self) -> list[str]:
        """The first lines: where it listens and how to authenticate, then what runs."""
        from chalicelib.settings import get_settings

        settings = get_settings()
        if self.admin_token_generated:
            token, origin = self.admin_token, "an admin key made for this run; set VALHALLA_ADMIN_TOKEN to choose it"
        else:
            token, origin = "$VALHALLA_ADMIN_TOKEN", "the admin key you chose"
        private = "allowed" if settings.allow_private_webhook_targets else "refused"
        pumps = ", ".join(f"{pump.queue_name} -> {pump.name}" for pump in self.pumps) or "none"
        schedules = ", ".join(f"{job.name} {job.expression}" for job in self.scheduler.jobs) if self.scheduler else ""
        return [
            f"Valhalla Ops local stack listening on {self.base_url} - "
            f"authenticate with the header 'Authorization: Bearer {token}' ({origin}); "
            f"operator console: {self.base_url}/console (sign in with that token)",
            f"Webhooks to private addresses (127.0.0.1, 10.x...) are {private} here: "
            f"VALHALLA_ALLOW_PRIVATE_WEBHOOK_TARGETS={str(settings.allow_private_webhook_targets).lower()}",
            f"Embedded AWS (moto) at {self.endpoint_url}, stage {self.stage}; "
            f"queue pumps: {pumps}; schedules: {schedules or 'none'}",
            f"Ready in {self.startup_seconds:.2f} s: curl {self.base_url}/system/health - stop with Ctrl-C",
        ]

    def _announce(self) -> None:
        for line in self.banner():
            self.log(line)

    def function_name(self, name: str) -> str:
        return function_name(self.app, self.stage, name)
