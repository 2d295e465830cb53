"""HTTP endpoints of the risk file domain (filled in by the change-control work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/risk", tags=["risk file"])
