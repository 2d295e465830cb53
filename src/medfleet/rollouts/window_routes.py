"""HTTP endpoints of maintenance windows (filled in by the windows work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["windows"])
