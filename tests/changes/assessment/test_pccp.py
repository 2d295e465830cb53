"""PCCP: an AI-model change inside an authorized plan, meeting every criterion, ships under it."""

from __future__ import annotations

import math

import pytest

from medfleet.changes.assessment.errors import InvalidPlanError, PccpNotApplicableError
from medfleet.changes.assessment.pccp import (
    AcceptanceCriterion,
    ModelEvaluation,
    PccpOutcome,
    PccpPlan,
    PlannedModification,
    assess_pccp,
)
from medfleet.changes.assessment.questions import Source

from .factories import change

PLAN = PccpPlan(
    "PCCP-1 retraining",
    "infusion-pump-X",
    (
        PlannedModification("M1", "retrain on new site data"),
        PlannedModification("M2", "recalibrate"),
    ),
    (
        AcceptanceCriterion("sensitivity", ">=", 0.92),
        AcceptanceCriterion("false_alarms_per_day", "<", 2),
    ),
)
GOOD = ModelEvaluation("M1", {"sensitivity": 0.95, "false_alarms_per_day": 1.2}, "holdout-2025-02")
MODEL = change("CR-40", "ai_model")


def test_inside_the_plan_with_every_criterion_met_is_implemented_under_the_pccp() -> None:
    decision = assess_pccp(MODEL, PLAN, GOOD)
    assert decision.outcome is PccpOutcome.IMPLEMENT
    assert decision.reasons == ()
    assert [(a.question_id, a.value, a.source) for a in decision.path] == [
        ("pccp-in-plan", True, Source.PCCP),
        ("pccp-criteria", True, Source.PCCP),
    ]
    assert decision.path[-1].leads_to == "implement under the PCCP"
    assert all(result.met for result in decision.criteria)


def test_a_missed_criterion_sends_the_change_to_the_flowchart() -> None:
    worse = ModelEvaluation("M1", {"sensitivity": 0.91, "false_alarms_per_day": 1.2}, "holdout")
    decision = assess_pccp(MODEL, PLAN, worse)
    assert decision.outcome is PccpOutcome.FLOWCHART
    assert decision.reasons == (
        "acceptance criterion sensitivity >= 0.92 is not met: measured 0.91",
    )
    assert decision.path[-1].evidence == ("sensitivity",)


def test_a_criterion_at_its_strict_threshold_is_not_met() -> None:
    edge = ModelEvaluation("M1", {"sensitivity": 0.92, "false_alarms_per_day": 2}, "holdout")
    decision = assess_pccp(MODEL, PLAN, edge)
    assert [r.met for r in decision.criteria] == [True, False]


def test_a_missing_metric_is_not_met_never_assumed() -> None:
    partial = ModelEvaluation("M1", {"sensitivity": 0.99}, "holdout")
    decision = assess_pccp(MODEL, PLAN, partial)
    assert decision.outcome is PccpOutcome.FLOWCHART
    assert (
        "false_alarms_per_day < 2 is not met: the metric was not evaluated" in decision.reasons[0]
    )
    assert decision.criteria[1].value is None


def test_a_modification_not_in_the_plan_goes_to_the_flowchart() -> None:
    other = ModelEvaluation("M9", dict(GOOD.metrics), "holdout")
    decision = assess_pccp(MODEL, PLAN, other)
    assert decision.outcome is PccpOutcome.FLOWCHART
    assert [a.question_id for a in decision.path] == ["pccp-in-plan"]
    assert (
        "M9 is not among PCCP PCCP-1 retraining's planned modifications (M1, M2)"
        in decision.reasons[0]
    )


def test_a_plan_for_another_device_model_does_not_cover_the_change() -> None:
    decision = assess_pccp(change("CR-41", "ai_model", device_model="ventilator-V"), PLAN, GOOD)
    assert decision.outcome is PccpOutcome.FLOWCHART
    assert "is for device model infusion-pump-X, not ventilator-V" in decision.reasons[0]


def test_no_plan_or_no_evaluation_goes_to_the_flowchart_with_the_reason() -> None:
    assert "no PCCP is authorized" in assess_pccp(MODEL, None, GOOD).reasons[0]
    assert "no model evaluation is recorded" in assess_pccp(MODEL, PLAN, None).reasons[0]


def test_the_pccp_is_only_for_ai_model_changes() -> None:
    with pytest.raises(PccpNotApplicableError):
        assess_pccp(change(change_class="major"), PLAN, GOOD)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PccpPlan("P", "m", (), PLAN.criteria), "no planned modification"),
        (lambda: PccpPlan("P", "m", PLAN.modifications, ()), "no acceptance criterion"),
        (
            lambda: PccpPlan("P", "m", PLAN.modifications, PLAN.criteria + PLAN.criteria[:1]),
            "metrics listed twice",
        ),
        (
            lambda: PccpPlan("P", "m", PLAN.modifications * 2, PLAN.criteria),
            "modification ids listed twice",
        ),
        (lambda: AcceptanceCriterion("auc", ">=", math.nan), "finite number"),
        (lambda: AcceptanceCriterion("auc", ">=", math.inf), "finite number"),
        (lambda: AcceptanceCriterion("auc", "==", 0.9), "comparator"),  # type: ignore[arg-type]
        (lambda: ModelEvaluation("M1", {"auc": math.nan}, "d"), "finite number"),
        (lambda: ModelEvaluation("M1", {"auc": 0.9}, ""), "data set"),
        (lambda: PccpPlan("", "m", PLAN.modifications, PLAN.criteria), "name"),
    ],
)
def test_malformed_plans_and_evaluations_are_refused(build: object, message: str) -> None:
    with pytest.raises(InvalidPlanError, match=message):
        build()  # type: ignore[operator]


def test_plans_and_evaluations_round_trip_through_json() -> None:
    assert PccpPlan.from_dict(PLAN.as_dict()) == PLAN
    assert ModelEvaluation.from_dict(GOOD.as_dict()).as_dict() == GOOD.as_dict()
    with pytest.raises(InvalidPlanError, match="malformed"):
        PccpPlan.from_dict({"name": "P"})
