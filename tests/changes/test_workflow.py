"""Classification, transitions with their gates, problem reports (both databases)."""

from __future__ import annotations

import pytest

from medfleet.accounts.signatures import Meaning
from medfleet.changes import assessment_status, items, problems, service, workflow
from medfleet.changes.errors import (
    ChangeNotAllowedError,
    ChangeRequestNotFoundError,
    ChangeStateError,
    InvalidChangeRequestError,
    ProblemReportNotFoundError,
    SoftwareItemNotFoundError,
)
from medfleet.changes.model import ChangeClass, ChangeState, SafetyClass
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from tests.api.helpers import audit_count, audit_events
from tests.builders import World, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    built = build_world(runtime)
    with transaction(runtime.sessions) as session:
        items.register(session, runtime.audit, built.qa, "pump-control", SafetyClass.C)
        items.register(session, runtime.audit, built.qa, "ui", SafetyClass.A)
        service.create(session, runtime.audit, built.engineer, "Occlusion alarm latency", "")
    return built


def move(runtime: Runtime, world: World, target: ChangeState, key: str = "CR-1") -> None:
    with transaction(runtime.sessions) as session:
        workflow.move(
            session, runtime.audit, world.engineer, key, target, runtime.trusted_keys(), "why"
        )


def classify(runtime: Runtime, world: World, *names: str) -> None:
    with transaction(runtime.sessions) as session:
        workflow.classify(
            session, runtime.audit, world.engineer, "CR-1", ChangeClass.MINOR, "IP-100", names
        )


def test_classification_sets_the_safety_class_from_the_items(
    runtime: Runtime, world: World
) -> None:
    classify(runtime, world, "ui")
    with transaction(runtime.sessions) as session:
        assert service.get(session, world.qa, "CR-1").safety_class is SafetyClass.A
    classify(runtime, world, "ui", "pump-control")
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, "CR-1")
        assert change.safety_class is SafetyClass.C
        assert [i.name for i in change.items] == ["pump-control", "ui"]


def test_classification_refuses_unknown_items_and_changes_nothing(
    runtime: Runtime, world: World
) -> None:
    before = audit_count(runtime)
    with (
        pytest.raises(SoftwareItemNotFoundError, match="ghost, spectre"),
        transaction(runtime.sessions) as session,
    ):
        workflow.classify(
            session,
            runtime.audit,
            world.engineer,
            "CR-1",
            ChangeClass.MAJOR,
            "IP-100",
            ["ui", "ghost", "spectre"],
        )
    with pytest.raises(InvalidChangeRequestError, match="software item"):
        classify(runtime, world)
    assert audit_count(runtime) == before
    with transaction(runtime.sessions) as session:
        assert service.get(session, world.qa, "CR-1").change_class is None


def test_impact_analysis_gate_lists_everything_missing(runtime: Runtime, world: World) -> None:
    move(runtime, world, ChangeState.IMPACT_ANALYSIS)
    with pytest.raises(ChangeStateError) as caught:
        move(runtime, world, ChangeState.ASSESSMENT)
    message = str(caught.value)
    assert "change class" in message
    assert "device model" in message
    assert "software items" in message
    classify(runtime, world, "ui")
    move(runtime, world, ChangeState.ASSESSMENT)


def test_assessment_gate_needs_a_recorded_assessment(runtime: Runtime, world: World) -> None:
    move(runtime, world, ChangeState.IMPACT_ANALYSIS)
    classify(runtime, world, "ui")
    move(runtime, world, ChangeState.ASSESSMENT)
    with pytest.raises(ChangeStateError, match="recorded regulatory assessment"):
        move(runtime, world, ChangeState.IMPLEMENTATION)
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, "CR-1")
        assert assessment_status.assessment_missing(session, change, runtime.trusted_keys())


def test_released_only_through_a_release_and_no_skipping(runtime: Runtime, world: World) -> None:
    with pytest.raises(ChangeStateError, match="release record"):
        move(runtime, world, ChangeState.RELEASED)
    with pytest.raises(ChangeStateError, match="cannot move to implementation"):
        move(runtime, world, ChangeState.IMPLEMENTATION)
    with transaction(runtime.sessions) as session:
        assert service.get(session, world.qa, "CR-1").status is ChangeState.DRAFT


