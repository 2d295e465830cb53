"""The regulatory assessment service over real records (both databases).

Facts come from the risk-file delta, the requirement changes and the classification; the
assessor answers the rest; the recorded assessment is stale as soon as the facts change, and
counts as finished only once QA/RA e-signed it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from medfleet.accounts.signatures import Meaning
from medfleet.changes import assessment_status, items, plans, regulatory, service, workflow
from medfleet.changes.assessment.errors import AnswerNotNeededError, UnansweredQuestionError
from medfleet.changes.errors import ChangeStateError
from medfleet.changes.model import ChangeClass, ChangeState, SafetyClass
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.risk import proposals
from medfleet.risk.items import ItemKind
from medfleet.runtime import Runtime
from medfleet.trace import service as trace
from tests.api.helpers import audit_count
from tests.builders import World, build_world
from tests.risk.helpers import HAZARD, situation

MDCG_NO = ("mdcg-c1", "mdcg-c2", "mdcg-c3", "mdcg-c4", "mdcg-c5")


@pytest.fixture
def world(runtime: Runtime) -> World:
    built = build_world(runtime)
    with transaction(runtime.sessions) as session:
        items.register(session, runtime.audit, built.qa, "pump-control", SafetyClass.C)
    return built


def new_change(
    runtime: Runtime, world: World, change_class: ChangeClass, title: str = "change"
) -> str:
    with transaction(runtime.sessions) as session:
        key = service.create(session, runtime.audit, world.engineer, title, "").key
        workflow.move(
            session,
            runtime.audit,
            world.engineer,
            key,
            ChangeState.IMPACT_ANALYSIS,
            runtime.trusted_keys(),
        )
        workflow.classify(
            session, runtime.audit, world.engineer, key, change_class, "IP-100", ["pump-control"]
        )
    return key


def answer(runtime: Runtime, world: World, key: str, question: str, value: bool) -> None:
    with transaction(runtime.sessions) as session:
        regulatory.answer(
            session, runtime.audit, world.qa, key, question, value, f"{question}: because"
        )


def open_ids(runtime: Runtime, world: World, key: str) -> list[str]:
    with pytest.raises(UnansweredQuestionError) as caught, transaction(runtime.sessions) as s:
        regulatory.run(s, runtime.audit, world.engineer, key)
    return caught.value.question_ids


def run(runtime: Runtime, world: World, key: str) -> dict[str, object]:
    with transaction(runtime.sessions) as session:
        record = regulatory.run(session, runtime.audit, world.engineer, key)
        return {**record.document, "number": record.number, "fda_outcome": record.fda_outcome}


def test_cybersecurity_patch_with_no_other_impact_is_documented(
    runtime: Runtime, world: World
) -> None:
    key = new_change(runtime, world, ChangeClass.CYBERSECURITY, "TLS 1.3 only")
    before = audit_count(runtime)
    assert open_ids(runtime, world, key)[:2] == ["fda-intent", "fda-q1"]
    assert audit_count(runtime) == before  # an unanswered question records nothing
    answer(runtime, world, key, "fda-intent", False)
    answer(runtime, world, key, "fda-q1", True)
    for question in MDCG_NO:
        answer(runtime, world, key, question, False)
    result = run(runtime, world, key)
    assert result["fda_outcome"] == "document (letter to file)"
    path = result["path"]
    assert [step["question_id"] for step in path if step["question_id"].startswith("fda")] == [  # type: ignore[union-attr, index]
        "fda-intent",
        "fda-q1",
    ]
    assert run(runtime, world, key)["number"] == 1  # the same result is recorded once


def test_facts_decide_and_refuse_opinions(runtime: Runtime, world: World) -> None:
    key = new_change(runtime, world, ChangeClass.MINOR, "Occlusion alarm debounce")
    with transaction(runtime.sessions) as session:
        trace.create_requirement(
            session,
            runtime.audit,
            world.engineer,
            "SRS-1",
            "Alarm",
            "Alarm within 2 s",
            "performance",
            "pump-control",
            key,
        )
        proposals.propose_addition(
            session, runtime.audit, world.engineer, key, ItemKind.HAZARD, HAZARD
        )
        proposals.propose_addition(
            session, runtime.audit, world.engineer, key, ItemKind.SITUATION, situation(severity=4)
        )
    with pytest.raises(AnswerNotNeededError, match="fda-q1"):
        answer(runtime, world, key, "fda-q1", True)  # the class already says "not only security"
    answer(runtime, world, key, "fda-intent", False)
    for question in MDCG_NO:
        answer(runtime, world, key, question, False)
    result = run(runtime, world, key)
    fda = [s for s in result["path"] if s["question_id"].startswith("fda")]  # type: ignore[union-attr]
    assert [(s["question_id"], s["answer"], s["source"]) for s in fda] == [
        ("fda-intent", "no", "assessor"),
        ("fda-q1", "no", "classification"),
        ("fda-q2", "no", "requirement changes"),
        ("fda-q3a", "yes", "risk-file delta"),
    ]
    assert result["fda_outcome"] == "new 510(k) likely"


def test_the_gate_wants_a_current_signed_assessment(runtime: Runtime, world: World) -> None:
    key = new_change(runtime, world, ChangeClass.CYBERSECURITY)
    for question, value in [("fda-intent", False), ("fda-q1", True)]:
        answer(runtime, world, key, question, value)
    for question in MDCG_NO:
        answer(runtime, world, key, question, False)
    run(runtime, world, key)

    def move(target: ChangeState) -> None:
        with transaction(runtime.sessions) as session:
            workflow.move(
                session, runtime.audit, world.engineer, key, target, runtime.trusted_keys()
            )

    move(ChangeState.ASSESSMENT)
    with pytest.raises(ChangeStateError, match="'approved' e-signature"):
        move(ChangeState.IMPLEMENTATION)
    with transaction(runtime.sessions) as session:
        regulatory.sign(session, runtime.audit, world.qa, key, Meaning.APPROVED)
        change = service.get(session, world.qa, key)
        assert assessment_status.assessment_missing(session, change, runtime.trusted_keys()) == []
        proposals.propose_addition(
            session, runtime.audit, world.engineer, key, ItemKind.HAZARD, HAZARD
        )
    with pytest.raises(ChangeStateError, match="stale"):
        move(ChangeState.IMPLEMENTATION)


def test_documented_changes_add_up_until_the_next_clearance(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    first = new_change(runtime, world, ChangeClass.CYBERSECURITY, "first")
    for question, value in [("fda-intent", False), ("fda-q1", True)]:
        answer(runtime, world, first, question, value)
    for question in MDCG_NO:
        answer(runtime, world, first, question, False)
    run(runtime, world, first)
    second = new_change(runtime, world, ChangeClass.CYBERSECURITY, "second")
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, second)
        assert [f.key for f in regulatory.documented_since_clearance(session, change)] == [first]
    assert "fda-q4-cumulative" in open_ids(runtime, world, second)  # may be reached...
    answer(runtime, world, second, "fda-intent", False)
    answer(runtime, world, second, "fda-q1", True)
    assert "fda-q4-cumulative" in open_ids(runtime, world, second)  # ...and is: judged together
    clock.advance(timedelta(days=30))
    with transaction(runtime.sessions) as session:
        plans.record_clearance(
            session,
            runtime.audit,
            world.qa,
            "IP-100",
            "K260001",
            "4.0.0",
            clock.now(),
        )
    with transaction(runtime.sessions) as session:
        change = service.get(session, world.qa, second)
        assert regulatory.documented_since_clearance(session, change) == []


def test_ai_model_update_inside_its_pccp(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        plans.register_plan(
            session,
            runtime.audit,
            world.qa,
            {
                "name": "Sepsis model PCCP",
                "device_model": "IP-100",
                "modifications": [{"id": "retrain", "description": "retrain on new sites"}],
                "criteria": [
                    {"metric": "sensitivity", "comparator": ">=", "threshold": 0.9},
                    {"metric": "specificity", "comparator": ">=", "threshold": 0.8},
                ],
            },
        )
    key = new_change(runtime, world, ChangeClass.AI_MODEL, "retrain")
    with transaction(runtime.sessions) as session:
        plans.record_evaluation(
            session,
            runtime.audit,
            world.engineer,
            key,
            "Sepsis model PCCP",
            {
                "modification_id": "retrain",
                "metrics": {"sensitivity": 0.93, "specificity": 0.85},
                "dataset": "holdout-2026",
            },
        )
    answer(runtime, world, key, "fda-intent", False)
    for question in open_ids(runtime, world, key):
        answer(runtime, world, key, question, False)
    assert run(runtime, world, key)["fda_outcome"] == "implement under the PCCP"
