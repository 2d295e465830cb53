"""Errors of the regulatory assessment: bad facts, refused or missing answers, bad PCCP plans.

Every error here is an ``AssessmentError`` (a ``ChangesError``) and an ``InvalidInput``, so the
API answers 422 and the CLI exits with the invalid-input code; nothing was recorded. Callers
branch on the concrete classes: ``UnansweredQuestionError`` carries the questions to ask
(``questions``), ``AnswerNotNeededError`` the question the facts already decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medfleet.changes.errors import ChangesError
from medfleet.errors import InvalidInput

if TYPE_CHECKING:
    from medfleet.changes.assessment.questions import Question


class AssessmentError(ChangesError, InvalidInput):
    """Base of every regulatory-assessment error; the assessment was not made."""


class InvalidFactsError(AssessmentError):
    """The facts about a change are malformed or contradict each other."""


class InvalidAnswerError(AssessmentError):
    """An assessor answer is malformed (empty justification, naive time, unknown question)."""


class DuplicateAnswerError(InvalidAnswerError):
    """The same question was answered more than once in one assessment."""


class AnswerNotNeededError(InvalidAnswerError):
    """The assessor answered a question that medfleet's own records already decide.

    medfleet never lets an opinion override its records: ``question_id`` names the question
    and ``decided_by`` says which facts decide it and how.
    """

    def __init__(self, question_id: str, decided_by: str) -> None:
        self.question_id = question_id
        self.decided_by = decided_by
        super().__init__(
            f"question {question_id} is decided by medfleet's records, not by the assessor: "
            f"{decided_by}; remove the answer"
        )


class UnansweredQuestionError(AssessmentError):
    """Questions the facts do not decide and the assessor has not answered yet.

    ``questions`` lists every such question the assessment paths reach, in the order they are
    asked (ids and texts), so a UI can ask for all of them at once. Nothing is ever defaulted.
    """

    def __init__(self, questions: Sequence[Question]) -> None:
        self.questions: list[Question] = list(questions)
        listed = "; ".join(f"{q.id}: {q.text}" for q in self.questions)
        super().__init__(f"{len(self.questions)} question(s) need an assessor answer: {listed}")

    @property
    def question_ids(self) -> list[str]:
        """The ids of the unanswered questions, in the order they are asked."""
        return [question.id for question in self.questions]

    def problem_members(self) -> dict[str, Any]:
        """``unanswered``: each open question's id and text, for the API and ``--json``."""
        return {"unanswered": [{"id": q.id, "text": q.text} for q in self.questions]}


class InvalidPlanError(AssessmentError):
    """A predetermined change control plan or a model evaluation is malformed."""


class PccpNotApplicableError(AssessmentError):
    """A PCCP check was asked for a change that is not an AI-model change."""
