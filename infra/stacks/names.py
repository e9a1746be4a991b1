"""Physical names of a stage's resources, and the ``VALHALLA_*`` variables that carry them.

The names come from :func:`chalicelib.settings.load_settings` for ``VALHALLA_STAGE=<stage>``
(``valhalla-dev-api-keys``, ``valhalla-dev-notifications``...), so the stack, the
functions and an operator's shell with ``VALHALLA_STAGE=dev`` agree without a lookup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from chalicelib.queues import dead_letter_queue_name  # noqa: F401
from chalicelib.settings import QUEUES, TABLES, Settings, load_settings, reset_settings

APP_NAME = "valhalla"


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def function_name(stage: str, logical_id: str) -> str:
    """Lambda functions get fixed names, so their log groups can be created (with retention) first."""
    name = f"{stack_name(stage)}-{logical_id}"
    if len(name) > 64:
        raise ValueError(f"Lambda function name {name!r} is longer than 64 characters: shorten the handler's name")
    return name


def stage_settings(stage: str) -> Settings:
    """The settings a function of ``stage`` sees, with every name at its default."""
    names = set(TABLES.values()) | set(QUEUES.values()) | {"VALHALLA_EXPORTS_BUCKET"}
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name in names}
    saved_stage = os.environ.get("VALHALLA_STAGE")
    os.environ["VALHALLA_STAGE"] = stage
    try:
        return load_settings()
    finally:
        os.environ.update(saved)
        if saved_stage is None:
            os.environ.pop("VALHALLA_STAGE", None)
        else:
            os.environ["VALHALLA_STAGE"] = saved_stage


def name_variables(settings: Settings) -> dict[str, str]:
    """``VALHALLA_*`` variable -> physical name, for every table and queue."""
    variables = {"VALHALLA_STAGE": settings.stage}
    variables.update({var: settings.table(logical) for logical, var in TABLES.items()})
    variables.update({var: settings.queue(logical) for logical, var in QUEUES.items()})
    return variables


def apply_to_process(variables: Mapping[str, str]) -> None:
    """Make this process see the stage's names (``chalice package`` imports app.py here)."""
    os.environ.update(variables)
    reset_settings()
