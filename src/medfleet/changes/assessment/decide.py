"""The whole regulatory assessment of one change: PCCP, FDA 510(k) flowchart, MDCG chart C.

``assess`` is what the service calls with the facts it read from the database and the answers
the assessors gave. For an ``ai_model`` change the PCCP is checked first: inside an authorized
plan with every acceptance criterion met, the FDA outcome is "implement under the PCCP" and the
flowchart is not needed; otherwise the PCCP answers open the FDA path and the 510(k) flowchart
follows. MDCG 2020-3 chart C is always walked. Before any walking, every assessor answer is
checked: unknown, duplicated, or about a question the records decide (``AnswerNotNeededError``)
is refused. If any reached question is still open, ``UnansweredQuestionError`` lists all of
them across frameworks; ``open_questions`` returns that list without raising, for a UI.

Answers to questions no path reaches (say, Q4 after intent was "yes") are kept out of the paths
and listed in ``unused_answers``; they are never counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medfleet.audit.model import canonical_time
from medfleet.changes.assessment import fda_510k, mdcg
from medfleet.changes.assessment.errors import AnswerNotNeededError, UnansweredQuestionError
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.fda_510k import FdaOutcome, FdaResult
from medfleet.changes.assessment.flowchart import check_answers
from medfleet.changes.assessment.mdcg import MdcgResult
from medfleet.changes.assessment.pccp import (
    ModelEvaluation,
    PccpDecision,
    PccpOutcome,
    PccpPlan,
    assess_pccp,
)
from medfleet.changes.assessment.questions import (
    CATALOGUE,
    PCCP,
    Answer,
    AssessorAnswer,
    Question,
    index_answers,
)

FORMAT = "medfleet-regulatory-assessment-v1"


@dataclass(frozen=True, slots=True)
class RegulatoryAssessment:
    """A finished assessment: the facts and answers it used, and each framework's outcome."""

    change: ChangeFacts
    documented: tuple[ChangeFacts, ...]
    answers: tuple[AssessorAnswer, ...]
    fda: FdaResult
    mdcg: MdcgResult
    pccp: PccpDecision | None
    plan: PccpPlan | None
    evaluation: ModelEvaluation | None
    unused_answers: tuple[str, ...]

    @property
    def submission_needed(self) -> bool:
        """True when FDA says a new 510(k) is likely or the EU change is significant."""
        return (
            self.fda.outcome is FdaOutcome.NEW_510K
            or self.mdcg.outcome is mdcg.MdcgOutcome.SIGNIFICANT
        )

    def outcomes(self) -> dict[str, str]:
        """Each framework's outcome label, by framework (``pccp`` only for AI-model changes)."""
        found = {"fda": self.fda.outcome.value, "mdcg": self.mdcg.outcome.value}
        if self.pccp is not None:
            found["pccp"] = self.pccp.outcome.value
        return found

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` and the API: outcomes, ordered paths, facts."""
        return {
            "change": self.change.as_dict(),
            "documented": [d.key for d in self.documented],
            "outcomes": self.outcomes(),
            "submission_needed": self.submission_needed,
            "fda": self.fda.as_dict(),
            "mdcg": self.mdcg.as_dict(),
            "pccp": None if self.pccp is None else self.pccp.as_dict(),
            "unused_answers": list(self.unused_answers),
            "path": [
                {**answer.as_dict(), "path": name}
                for name, answers in (
                    ("fda", self.fda.path),
                    ("fda-cumulative", self.fda.cumulative_path),
                    ("mdcg", self.mdcg.path),
                )
                for answer in answers
            ],
        }

    def canonical_content(self) -> dict[str, Any]:
        """Everything a signature on this assessment vouches for, as JSON-ready data.

        The facts of the change and of every documented change summed with it, the plan and
        evaluation, every assessor answer (UTC times in their one canonical form), the question
        texts asked and each framework's path and outcome. Serialize with
        ``medfleet.audit.model.canonical_json`` before hashing.
        """
        body = self.as_dict()
        del body["path"]  # the same answers as the frameworks' paths
        for framework in ("fda", "mdcg", "pccp"):
            section = body[framework]
            if section is None:
                continue
            for key in ("path", "cumulative_path"):
                for answer in section.get(key, ()):
                    if answer["answered_at"] is not None:
                        moment = datetime.fromisoformat(answer["answered_at"])
                        answer["answered_at"] = canonical_time(moment)
        body["format"] = FORMAT
        body["documented"] = [d.as_dict() for d in self.documented]
        body["plan"] = None if self.plan is None else self.plan.as_dict()
        body["evaluation"] = None if self.evaluation is None else self.evaluation.as_dict()
        body["answers"] = [
            {**a.as_dict(), "answered_at": canonical_time(a.answered_at)}
            for a in sorted(self.answers, key=lambda a: a.question_id)
        ]
        return body


@dataclass(frozen=True, slots=True)
class _Outcome:
    assessment: RegulatoryAssessment | None
    unanswered: tuple[Question, ...]


def _check(
    change: ChangeFacts, indexed: Mapping[str, AssessorAnswer], documented: Sequence[ChangeFacts]
) -> None:
    for question_id in indexed:
        if CATALOGUE[question_id].framework == PCCP:
            raise AnswerNotNeededError(
                question_id, "the PCCP questions are decided by the plan and the evaluation"
            )
    fda_510k.check_510k_answers(change, indexed, documented)
    check_answers(mdcg.STEPS, change, indexed)


def _evaluate(
    change: ChangeFacts,
    answers: Sequence[AssessorAnswer],
    documented: Sequence[ChangeFacts],
    plan: PccpPlan | None,
    evaluation: ModelEvaluation | None,
) -> _Outcome:
    indexed = index_answers(answers)
    _check(change, indexed, documented)
    pccp = assess_pccp(change, plan, evaluation) if change.change_class == "ai_model" else None
    unanswered: list[Question] = []
    fda: FdaResult | None
    if pccp is not None and pccp.outcome is PccpOutcome.IMPLEMENT:
        fda = FdaResult(FdaOutcome.PCCP, pccp.path)
    else:
        prefix = () if pccp is None else pccp.path
        walked = fda_510k.walk_510k(change, indexed, documented, prefix)
        fda = walked.result
        unanswered += walked.unanswered
    chart_c = mdcg.walk_chart_c(change, indexed)
    unanswered += chart_c.unanswered
    if fda is None or unanswered:
        return _Outcome(None, tuple(unanswered))
    result = mdcg.result_of(chart_c)
    used = {a.question_id for a in fda.path + fda.cumulative_path + result.path}
    return _Outcome(
        RegulatoryAssessment(
            change=change,
            documented=tuple(documented),
            answers=tuple(answers),
            fda=fda,
            mdcg=result,
            pccp=pccp,
            plan=plan,
            evaluation=evaluation,
            unused_answers=tuple(sorted(set(indexed) - used)),
        ),
        (),
    )


def assess(
    change: ChangeFacts,
    answers: Sequence[AssessorAnswer],
    documented: Sequence[ChangeFacts] = (),
    plan: PccpPlan | None = None,
    evaluation: ModelEvaluation | None = None,
) -> RegulatoryAssessment:
    """The regulatory assessment of ``change``: FDA (with PCCP for AI models) and MDCG chart C.

    ``documented`` are the changes documented (letter to file) since the last cleared version,
    oldest first; ``plan`` and ``evaluation`` matter only for ``ai_model`` changes.

    Raises:
        UnansweredQuestionError: every reached question still needing an assessor answer.
        AnswerNotNeededError: an assessor answered a question the records decide.
        DuplicateAnswerError: a question answered twice.
        InvalidFactsError: the documented changes cannot be combined with this one.
    """
    outcome = _evaluate(change, answers, documented, plan, evaluation)
    if outcome.assessment is None:
        raise UnansweredQuestionError(outcome.unanswered)
    return outcome.assessment


def open_questions(
    change: ChangeFacts,
    answers: Sequence[AssessorAnswer] = (),
    documented: Sequence[ChangeFacts] = (),
    plan: PccpPlan | None = None,
    evaluation: ModelEvaluation | None = None,
) -> list[Question]:
    """The questions ``assess`` would still ask, in order, each with its record context.

    Every question the paths may reach is listed (an open question is followed along the
    branch that continues its flowchart), so a UI can ask for all of them before running.
    Empty when ``assess`` would succeed.

    Raises:
        AnswerNotNeededError, DuplicateAnswerError, InvalidFactsError: as ``assess``.
    """
    return list(_evaluate(change, answers, documented, plan, evaluation).unanswered)


def answers_path(assessment: RegulatoryAssessment) -> list[Answer]:
    """Every answer of the assessment in the order asked: FDA, cumulative FDA, then MDCG."""
    return [*assessment.fda.path, *assessment.fda.cumulative_path, *assessment.mdcg.path]
