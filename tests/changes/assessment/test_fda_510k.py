"""The FDA software flowchart, one test per path, named after the guidance's own reasoning."""

from __future__ import annotations

import pytest

from medfleet.changes.assessment.errors import (
    AnswerNotNeededError,
    InvalidAnswerError,
    UnansweredQuestionError,
)
from medfleet.changes.assessment.fda_510k import FdaOutcome, FdaResult, assess_510k, decide_q3b
from medfleet.changes.assessment.questions import AssessorAnswer, Source

from .factories import (
    AT,
    NO_INTENT,
    NOT_CLINICAL,
    added_situation,
    change,
    control,
    modified_situation,
    requirement,
    said,
)


def steps(result: FdaResult) -> list[tuple[str, bool, str]]:
    """The path as (question, answer, source)."""
    return [(a.question_id, a.value, a.source.value) for a in result.path]


def test_a_patch_only_strengthening_cybersecurity_is_documented_at_q1() -> None:
    """Q1: a change made solely to strengthen cybersecurity, no other impact: document."""
    patch = change(
        change_class="cybersecurity", requirements=(requirement("SEC-4", kind="security"),)
    )
    yes = said("fda-q1", True, "TLS library patch; regression suite passed, no other impact")
    result = assess_510k(patch, [NO_INTENT, yes])
    assert result.outcome is FdaOutcome.DOCUMENT
    assert steps(result) == [("fda-intent", False, "assessor"), ("fda-q1", True, "assessor")]
    assert result.path[1].evidence == ("SEC-4",)
    assert result.path[-1].leads_to == "document (letter to file)"


def test_a_security_patch_that_touches_the_risk_file_has_other_impact_at_q1() -> None:
    """Q1 is the records' "no" when a cybersecurity change also changes the risk file."""
    patch = change(
        change_class="cybersecurity",
        situations=(modified_situation("HS-2", (2, 2), (3, 2), significant=False),),
    )
    result = assess_510k(patch, [NO_INTENT, said("fda-q2", False), NOT_CLINICAL])
    q1 = result.path[1]
    assert (q1.question_id, q1.value, q1.source) == ("fda-q1", False, Source.RISK_DELTA)
    assert q1.evidence == ("HS-2",)


def test_a_change_not_classified_cybersecurity_is_no_at_q1_from_the_classification() -> None:
    result = assess_510k(
        change(change_class="major"), [NO_INTENT, said("fda-q2", False), NOT_CLINICAL]
    )
    assert result.path[1].source is Source.CLASSIFICATION
    assert result.path[1].value is False


def test_a_bug_fix_that_needs_a_changed_requirement_does_not_stop_at_q2() -> None:
    """Q2: returning to specification does not change the specification; a bug fix that changes
    a requirement goes on through Q3a and Q3b (records) and ends at Q4 (assessor)."""
    fix = change(requirements=(requirement("SRS-101", "modified", "functional"),))
    result = assess_510k(fix, [NO_INTENT, NOT_CLINICAL])
    assert steps(result) == [
        ("fda-intent", False, "assessor"),
        ("fda-q1", False, "classification"),
        ("fda-q2", False, "requirement changes"),
        ("fda-q3a", False, "risk-file delta"),
        ("fda-q3b", False, "risk-file delta"),
        ("fda-q4", False, "assessor"),
    ]
    assert result.path[2].evidence == ("SRS-101",)
    assert result.outcome is FdaOutcome.DOCUMENT


def test_a_pure_return_to_the_cleared_specification_is_documented_at_q2() -> None:
    """Q2 yes (assessor, the records leave it open): back into cleared specification."""
    fix = change(situations=(modified_situation("HS-1", (4, 4), (3, 2), significant=True),))
    result = assess_510k(fix, [NO_INTENT, said("fda-q2", True, "restores SRS-12 as cleared")])
    assert result.outcome is FdaOutcome.DOCUMENT
    assert [a.question_id for a in result.path] == ["fda-intent", "fda-q1", "fda-q2"]


