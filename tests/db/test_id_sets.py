"""``db.id_sets.one_of`` selects exactly the given ids, for empty and very large sets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

from medfleet.accounts.model import OrgKind
from medfleet.accounts.tables import Organization
from medfleet.db.engine import transaction
from medfleet.db.id_sets import one_of
from medfleet.runtime import Runtime

ROWS = 40_000  # above SQLite's default limit of 32,766 bound parameters


@pytest.fixture
def organizations(runtime: Runtime) -> list[int]:
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        session.execute(
            insert(Organization),
            [
                {"name": f"Org {n}", "kind": OrgKind.HOSPITAL, "created_at": now}
                for n in range(ROWS)
            ],
        )
        return list(session.scalars(select(Organization.id).order_by(Organization.id)))


def selected(runtime: Runtime, ids: set[int]) -> list[int]:
    with transaction(runtime.sessions) as session:
        return list(
            session.scalars(
                select(Organization.id)
                .where(one_of(session, Organization.id, ids))
                .order_by(Organization.id)
            )
        )


def test_every_other_id_of_a_large_set(runtime: Runtime, organizations: list[int]) -> None:
    wanted = set(organizations[::2]) | {-1}
    assert selected(runtime, wanted) == organizations[::2]


def test_an_empty_set_selects_nothing(runtime: Runtime, organizations: list[int]) -> None:
    assert selected(runtime, set()) == []
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == len(organizations)
