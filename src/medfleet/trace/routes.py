"""HTTP endpoints of the traceability domain (filled in by the change-control work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/trace", tags=["traceability"])
