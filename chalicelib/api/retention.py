"""Routes of this capability (filled in by its issue)."""

from chalice.app import Blueprint

retention_api = Blueprint(__name__)
