"""HTTP endpoints of campaigns and hospital acceptance (filled in by the campaigns work)."""

from __future__ import annotations

from fastapi import APIRouter

from medfleet.api.deps import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["rollouts"])
