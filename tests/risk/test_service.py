"""Risk-file use cases on SQLite and PostgreSQL: proposals, refusals, audit, merging."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from medfleet.audit.tables import AuditEventRow
from medfleet.changes.errors import ChangeRequestNotFoundError
from medfleet.changes.tables import ChangeRequest
from medfleet.db.engine import transaction
from medfleet.risk import proposals, service
from medfleet.risk.errors import (
    DeltaClosedError,
    InvalidDeltaError,
    InvalidItemError,
    InvalidMatrixError,
    RiskItemNotFoundError,
    RiskMatrixNotFoundError,
    RiskNotAllowedError,
    StaleDeltaError,
)
from medfleet.risk.items import ItemKind
from medfleet.risk.matrix import DEFAULT_MATRIX, RiskMatrix
from medfleet.risk.model import DeltaAction
from medfleet.risk.tables import RiskItemRow
from medfleet.runtime import Runtime
from tests.builders import World
from tests.risk.helpers import HAZARD, control, counts, cr_id, open_cr, run, situation


def _released_file(runtime: Runtime, world: World) -> str:
    """CR-1 adds H-1, HS-1 (4 x 3, unacceptable) and RC-1 bringing it to 4 x 1; merged."""
    cr = open_cr(runtime, world)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.SITUATION, situation())
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.CONTROL, control("HS-1"))
    run(
        runtime,
        proposals.propose_modification,
        world.engineer,
        cr,
        "HS-1",
        {"residual_severity": 4, "residual_probability": 1},
    )
    run(runtime, service.apply_delta, world.admin.org_id, cr_id(runtime, world, cr), "user:qa")
    return cr


def test_proposals_build_one_entry_per_key(runtime: Runtime, world: World) -> None:
    cr = open_cr(runtime, world)
    added = run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    assert (added.key, added.action) == ("H-1", DeltaAction.ADDED)
    run(runtime, proposals.propose_addition, world.qa, cr, ItemKind.SITUATION, situation("h-1"))
    again = run(
        runtime, proposals.propose_modification, world.engineer, cr, "HS-1", {"severity": 5}
    )
    assert again is not None
    assert again.action is DeltaAction.ADDED  # still an addition, with the new content
    with transaction(runtime.sessions) as session:
        view = proposals.delta_view(session, world.auditor, cr)
        assert [e.key for e in view.delta.entries] == ["H-1", "HS-1"]
        assert view.delta.entries[1].after.severity == 5  # type: ignore[union-attr]
        assert view.open
        assert not view.applied
        assert view.analysis.situations[0].significant_harm
        # nothing is in the released file yet; the key exists from the proposal on
        assert service.list_items(session, world.engineer) == []
        assert service.control_keys(session, world.admin.org_id) == set()
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.CONTROL, control("HS-1"))
    with transaction(runtime.sessions) as session:
        assert service.control_keys(session, world.admin.org_id) == {"RC-1"}
        events = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.action.like("risk.%"))
        ).all()
    assert events == ["risk.delta_proposed"] * 4


def test_added_then_removed_disappears_and_keys_are_never_reused(
    runtime: Runtime, world: World
) -> None:
    cr = open_cr(runtime, world)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    assert run(runtime, proposals.propose_removal, world.engineer, cr, "H-1") is None
    again = run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    assert again.key == "H-2"
    with transaction(runtime.sessions) as session:
        assert [
            e.key
            for e in service.delta_for(
                session, world.admin.org_id, cr_id(runtime, world, cr)
            ).entries
        ] == ["H-2"]


@pytest.mark.parametrize(
    ("kind", "fields", "error", "message"),
    [
        (ItemKind.SITUATION, situation("H-9"), InvalidDeltaError, "H-9, which does not exist"),
        (ItemKind.SITUATION, situation(severity=6), InvalidItemError, "severity"),
        (ItemKind.SITUATION, {**situation(), "harm": " "}, InvalidItemError, "harm"),
        (ItemKind.CONTROL, control("HS-4"), InvalidDeltaError, "HS-4, which does not exist"),
        (ItemKind.CONTROL, control("HS-1", kind="prayer"), InvalidItemError, "kind"),
        (ItemKind.HAZARD, {"title": "x", "severity": 3}, InvalidItemError, "no field"),
        (
            ItemKind.SITUATION,
            {**situation(), "residual_severity": 4, "residual_probability": 3},
            InvalidDeltaError,
            "benefit_risk",
        ),
    ],
)
def test_bad_proposals_are_refused_and_change_nothing(
    runtime: Runtime,
    world: World,
    kind: ItemKind,
    fields: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    cr = open_cr(runtime, world)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    before = counts(runtime)
    with pytest.raises(error, match=message):
        run(runtime, proposals.propose_addition, world.engineer, cr, kind, fields)
    assert counts(runtime) == before
    # the key counter rolled back too: the next situation is HS-1
    added = run(runtime, proposals.propose_addition, world.qa, cr, ItemKind.SITUATION, situation())
    assert added.key == "HS-1"


def test_unacceptable_residual_needs_benefit_risk(runtime: Runtime, world: World) -> None:
    cr = open_cr(runtime, world)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    fields = {
        **situation(),
        "residual_severity": 4,
        "residual_probability": 3,
        "benefit_risk": "Therapy outweighs the remaining risk (clinical evaluation CE-7)",
    }
    entry = run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.SITUATION, fields)
    assert entry.key == "HS-1"
    with pytest.raises(InvalidDeltaError, match=r"§7\.4"):
        run(
            runtime,
            proposals.propose_modification,
            world.engineer,
            cr,
            "HS-1",
            {"benefit_risk": ""},
        )


def test_modifications_and_removals_against_the_released_file(
    runtime: Runtime, world: World
) -> None:
    _released_file(runtime, world)
    cr = open_cr(runtime, world, "Second change")
    with pytest.raises(InvalidDeltaError, match="changes nothing"):
        run(runtime, proposals.propose_modification, world.engineer, cr, "HS-1", {"severity": 4})
    with pytest.raises(InvalidDeltaError, match="H-1 is still used by HS-1"):
        run(runtime, proposals.propose_removal, world.engineer, cr, "H-1")
    with pytest.raises(InvalidDeltaError, match="HS-1 is still used by RC-1"):
        run(runtime, proposals.propose_removal, world.engineer, cr, "HS-1")
    with pytest.raises(RiskItemNotFoundError):
        run(runtime, proposals.propose_modification, world.engineer, cr, "RC-7", {"title": "x"})
    modified = run(
        runtime, proposals.propose_modification, world.engineer, cr, "HS-1", {"severity": 5}
    )
    assert modified is not None
    assert modified.action is DeltaAction.MODIFIED
    assert modified.before.severity == 4  # type: ignore[union-attr]
    # changing it back leaves nothing to propose
    assert (
        run(runtime, proposals.propose_modification, world.engineer, cr, "HS-1", {"severity": 4})
        is None
    )
    run(runtime, proposals.propose_removal, world.engineer, cr, "RC-1")
    removed = run(runtime, proposals.propose_removal, world.engineer, cr, "HS-1")
    assert removed is not None
    assert removed.action is DeltaAction.REMOVED
    with pytest.raises(InvalidDeltaError, match="withdraw that first"):
        run(runtime, proposals.propose_modification, world.engineer, cr, "HS-1", {"severity": 5})
    with pytest.raises(InvalidDeltaError, match="RC-1 controls HS-1, which does not exist"):
        run(runtime, proposals.withdraw, world.engineer, cr, "RC-1")  # RC-1 needs HS-1 back
    run(runtime, proposals.withdraw, world.engineer, cr, "HS-1")
    run(runtime, proposals.withdraw, world.engineer, cr, "RC-1")
    with transaction(runtime.sessions) as session:
        assert proposals.delta_view(session, world.engineer, cr).delta.entries == ()


def test_apply_delta_writes_versions_once(runtime: Runtime, world: World) -> None:
    first = _released_file(runtime, world)
    with transaction(runtime.sessions) as session:
        records = service.list_items(session, world.auditor)
        assert [(r.item.key, r.version) for r in records] == [("H-1", 1), ("HS-1", 1), ("RC-1", 1)]
        assert service.control_keys(session, world.admin.org_id) == {"RC-1"}
        document = service.export_file(session, world.auditor)
    hs1 = document["items"][1]
    assert hs1["residual_risk"]["acceptability"] == "acceptable"
    assert hs1["initial_risk"]["acceptability"] == "unacceptable"
    assert hs1["controls"] == ["RC-1"]
    assert document["problems"] == []
    with pytest.raises(DeltaClosedError, match="merged already"):
        run(runtime, service.apply_delta, world.admin.org_id, cr_id(runtime, world, first), "x")
    with pytest.raises(DeltaClosedError):
        run(runtime, proposals.propose_addition, world.engineer, first, ItemKind.HAZARD, HAZARD)
    second = open_cr(runtime, world, "Remove the control")
    run(runtime, proposals.propose_removal, world.engineer, second, "RC-1")
    run(runtime, proposals.propose_modification, world.engineer, second, "H-1", {"title": "Bolus"})
    versions = run(
        runtime, service.apply_delta, world.admin.org_id, cr_id(runtime, world, second), "user:qa"
    )
    assert versions == {"H-1": 2, "RC-1": 2}
    with transaction(runtime.sessions) as session:
        keys = [r.item.key for r in service.list_items(session, world.engineer)]
        assert keys == ["H-1", "HS-1"]
        assert service.get_item(session, world.engineer, "h-1").version == 2
        with pytest.raises(RiskItemNotFoundError):
            service.get_item(session, world.engineer, "RC-1")
        retired = session.scalars(select(RiskItemRow).where(RiskItemRow.key == "RC-1")).all()
        assert [(r.version, r.retired) for r in retired] == [(1, False), (2, True)]
        problems = service.export_file(session, world.engineer)["problems"]
        assert any("HS-1 states a residual risk but no risk control" in p for p in problems)
        assert any("§7.4" in p for p in problems)
        actions = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.action.like("risk.item%"))
        ).all()
    assert sorted(actions) == sorted(
        ["risk.item_added"] * 3 + ["risk.item_modified", "risk.item_removed"]
    )


def test_stale_delta_is_refused(runtime: Runtime, world: World) -> None:
    _released_file(runtime, world)
    a, b = open_cr(runtime, world, "A"), open_cr(runtime, world, "B")
    run(runtime, proposals.propose_modification, world.engineer, a, "H-1", {"title": "A's"})
    run(runtime, proposals.propose_modification, world.engineer, b, "H-1", {"title": "B's"})
    run(runtime, service.apply_delta, world.admin.org_id, cr_id(runtime, world, a), "user:qa")
    with transaction(runtime.sessions) as session:
        assert proposals.delta_view(session, world.engineer, b).stale == ("H-1",)
    before = counts(runtime)
    with pytest.raises(StaleDeltaError, match="H-1"):
        run(runtime, service.apply_delta, world.admin.org_id, cr_id(runtime, world, b), "user:qa")
    assert counts(runtime) == before


def test_roles_and_hospitals(runtime: Runtime, world: World) -> None:
    cr = open_cr(runtime, world)
    with pytest.raises(RiskNotAllowedError):
        run(runtime, proposals.propose_addition, world.auditor, cr, ItemKind.HAZARD, HAZARD)
    with pytest.raises(RiskItemNotFoundError):
        run(runtime, proposals.propose_addition, world.admin_a, cr, ItemKind.HAZARD, HAZARD)
    with pytest.raises(RiskNotAllowedError):
        run(runtime, service.set_matrix, world.engineer, DEFAULT_MATRIX)
    with transaction(runtime.sessions) as session:
        assert service.list_items(session, world.biomed_a) == []
        with pytest.raises(RiskMatrixNotFoundError):
            service.get_matrix(session, world.admin_a)
        with pytest.raises(ChangeRequestNotFoundError):
            proposals.delta_view(session, world.admin_a, cr)
        with pytest.raises(ChangeRequestNotFoundError):
            service.delta_for(session, world.hospital_a, cr_id(runtime, world, cr))


def test_matrix_configuration(runtime: Runtime, world: World) -> None:
    custom = RiskMatrix.from_dict(
        {**DEFAULT_MATRIX.as_dict(), "significant_harm_from": 4, "table": [["acceptable"] * 5] * 5}
    )
    run(runtime, service.set_matrix, world.qa, custom)
    with transaction(runtime.sessions) as session:
        assert service.get_matrix(session, world.auditor) == custom
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "risk.matrix_configured")
        ).one()
    assert event.actor == "user:qa"
    with pytest.raises(InvalidMatrixError):
        RiskMatrix.from_dict({**custom.as_dict(), "table": [["acceptable"] * 5] * 4})


@pytest.mark.parametrize("state", ["verification", "approval", "rejected", "withdrawn"])
def test_closed_change_requests_take_no_proposals(
    runtime: Runtime, world: World, state: str
) -> None:
    cr = open_cr(runtime, world)
    run(runtime, proposals.propose_addition, world.engineer, cr, ItemKind.HAZARD, HAZARD)
    with transaction(runtime.sessions) as session:
        change = session.get(ChangeRequest, cr_id(runtime, world, cr))
        assert change is not None
        change.state = state  # the workflow's own gates are not what is tested here
    before = counts(runtime)
    with pytest.raises(DeltaClosedError, match=f"{cr} is {state}"):
        run(runtime, proposals.propose_modification, world.engineer, cr, "H-1", {"title": "x"})
    with pytest.raises(DeltaClosedError):
        run(runtime, proposals.withdraw, world.engineer, cr, "H-1")
    assert counts(runtime) == before
    with transaction(runtime.sessions) as session:
        view = proposals.delta_view(session, world.engineer, cr)
        assert (view.state, view.open) == (state, False)
        open_controls = service.control_keys(session, world.admin.org_id)
    assert open_controls == set()
