"""Imports every domain's tables so that ``Base.metadata`` is complete.

Alembic's autogenerate and the drift test compare the migrations against this metadata.
"""

from __future__ import annotations

from medfleet.accounts import tables as accounts_tables
from medfleet.audit import tables as audit_tables
from medfleet.changes import regulatory_tables
from medfleet.changes import tables as changes_tables
from medfleet.db.base import Base
from medfleet.fleet import downtime_tables
from medfleet.fleet import tables as fleet_tables
from medfleet.releases import tables as releases_tables
from medfleet.risk import tables as risk_tables
from medfleet.rollouts import acceptance_tables, window_tables
from medfleet.rollouts import tables as rollout_tables
from medfleet.trace import tables as trace_tables
from medfleet.vulns import tables as vulns_tables

metadata = Base.metadata
__all__ = [
    "acceptance_tables",
    "accounts_tables",
    "audit_tables",
    "changes_tables",
    "downtime_tables",
    "fleet_tables",
    "metadata",
    "regulatory_tables",
    "releases_tables",
    "risk_tables",
    "rollout_tables",
    "trace_tables",
    "vulns_tables",
    "window_tables",
]
