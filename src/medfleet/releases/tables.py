"""Tables of release records (filled in by the change-control work)."""

from __future__ import annotations
