"""HTTP: blueprints, the access policy, error mapping."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register blueprints (filled in as features land)."""