def test_a_loosened_performance_specification_needing_a_new_control_for_a_serious_hazard() -> None:
    """Q3b: a new risk control measure for a situation that could result in significant harm."""
    loosened = change(
        requirements=(requirement("SRS-7", "modified", "performance"),),
        controls=(control("RC-9", "added", "HS-3", significant=True),),
    )
    result = assess_510k(loosened, [NO_INTENT])
    assert result.outcome is FdaOutcome.NEW_510K
    last = result.path[-1]
    assert (last.question_id, last.value, last.evidence) == ("fda-q3b", True, ("RC-9",))
    assert result.path[-2].question_id == "fda-q3a"
    assert result.path[-2].value is False


def test_a_new_hazardous_situation_with_serious_harm_needs_a_510k_at_q3a() -> None:
    """Q3a: a new risk that could result in significant harm, unmitigated in the cleared device."""
    new_risk = change(
        situations=(added_situation("HS-12", 4, significant=True),),
        requirements=(requirement("SRS-30", "added"),),
    )
    result = assess_510k(new_risk, [NO_INTENT])
    assert result.outcome is FdaOutcome.NEW_510K
    assert (result.path[-1].question_id, result.path[-1].evidence) == ("fda-q3a", ("HS-12",))
    assert result.path[-1].leads_to == "new 510(k) likely"


def test_a_new_situation_with_only_minor_harm_continues_past_q3a_to_q4() -> None:
    minor = change(
        situations=(added_situation("HS-13", 2, significant=False),),
        controls=(control("RC-13", "added", "HS-13", significant=False),),
    )
    result = assess_510k(minor, [NO_INTENT, NOT_CLINICAL])
    assert [(a.question_id, a.value) for a in result.path[3:]] == [
        ("fda-q3a", False),
        ("fda-q3b", False),
        ("fda-q4", False),
    ]
    assert "HS-13 added without significant harm" in result.path[3].reason
    assert result.outcome is FdaOutcome.DOCUMENT


def test_a_raised_probability_of_a_serious_situation_is_a_modified_risk_at_q3a() -> None:
    raised = change(situations=(modified_situation("HS-1", (4, 4), (2, 3), significant=True),))
    result = assess_510k(raised, [NO_INTENT, said("fda-q2", False)])
    assert (result.path[-1].question_id, result.outcome) == ("fda-q3a", FdaOutcome.NEW_510K)


def test_a_lowered_risk_of_a_serious_situation_is_not_a_new_risk_at_q3a() -> None:
    lowered = change(situations=(modified_situation("HS-1", (4, 4), (3, 2), significant=True),))
    result = assess_510k(lowered, [NO_INTENT, said("fda-q2", False), NOT_CLINICAL])
    assert result.path[3].question_id == "fda-q3a"
    assert result.path[3].value is False


def test_an_extra_redundant_control_where_the_hazard_was_mitigated_is_not_a_new_control() -> None:
    """Q3b no: defence in depth on an already effectively mitigated hazard."""
    extra = change(controls=(control("RC-20", "added", "HS-1", significant=True, redundant=True),))
    result = assess_510k(extra, [NO_INTENT, NOT_CLINICAL])
    q3b = result.path[4]
    assert (q3b.question_id, q3b.value, q3b.evidence) == ("fda-q3b", False, ("RC-20",))
    assert "redundant" in q3b.reason
    assert "not a new risk control measure" in q3b.reason
    assert result.outcome is FdaOutcome.DOCUMENT


def test_removing_a_control_of_a_serious_situation_is_yes_at_q3b() -> None:
    removal = change(controls=(control("RC-2", "removed", "HS-1", significant=True),))
    result = assess_510k(removal, [NO_INTENT, said("fda-q2", False)])
    assert (result.path[-1].question_id, result.path[-1].value) == ("fda-q3b", True)
    assert result.outcome is FdaOutcome.NEW_510K


