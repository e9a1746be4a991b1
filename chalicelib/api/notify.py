"""Routes of this capability (filled in by its issue)."""

from chalice.app import Blueprint

notify_api = Blueprint(__name__)
