"""Structured JSON logs (AWS Lambda Powertools) shared by every module."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools import Logger


@lru_cache(maxsize=1)
def get_logger() -> Logger:
    from chalicelib.settings import get_settings

    return Logger(service="valhalla", level=get_settings().log_level)