def test_intent_to_significantly_affect_safety_needs_a_510k_whatever_the_flowchart_says() -> None:
    """Guiding principle: intent to significantly affect safety or effectiveness decides first."""
    harmless = change(change_class="cybersecurity")
    intent = said("fda-intent", True, "marketed as reducing dosing errors")
    result = assess_510k(harmless, [intent, said("fda-q1", True)])
    assert result.outcome is FdaOutcome.NEW_510K
    assert [a.question_id for a in result.path] == ["fda-intent"]


@pytest.mark.parametrize(
    ("value", "outcome"), [(True, FdaOutcome.NEW_510K), (False, FdaOutcome.DOCUMENT)]
)
def test_q4_clinical_functionality_or_performance_decides_at_the_end(
    value: bool, outcome: FdaOutcome
) -> None:
    perf = change(requirements=(requirement("SRS-7", "modified", "performance"),))
    result = assess_510k(perf, [NO_INTENT, said("fda-q4", value, "flow accuracy spec")])
    assert result.outcome is outcome
    q4 = result.path[-1]
    assert (q4.source, q4.evidence, q4.assessor) == (Source.ASSESSOR, ("SRS-7",), "qa.lee")
    assert q4.justification == "flow accuracy spec"
    assert q4.answered_at == AT


def test_two_documented_changes_whose_sum_raises_severity_into_significant_harm() -> None:
    """Cumulative: each change alone documents; together, against the cleared device, the
    severity rose into significant harm (the harm was re-rated serious in the second)."""
    first = change("CR-3", situations=(modified_situation("HS-1", (2, 3), significant=False),))
    second = change(
        "CR-5", situations=(modified_situation("HS-1", (3, 3), (2, 2), significant=True),)
    )
    answers = [NO_INTENT, said("fda-q2", False), NOT_CLINICAL]
    assert assess_510k(first, answers).outcome is FdaOutcome.DOCUMENT
    assert assess_510k(second, answers).outcome is FdaOutcome.DOCUMENT
    together = assess_510k(second, answers, [first])
    assert together.outcome is FdaOutcome.NEW_510K
    assert together.documented == ("CR-3",)
    q3a = together.cumulative_path[0]
    assert (q3a.question_id, q3a.value, q3a.source, q3a.evidence) == (
        "fda-q3a",
        True,
        Source.CUMULATIVE,
        ("HS-1",),
    )
    assert together.path[-1].question_id == "fda-q4"  # the change's own path is kept


def test_a_situation_added_by_one_change_and_re_rated_serious_with_a_control_by_another() -> None:
    """Cumulative: CR-3 adds HS-9, rated not serious then; CR-5 re-rates it serious (the matrix
    changed, severity did not rise) and adds an extra control where it was already mitigated.
    Each alone documents; against the cleared device HS-9 is a new serious risk: Q3a yes."""
    first = change("CR-3", situations=(added_situation("HS-9", 3, significant=False),))
    second = change(
        "CR-5",
        situations=(modified_situation("HS-9", (3, 3), significant=True),),
        controls=(control("RC-10", "added", "HS-9", significant=True, redundant=True),),
    )
    answers = [NO_INTENT, NOT_CLINICAL]
    assert assess_510k(first, answers).outcome is FdaOutcome.DOCUMENT
    alone = assess_510k(second, answers)
    assert alone.outcome is FdaOutcome.DOCUMENT
    assert (alone.path[4].question_id, alone.path[4].value) == ("fda-q3b", False)
    together = assess_510k(second, answers, [first])
    assert together.outcome is FdaOutcome.NEW_510K
    assert [(a.question_id, a.value, a.evidence) for a in together.cumulative_path] == [
        ("fda-q3a", True, ("HS-9",))
    ]


