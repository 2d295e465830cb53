"""Maintenance-window tables (filled in by the windows work)."""

from __future__ import annotations
