"""Install downtime tables (filled in by the downtime work)."""

from __future__ import annotations
