"""HTTP endpoints of the device-model catalogue (filled in by the fleet-inventory work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["fleet"])
