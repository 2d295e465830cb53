"""Tables of the trace domain (filled in by the change-control work)."""

from __future__ import annotations
