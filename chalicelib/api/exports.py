"""Routes of this capability (filled in by its issue)."""

from chalice.app import Blueprint

exports_api = Blueprint(__name__)
