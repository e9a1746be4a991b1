"""Valhalla Ops: the operations backend (notifications, exports, retention, shield)."""

VERSION = "0.1.0"
