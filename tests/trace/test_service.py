"""Traceability use cases on SQLite and PostgreSQL: versions, runs, gaps, regression sets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.tables import AuditEventRow
from medfleet.changes import service as changes
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.trace import links, runs, service
from medfleet.trace.errors import (
    InvalidRequirementError,
    JUnitError,
    RequirementExistsError,
    RequirementNotFoundError,
    RequirementRetiredError,
    RunConflictError,
    TraceNotAllowedError,
    TraceNotFoundError,
    UnknownReferenceError,
)
from medfleet.trace.model import ChangeAction, GapKind, TraceScope
from medfleet.trace.tables import RunResult, TraceTest, VerificationRun
from tests.builders import World
from tests.trace.helpers import add_controls, add_requirement, import_junit, open_change
from tests.trace.samples import BILLION_LAUGHS, PYTEST, case, suite


def events(runtime: Runtime, action: str | None = None) -> int:
    with transaction(runtime.sessions) as session:
        query = select(func.count()).select_from(AuditEventRow)
        if action:
            query = query.where(AuditEventRow.action == action)
        return session.scalar(query) or 0


def rows(runtime: Runtime, table: type) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_versions_under_a_change_request(runtime: Runtime, world: World) -> None:
    add_requirement(runtime, world.engineer, "SRS-1", "Alarm within 5 s.")
    add_requirement(runtime, world.engineer, "SRS-2", "Log every alarm.")
    cr = open_change(runtime, world.engineer)
    add_requirement(runtime, world.engineer, "srs-3", "Show the dose.", change=cr)
    with transaction(runtime.sessions) as s:
        service.revise_requirement(
            s, runtime.audit, world.qa, "SRS-1", text="Alarm within 2 s.", change_key=cr
        )
        service.revise_requirement(s, runtime.audit, world.qa, "SRS-1", kind="performance")
        service.revise_requirement(s, runtime.audit, world.qa, "SRS-1", title="Fast", change_key=cr)
        service.retire_requirement(s, runtime.audit, world.qa, "SRS-2", cr)
    with transaction(runtime.sessions) as s:
        change = changes.get(s, world.qa, cr)
        found = service.requirement_changes(s, world.admin.org_id, change.id)
        srs1 = service.get_requirement(s, world.auditor, "srs-1")
        history = [(v.version, v.action, v.change_request_id) for v in service.history(s, srs1)]
    assert [(c.key, c.action, c.version_before, c.version_after) for c in found] == [
        ("SRS-1", ChangeAction.MODIFIED, 1, 4),
        ("SRS-2", ChangeAction.RETIRED, 1, 2),
        ("SRS-3", ChangeAction.ADDED, None, 1),
    ]
    assert (found[0].text_before, found[0].text_after, found[0].title_after) == (
        "Alarm within 5 s.",
        "Alarm within 2 s.",
        "Fast",
    )
    assert found[1].text_after is None
    assert history == [
        (1, "added", None),
        (2, "modified", change.id),
        (3, "modified", None),
        (4, "modified", change.id),
    ]
    assert events(runtime, "requirement.revised") == 3
    assert events(runtime, "requirement.retired") == 1


def test_bad_input_changes_nothing(runtime: Runtime, world: World) -> None:
    add_requirement(runtime, world.engineer, "SRS-1")
    before = events(runtime)

    def add_req(s: Session, key: str, who: Principal = world.engineer, **kw: str) -> None:
        service.create_requirement(
            s,
            runtime.audit,
            who,
            key,
            "t",
            kw.get("text", "text"),
            kw.get("kind", "safety"),
            "pump",
        )

    attempts: list[tuple[type[Exception], Callable[[Session], object]]] = [
        (InvalidRequirementError, lambda s: add_req(s, "SRS-2", kind="fun")),
        (InvalidRequirementError, lambda s: add_req(s, "bad key")),
        (InvalidRequirementError, lambda s: add_req(s, "SRS-2", text="  ")),
        (RequirementExistsError, lambda s: add_req(s, "srs-1")),
        (TraceNotFoundError, lambda s: add_req(s, "SRS-2", who=world.admin_a)),
        (TraceNotAllowedError, lambda s: add_req(s, "SRS-2", who=world.auditor)),
        (RequirementNotFoundError, lambda s: service.get_requirement(s, world.qa, "SRS-9")),
        (TraceNotFoundError, lambda s: service.get_requirement(s, world.biomed_a, "SRS-1")),
        (
            InvalidRequirementError,
            lambda s: service.revise_requirement(
                s, runtime.audit, world.qa, "SRS-1", kind="safety"
            ),
        ),
    ]

    for error, attempt in attempts:
        with pytest.raises(error), transaction(runtime.sessions) as session:
            attempt(session)
    assert events(runtime) == before
    with transaction(runtime.sessions) as s:
        assert [r.key for r in service.list_requirements(s, world.qa)] == ["SRS-1"]
        assert service.list_requirements(s, world.admin_a) == []
        service.retire_requirement(s, runtime.audit, world.qa, "SRS-1")
    with pytest.raises(RequirementRetiredError), transaction(runtime.sessions) as s:
        service.revise_requirement(s, runtime.audit, world.qa, "SRS-1", text="again")
    with pytest.raises(RequirementRetiredError), transaction(runtime.sessions) as s:
        links.link_test(s, runtime.audit, world.qa, "SRS-1", "t::x")


def test_import_is_idempotent_per_build_and_file(runtime: Runtime, world: World) -> None:
    for key in ("SRS-1", "SRS-2"):
        add_requirement(runtime, world.engineer, key)
    cr = open_change(runtime, world.engineer)
    first = import_junit(runtime, world.engineer, PYTEST, "4.2.0+1", cr)
    assert (first.created, first.links_added, first.levels_set) == (True, 3, 1)
    assert (first.run.total, first.run.passed, first.run.failed) == (5, 2, 1)
    again = import_junit(runtime, world.qa, PYTEST, "4.2.0+1")
    assert (again.created, again.run.id) == (False, first.run.id)
    with pytest.raises(RunConflictError):
        import_junit(runtime, world.qa, PYTEST, "4.2.0+1", open_change(runtime, world.qa))
    other_build = import_junit(runtime, world.engineer, PYTEST, "4.2.0+2")
    assert other_build.created
    assert other_build.links_added == 0
    assert events(runtime, "trace.run.imported") == 2
    assert rows(runtime, RunResult) == 10
    with transaction(runtime.sessions) as s:
        listed = runs.list_runs(s, world.auditor, "4.2.0+1")
        assert [runs.run_dict(r)["change_request"] for r in listed] == [cr]
        assert runs.list_runs(s, world.admin_a) == []


def test_a_refused_file_imports_nothing(runtime: Runtime, world: World) -> None:
    add_requirement(runtime, world.engineer, "SRS-1")
    before = events(runtime)
    with pytest.raises(JUnitError):
        import_junit(runtime, world.engineer, BILLION_LAUGHS, "b1")
    with pytest.raises(UnknownReferenceError, match="SRS-2"):
        import_junit(runtime, world.engineer, PYTEST, "b1")
    with pytest.raises(TraceNotAllowedError):
        import_junit(runtime, world.auditor, suite(case("a")), "b1")
    with pytest.raises(TraceNotFoundError):
        import_junit(runtime, world.admin_a, suite(case("a")), "b1")
    assert (rows(runtime, VerificationRun), rows(runtime, TraceTest)) == (0, 0)
    assert events(runtime) == before


def test_gaps_count_only_the_latest_result_on_the_build(runtime: Runtime, world: World) -> None:
    for key in ("SRS-1", "SRS-2", "SRS-3"):
        add_requirement(runtime, world.engineer, key)
    passing = suite(case("a", requirements="SRS-1"), case("b", requirements="SRS-2"))
    import_junit(runtime, world.engineer, passing, "b1")
    import_junit(
        runtime, world.engineer, suite(case("a"), case("b", outcome="failure"), case("c")), "b2"
    )
    with transaction(runtime.sessions) as s:
        links.link_test(s, runtime.audit, world.qa, "SRS-3", "t::later")
        scope = TraceScope(requirements=frozenset({"SRS-1", "SRS-2", "SRS-3"}))
        on_b1 = service.gaps(s, world.admin.org_id, "b1", scope)
        on_b2 = service.gaps(s, world.admin.org_id, "b2", scope)
        regression = TraceScope(tests=frozenset({"t::a", "t::b", "t::c"}))
        untraced = service.gaps(s, world.admin.org_id, "b2", regression)
    assert [(g.kind, g.subject) for g in on_b1] == [(GapKind.REQUIREMENT_NOT_PASSING, "SRS-3")]
    assert [(g.kind, g.subject) for g in on_b2] == [
        (GapKind.REQUIREMENT_NOT_PASSING, "SRS-2"),  # passed on b1, fails on b2
        (GapKind.REQUIREMENT_NOT_PASSING, "SRS-3"),
    ]
    assert [(g.kind, g.subject) for g in untraced] == [
        (GapKind.TEST_UNTRACED, "t::c"),
        (GapKind.REGRESSION_NOT_PASSING, "t::b"),
    ]
    fixed = suite(case("b", requirements="SRS-2"), case("later", requirements="SRS-3"))
    import_junit(runtime, world.engineer, fixed, "b2")  # a later run of the same build
    with transaction(runtime.sessions) as s:
        assert service.gaps(s, world.admin.org_id, "b2", scope) == []
        with pytest.raises(UnknownReferenceError, match="SRS-7"):
            service.gaps(s, world.admin.org_id, "b2", TraceScope(frozenset({"SRS-7"})))


def test_gaps_and_regression_with_risk_controls(runtime: Runtime, world: World) -> None:
    rc1, rc2, rc3 = add_controls(runtime, world.qa, 3)
    for key in ("SRS-1", "SRS-2"):
        add_requirement(runtime, world.engineer, key)
    with transaction(runtime.sessions) as s:
        links.link_control(s, runtime.audit, world.qa, rc1, "SRS-1")
        links.link_control(s, runtime.audit, world.qa, rc2, "SRS-2")
        with pytest.raises(UnknownReferenceError, match="RC-99"):
            links.link_control(s, runtime.audit, world.qa, "RC-99", "SRS-1")
    data = suite(
        case("a", requirements="SRS-1"),
        case("b", requirements="SRS-2", outcome="failure"),
        case("stray"),
    )
    import_junit(runtime, world.engineer, data, "b1")
    with transaction(runtime.sessions) as s:
        found = service.gaps(s, world.admin.org_id, "b1")
        links.set_level(s, runtime.audit, world.qa, "t::stray", "system")
        for unit in ("t::a", "t::b"):
            links.set_level(s, runtime.audit, world.qa, unit, "unit")
        regression = service.regression_set(s, world.admin.org_id, [], [rc2], "B")
        with pytest.raises(UnknownReferenceError):
            service.regression_set(s, world.admin.org_id, ["SRS-9"], [], "A")
    assert [(g.kind, g.subject) for g in found] == [
        (GapKind.REQUIREMENT_NOT_PASSING, "SRS-2"),
        (GapKind.CONTROL_WITHOUT_REQUIREMENT, rc3),
        (GapKind.CONTROL_NOT_PASSING, rc2),
        (GapKind.TEST_UNTRACED, "t::stray"),
    ]
    assert [(t.key, t.reasons[0]) for t in regression.tests] == [
        ("t::b", f"verifies SRS-2, which implements touched control {rc2}"),
        ("t::stray", "class B minimum: every system-level test"),
    ]
