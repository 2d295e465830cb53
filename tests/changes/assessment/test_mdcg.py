"""MDCG 2020-3 chart C: any box answered yes makes the software change significant."""

from __future__ import annotations

import pytest

from medfleet.changes.assessment.errors import AnswerNotNeededError, UnansweredQuestionError
from medfleet.changes.assessment.mdcg import MdcgOutcome, assess_chart_c
from medfleet.changes.assessment.questions import Source

from .factories import MDCG_NO, change, requirement, said


def test_a_minor_change_answering_no_to_every_box_is_not_significant() -> None:
    result = assess_chart_c(change(), MDCG_NO)
    assert result.outcome is MdcgOutcome.NOT_SIGNIFICANT
    assert [a.question_id for a in result.path] == [f"mdcg-c{n}" for n in range(1, 6)]
    assert result.path[-1].leads_to == "not significant change"


@pytest.mark.parametrize("box", [1, 2, 3, 4, 5])
def test_a_yes_at_any_box_is_a_significant_change_and_ends_the_chart(box: int) -> None:
    answers = [said(f"mdcg-c{n}", n == box, "checked") for n in range(1, box + 1)]
    result = assess_chart_c(change(), answers)
    assert result.outcome is MdcgOutcome.SIGNIFICANT
    assert len(result.path) == box


def test_an_ai_model_change_is_a_change_of_an_algorithm_from_its_classification() -> None:
    result = assess_chart_c(change(change_class="ai_model"), [MDCG_NO[0]])
    c2 = result.path[1]
    assert (c2.question_id, c2.value, c2.source) == ("mdcg-c2", True, Source.CLASSIFICATION)
    assert "change of an algorithm" in c2.reason
    assert result.outcome is MdcgOutcome.SIGNIFICANT


def test_an_assessor_cannot_answer_c2_for_an_ai_model_change() -> None:
    with pytest.raises(AnswerNotNeededError, match="mdcg-c2"):
        assess_chart_c(change(change_class="ai_model"), MDCG_NO)


def test_open_boxes_are_listed_with_the_requirement_changes_that_bear_on_them() -> None:
    facts = change(
        requirements=(
            requirement("SRS-5", "added", "functional"),
            requirement("UX-2", "modified", "usability"),
        )
    )
    with pytest.raises(UnansweredQuestionError) as raised:
        assess_chart_c(facts, [])
    assert raised.value.question_ids == [f"mdcg-c{n}" for n in range(1, 6)]
    contexts = {q.id: q.context for q in raised.value.questions}
    assert contexts["mdcg-c4"] == ("functional requirements added: SRS-5",)
    assert contexts["mdcg-c5"] == ("usability requirements changed: UX-2",)