def test_rejection_needs_qa_ra_and_freezes_the_change(runtime: Runtime, world: World) -> None:
    move(runtime, world, ChangeState.IMPACT_ANALYSIS)
    with pytest.raises(ChangeNotAllowedError, match="qa_ra"):
        move(runtime, world, ChangeState.REJECTED)
    with transaction(runtime.sessions) as session:
        workflow.move(
            session,
            runtime.audit,
            world.qa,
            "CR-1",
            ChangeState.REJECTED,
            runtime.trusted_keys(),
            "not worth it",
        )
    with pytest.raises(ChangeStateError, match="frozen"), transaction(runtime.sessions) as s:
        service.edit(s, runtime.audit, world.engineer, "CR-1", title="again")


def test_moves_are_audited_with_their_reason(runtime: Runtime, world: World) -> None:
    move(runtime, world, ChangeState.IMPACT_ANALYSIS)
    events = audit_events(runtime, "change_request.moved")
    assert [(e["payload"]["from"], e["payload"]["to"], e["payload"]["reason"]) for e in events] == [
        ("draft", "impact_analysis", "why")
    ]


def test_hospital_staff_see_no_change_control(runtime: Runtime, world: World) -> None:
    with pytest.raises(ChangeRequestNotFoundError), transaction(runtime.sessions) as session:
        workflow.move(
            session,
            runtime.audit,
            world.admin_a,
            "CR-1",
            ChangeState.IMPACT_ANALYSIS,
            runtime.trusted_keys(),
        )
    with transaction(runtime.sessions) as session:
        assert items.list_items(session, world.biomed_a) == []
        assert problems.list_all(session, world.biomed_a) == []
        with pytest.raises(ProblemReportNotFoundError):
            problems.get(session, world.admin_a, "PR-1")


def test_problem_reports_are_investigated_closed_and_addressed(
    runtime: Runtime, world: World
) -> None:
    new = problems.NewProblem(
        "Alarm 4 s late", "complaint", "safety_critical", "seen at site", ["4.1.0", "4.1.1"]
    )
    with transaction(runtime.sessions) as session:
        report = problems.create(session, runtime.audit, world.engineer, new)
        assert report.key == "PR-1"
        problems.create(
            session,
            runtime.audit,
            world.engineer,
            problems.NewProblem("Needs retraining", "ai_model_retraining", "low"),
        )
    with (
        pytest.raises(ChangeStateError, match="without an investigation"),
        transaction(runtime.sessions) as session,
    ):
        problems.investigate(session, runtime.audit, world.engineer, "PR-1", state="closed")
    with transaction(runtime.sessions) as session:
        problems.investigate(
            session, runtime.audit, world.engineer, "PR-1", "root cause: debounce", "closed"
        )
        problems.link(session, runtime.audit, world.engineer, "CR-1", "PR-1")
        problems.link(session, runtime.audit, world.engineer, "CR-1", "PR-2")
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, "CR-1")
        assert [p.key for p in change.problems] == ["PR-1", "PR-2"]
        assert problems.get(session, world.qa, "PR-1").as_dict()["affected_versions"] == [
            "4.1.0",
            "4.1.1",
        ]
    with pytest.raises(ChangeStateError, match="already"), transaction(runtime.sessions) as s:
        problems.link(s, runtime.audit, world.engineer, "CR-1", "PR-1")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source", "rumour", "unknown ProblemSource"),
        ("criticality", "meh", "unknown Criticality"),
        ("title", " ", "title"),
    ],
)
def test_bad_problem_reports_are_refused(
    runtime: Runtime, world: World, field: str, value: str, message: str
) -> None:
    fields = {"title": "t", "source": "incident", "criticality": "low", field: value}
    with (
        pytest.raises(InvalidChangeRequestError, match=message),
        transaction(runtime.sessions) as session,
    ):
        problems.create(session, runtime.audit, world.engineer, problems.NewProblem(**fields))


def test_a_signature_survives_moves_but_not_classification(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        service.sign(session, runtime.audit, world.engineer, "CR-1", Meaning.AUTHORED)
    move(runtime, world, ChangeState.IMPACT_ANALYSIS)
    from medfleet.accounts.signatures import signatures_for

    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, "CR-1")
        assert [v.valid for v in signatures_for(session, change, runtime.trusted_keys())] == [True]
    classify(runtime, world, "ui")
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, "CR-1")
        assert [v.valid for v in signatures_for(session, change, runtime.trusted_keys())] == [False]
