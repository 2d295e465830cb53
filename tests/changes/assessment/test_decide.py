"""The whole assessment: PCCP first for AI models, the 510(k) flowchart, MDCG chart C always."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.audit.model import canonical_json
from medfleet.changes.assessment.decide import answers_path, assess, open_questions
from medfleet.changes.assessment.errors import AnswerNotNeededError, UnansweredQuestionError
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.fda_510k import FdaOutcome
from medfleet.changes.assessment.mdcg import MdcgOutcome
from medfleet.changes.assessment.pccp import ModelEvaluation
from medfleet.changes.assessment.questions import AssessorAnswer

from .factories import AT, MDCG_NO, NO_INTENT, NOT_CLINICAL, added_situation, change, said
from .strategies import histories
from .test_pccp import GOOD, PLAN

C1_NO = MDCG_NO[0]


def test_an_ai_model_change_inside_its_pccp_needs_no_flowchart() -> None:
    model = change("CR-40", "ai_model")
    result = assess(model, [C1_NO], plan=PLAN, evaluation=GOOD)
    assert result.outcomes() == {
        "fda": "implement under the PCCP",
        "mdcg": "significant change",
        "pccp": "implement under the PCCP",
    }
    assert [a.question_id for a in result.fda.path] == ["pccp-in-plan", "pccp-criteria"]
    assert result.submission_needed  # the EU side still sees a significant change


def test_an_ai_model_change_outside_its_pccp_goes_through_the_flowchart_after_the_pccp() -> None:
    model = change("CR-40", "ai_model")
    worse = ModelEvaluation("M1", {"sensitivity": 0.5}, "holdout")
    with pytest.raises(UnansweredQuestionError) as raised:
        assess(model, [C1_NO], plan=PLAN, evaluation=worse)
    assert raised.value.question_ids == ["fda-intent", "fda-q2", "fda-q4"]
    result = assess(
        model, [C1_NO, NO_INTENT, said("fda-q2", False), NOT_CLINICAL], plan=PLAN, evaluation=worse
    )
    assert [a.question_id for a in result.fda.path][:3] == [
        "pccp-in-plan",
        "pccp-criteria",
        "fda-intent",
    ]
    assert result.fda.outcome is FdaOutcome.DOCUMENT
    assert result.pccp is not None
    assert len(result.pccp.reasons) == 2


def test_unanswered_questions_of_every_framework_are_listed_together() -> None:
    facts = change(situations=(added_situation("HS-1", 2, significant=False),))
    expected = ["fda-intent", "fda-q4"] + [f"mdcg-c{n}" for n in range(1, 6)]
    with pytest.raises(UnansweredQuestionError) as raised:
        assess(facts, [])
    assert raised.value.question_ids == expected
    assert [q.id for q in open_questions(facts)] == expected
    assert [q.id for q in open_questions(facts, [NO_INTENT, *MDCG_NO])] == ["fda-q4"]
    assert open_questions(facts, [NO_INTENT, NOT_CLINICAL, *MDCG_NO]) == []


def test_pccp_questions_are_never_the_assessors() -> None:
    with pytest.raises(AnswerNotNeededError, match="pccp-criteria"):
        assess(change("CR-40", "ai_model"), [said("pccp-criteria", True)], plan=PLAN)


def test_answers_no_path_reaches_are_kept_out_and_listed() -> None:
    intent = said("fda-intent", True, "new dosing claim")
    result = assess(change(), [intent, NOT_CLINICAL, *MDCG_NO])
    assert result.fda.outcome is FdaOutcome.NEW_510K
    assert result.unused_answers == ("fda-q4",)
    assert "fda-q4" not in [a.question_id for a in answers_path(result)]


def test_the_json_form_has_each_frameworks_outcome_and_ordered_path() -> None:
    result = assess(change(), [NO_INTENT, said("fda-q2", False), NOT_CLINICAL, *MDCG_NO])
    data = result.as_dict()
    assert data["outcomes"] == {
        "fda": "document (letter to file)",
        "mdcg": "not significant change",
    }
    assert [a["question_id"] for a in data["fda"]["path"]][:2] == ["fda-intent", "fda-q1"]
    assert data["fda"]["path"][0]["assessor"] == "qa.lee"
    assert data["mdcg"]["outcome"] == "not significant change"
    assert [(a["path"], a["question_id"]) for a in data["path"]][-6:-4] == [
        ("fda", "fda-q4"),
        ("mdcg", "mdcg-c1"),
    ]
    canonical_json(data)


def test_the_signed_content_covers_facts_answers_and_outcomes_in_one_form() -> None:
    answers = [NO_INTENT, said("fda-q2", False), NOT_CLINICAL, *MDCG_NO]
    first = assess(change(), answers).canonical_content()
    same = assess(change(), list(reversed(answers))).canonical_content()
    assert canonical_json(first) == canonical_json(same)
    assert first["answers"][0]["answered_at"] == "2025-03-04T10:30:00.000000+00:00"
    reworded = [
        dataclasses.replace(NOT_CLINICAL, justification="other words"),
        *answers[:2],
        *MDCG_NO,
    ]
    assert canonical_json(assess(change(), reworded).canonical_content()) != canonical_json(first)
    later = [dataclasses.replace(NO_INTENT, answered_at=AT + timedelta(seconds=1)), *answers[1:]]
    assert canonical_json(assess(change(), later).canonical_content()) != canonical_json(first)


# --- properties ---------------------------------------------------------------------------


def _answer_everything(
    facts: ChangeFacts, documented: list[ChangeFacts], data: st.DataObject
) -> list[AssessorAnswer]:
    wanted = open_questions(facts, [], documented)
    return [
        AssessorAnswer(q.id, data.draw(st.booleans(), label=q.id), "assessed", "qa.lee", AT)
        for q in wanted
    ]


def _shuffled(facts: ChangeFacts, data: st.DataObject) -> ChangeFacts:
    return dataclasses.replace(
        facts,
        situations=tuple(data.draw(st.permutations(facts.situations))),
        controls=tuple(data.draw(st.permutations(facts.controls))),
        requirements=tuple(data.draw(st.permutations(facts.requirements))),
    )


@settings(max_examples=150)
@given(histories(max_size=4), st.data())
def test_paths_end_in_one_outcome_never_repeat_and_ignore_the_order_of_facts(
    history: list[ChangeFacts], data: st.DataObject
) -> None:
    *documented, facts = history
    answers = _answer_everything(facts, documented, data)
    result = assess(facts, answers, documented)
    outcomes = {o.value for o in FdaOutcome} | {o.value for o in MdcgOutcome}
    for path in (result.fda.path, result.fda.cumulative_path, result.mdcg.path):
        ids = [a.question_id for a in path]
        assert len(ids) == len(set(ids)), "a question asked twice on one path"
        ends = [a for a in path if a.leads_to in outcomes]
        assert ends == ([path[-1]] if path else []), "exactly one answer ends each path"
    assert result.fda.outcome.value in outcomes
    assert result.mdcg.outcome.value in outcomes
    if result.fda.outcome is FdaOutcome.DOCUMENT and not result.fda.cumulative_path:
        assert result.fda.path[-1].leads_to == FdaOutcome.DOCUMENT.value

    reordered = assess(
        _shuffled(facts, data),
        list(reversed(answers)),
        [_shuffled(d, data) for d in documented],
    )
    assert reordered.outcomes() == result.outcomes()
    for key in ("fda", "mdcg"):
        assert reordered.as_dict()[key] == result.as_dict()[key]
