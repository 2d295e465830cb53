"""HTTP endpoints of downtime and CMMS reports (filled in by the downtime work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["reports"])
