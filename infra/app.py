"""The CDK app: ``python infra/app.py`` (or ``cdk synth``) writes one stage's template.

Offline: no AWS account is needed to synthesize; ``chalice package`` fetches the
functions' dependencies from the package index.

Context (``-c key=value`` on the cdk command line, or ``STAGE`` in the environment):
``stage`` (dev | prod), ``email_sender`` (the SES identity mail comes from),
``alarm_email`` (subscribes an operator to the alarm topic), ``alarm_topic`` (true | false).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
# The repository root first, so that ``import app`` (as chalice package does) is the
# Chalice app and not this file; then this directory, for ``stacks``.
sys.path[:] = [str(ROOT)] + [path for path in sys.path if path not in (str(ROOT), str(INFRA))] + [str(INFRA)]

import aws_cdk as cdk  # noqa: E402
from stacks.config import stage_config  # noqa: E402
from stacks.names import apply_to_process, name_variables, stage_settings  # noqa: E402


def _flag(value: object) -> bool | None:
    if value is None or value == "":
        return None
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def main() -> None:
    # Absolute, because the working directory changes below.
    os.environ["CDK_OUTDIR"] = str(Path(os.environ.get("CDK_OUTDIR") or INFRA / "cdk.out").resolve())
    # chalice package resolves the region while packaging; the stack itself is region-agnostic.
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("CDK_DEFAULT_REGION", "us-east-1"))
    app = cdk.App()
    stage = stage_config(str(app.node.try_get_context("stage") or os.environ.get("STAGE") or "dev"))

    # app.py reads queue names while it is imported (by chalice package, in this process):
    # make it see this stage's names before anything imports it.
    settings = stage_settings(stage.name)
    apply_to_process(name_variables(settings))

    from stacks.valhalla import ValhallaStack

    # chalice package writes its work files under the current directory: keep them in the output.
    os.makedirs(app.outdir, exist_ok=True)
    os.chdir(app.outdir)
    ValhallaStack(
        app,
        stage,
        settings,
        source_dir=ROOT,
        email_sender=app.node.try_get_context("email_sender"),
        alarm_email=app.node.try_get_context("alarm_email"),
        alarm_topic=_flag(app.node.try_get_context("alarm_topic")),
        description=f"Valhalla Ops ({stage.name}): API, workers, tables, queues, exports bucket, alarms.",
    )
    app.synth()
    _prune_package_cache(ROOT / ".chalice" / "deployments", keep=2)


def _prune_package_cache(directory: Path, keep: int) -> None:
    """chalice package caches one 20 MB zip per version of the code; keep the newest few."""
    packages = sorted(directory.glob("*.zip"), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in packages[keep:]:
        stale.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
