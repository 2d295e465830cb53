"""Campaign tables (filled in by the campaigns work)."""

from __future__ import annotations