def test_a_redundant_control_for_a_situation_the_change_adds_is_a_new_control() -> None:
    """Q3b: "redundant" means the hazard was already mitigated; a new situation was not."""
    facts = change(
        situations=(added_situation("HS-9", 2, significant=False),),
        controls=(control("RC-10", "added", "HS-9", significant=True, redundant=True),),
    )
    finding = decide_q3b(facts)
    assert (finding.value, finding.evidence) == (True, ("RC-10",))


def test_documented_changes_that_stay_below_the_line_ask_the_cumulative_q4() -> None:
    first = change("CR-3", requirements=(requirement("SRS-7", "modified", "performance"),))
    second = change("CR-5", requirements=(requirement("SRS-7", "modified", "performance"),))
    answers = [NO_INTENT, NOT_CLINICAL]
    with pytest.raises(UnansweredQuestionError) as raised:
        assess_510k(second, answers, [first])
    assert raised.value.question_ids == ["fda-q4-cumulative"]
    assert raised.value.questions[0].context == ("performance requirements changed: SRS-7",)
    drift = said("fda-q4-cumulative", True, "two loosenings of flow accuracy add up")
    result = assess_510k(second, [*answers, drift], [first])
    assert result.outcome is FdaOutcome.NEW_510K
    assert result.cumulative_path[-1].source is Source.ASSESSOR


def test_an_unanswered_question_is_never_defaulted_and_all_reached_ones_are_listed() -> None:
    patch = change(change_class="cybersecurity")
    with pytest.raises(UnansweredQuestionError) as raised:
        assess_510k(patch, [])
    assert raised.value.question_ids == ["fda-intent", "fda-q1", "fda-q2", "fda-q4"]
    assert "Is the change made solely to strengthen cybersecurity" in str(raised.value)


def test_an_answer_to_a_question_the_records_decide_is_refused() -> None:
    new_risk = change(situations=(added_situation("HS-12", 4, significant=True),))
    opinion = said("fda-q3a", False, "we think it is fine")
    with pytest.raises(AnswerNotNeededError) as raised:
        assess_510k(new_risk, [NO_INTENT, opinion])
    assert raised.value.question_id == "fda-q3a"
    assert "HS-12" in str(raised.value)


def test_an_answer_to_q1_is_refused_when_the_classification_decides_it() -> None:
    with pytest.raises(AnswerNotNeededError, match="classification"):
        assess_510k(change(change_class="major"), [NO_INTENT, said("fda-q1", True)])


@pytest.mark.parametrize("justification", ["", "   "])
def test_an_answer_without_justification_is_refused(justification: str) -> None:
    with pytest.raises(InvalidAnswerError, match="justification"):
        AssessorAnswer("fda-q4", True, justification, "qa.lee", AT)


def test_an_answer_to_an_unknown_question_or_twice_is_refused() -> None:
    with pytest.raises(InvalidAnswerError, match="unknown question"):
        said("fda-q9", True)
    with pytest.raises(InvalidAnswerError, match="more than once"):
        assess_510k(change(), [NO_INTENT, NO_INTENT])


def test_an_answer_needs_a_yes_or_no_an_assessor_and_an_aware_time() -> None:
    with pytest.raises(InvalidAnswerError, match="yes or no"):
        AssessorAnswer("fda-q4", "yes", "why", "qa.lee", AT)  # type: ignore[arg-type]
    with pytest.raises(InvalidAnswerError, match="names its assessor"):
        AssessorAnswer("fda-q4", True, "why", " ", AT)
    with pytest.raises(InvalidAnswerError, match="time zone"):
        AssessorAnswer("fda-q4", True, "why", "qa.lee", AT.replace(tzinfo=None))
    stored = said("fda-q4", True, "kept as JSON")
    assert AssessorAnswer.from_dict(stored.as_dict()) == stored
    with pytest.raises(InvalidAnswerError, match="malformed"):
        AssessorAnswer.from_dict({"question_id": "fda-q4"})
