"""Maintenance windows, blackouts and openings as JSON-ready documents (API and CLI alike)."""

from __future__ import annotations

from typing import Any

from medfleet.rollouts.window_tables import BlackoutPeriod, MaintenanceWindow
from medfleet.rollouts.windows import Opening, describe


def window_document(window: MaintenanceWindow) -> dict[str, Any]:
    """A window with its zone, creator and creation time."""
    return {
        "id": window.id,
        "org_id": window.org_id,
        "site_id": window.site_id,
        "department_id": window.department_id,
        "name": window.name,
        "timezone": window.site.timezone,
        "start_local": window.start_local,
        "rrule": window.rrule,
        "duration_minutes": window.duration_minutes,
        "created_by": window.creator.username,
        "created_at": window.created_at.isoformat(),
    }


def blackout_document(blackout: BlackoutPeriod) -> dict[str, Any]:
    """A blackout: local days (inclusive) of one site, or of the whole hospital."""
    return {
        "id": blackout.id,
        "org_id": blackout.org_id,
        "site_id": blackout.site_id,
        "scope": "site" if blackout.site_id is not None else "hospital",
        "first_day": blackout.first_day.isoformat(),
        "last_day": blackout.last_day.isoformat(),
        "reason": blackout.reason,
        "created_by": blackout.creator.username,
        "created_at": blackout.created_at.isoformat(),
    }


def opening_document(opening: Opening, window: MaintenanceWindow | None) -> dict[str, Any]:
    """An opening in UTC and in the site's local time (with zone abbreviations), its window,
    and the note when its start was moved by a clock change."""
    local_start, local_end = opening.local_start, opening.local_end
    return {
        "window_id": window.id if window is not None else None,
        "window": window.name if window is not None else None,
        "start": opening.start.isoformat(),
        "end": opening.end.isoformat(),
        "timezone": opening.timezone,
        "local_start": local_start.isoformat(),
        "local_end": local_end.isoformat(),
        "zone_start": local_start.tzname(),
        "zone_end": local_end.tzname(),
        "duration_minutes": int(opening.duration.total_seconds() // 60),
        "adjusted": opening.adjusted,
        "text": describe(opening),
    }
