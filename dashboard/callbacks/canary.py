"""Callbacks of the canary page (placeholder until its issue is built)."""

from __future__ import annotations

from typing import Any

from dash import Dash

from dashboard.config import Settings
from dashboard.services import Services


def page_for(path: str, search: str, settings: Settings) -> Any | None:
    return None


def register(app: Dash, services: Services, settings: Settings) -> None:
    return None
