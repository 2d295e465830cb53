"""EU MDCG 2020-3 Rev.1, chart C (software changes): is the change significant?

Chart C asks, in order, whether the software change is a::

    C1 New or major change of operating system or any component?
    C2 New or modified architecture or database structure, change of an algorithm?
    C3 Required user input replaced by a closed loop algorithm?
    C4 New diagnostic or therapeutic feature or new channel of interoperability?
    C5 New user interface or presentation of data?

Any "yes" makes the change a significant change; "no" to all leaves a minor software change
(bug fixes, security patches, appearance of the user interface, operating efficiency), not
significant. The chart draws on MDR Annex VI Part C section 6.5.2, which names "new or modified
algorithms, database structures, operating platform, architecture or new user interfaces or new
channels for interoperability" as changes needing a new UDI-DI.

What the records decide: an ``ai_model`` change replaces the device's model, which is a "change
of an algorithm" in the words of box C2, so C2 is "yes" (source classification). Every other box
is the assessor's, shown the requirement changes that bear on it.

Uncertainty, stated on purpose: the official chart's full text (MDCG 2020-3 Rev.1, section
4.3.2.3) could not be read here; the five boxes and their order are taken from secondary
sources quoting it (questions "C1 to C5"), and the yes-branches are encoded as leading straight
to "significant change". Software changes that also change the design or performance
specification go through chart B as well (e.g. B2: new risks requiring control measures, or
existing risks negatively affected), which is not encoded here; an RA reviewer should confirm
against the published chart before relying on this for a notified body.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medfleet.changes.assessment.errors import UnansweredQuestionError
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.flowchart import (
    Context,
    Finding,
    Step,
    Walk,
    check_answers,
    walk,
)
from medfleet.changes.assessment.questions import Answer, AssessorAnswer, Source, index_answers


class MdcgOutcome(enum.StrEnum):
    """Where chart C ends."""

    SIGNIFICANT = "significant change"
    NOT_SIGNIFICANT = "not significant change"


def _undecided(_: ChangeFacts) -> Finding | None:
    return None


def decide_c2(facts: ChangeFacts) -> Finding | None:
    """C2 from the classification: an AI-model change is a change of an algorithm."""
    if facts.change_class == "ai_model":
        return Finding(
            True,
            Source.CLASSIFICATION,
            "the change is classified ai_model: replacing the device's model is a 'change of "
            "an algorithm' (chart C, box C2)",
        )
    return None


def _requirements(
    kinds: tuple[str, ...], actions: tuple[str, ...], note: str
) -> Callable[[ChangeFacts], Context]:
    def context(facts: ChangeFacts) -> Context:
        keys = sorted(r.key for r in facts.requirements if r.kind in kinds and r.action in actions)
        return Context(note, tuple(keys))

    return context


SIG, NOT_SIG = MdcgOutcome.SIGNIFICANT.value, MdcgOutcome.NOT_SIGNIFICANT.value

STEPS: tuple[Step, ...] = (
    Step("mdcg-c1", _undecided, SIG, "mdcg-c2"),
    Step(
        "mdcg-c2",
        decide_c2,
        SIG,
        "mdcg-c3",
        _requirements(("functional", "performance"), ("modified",), "requirements modified"),
    ),
    Step("mdcg-c3", _undecided, SIG, "mdcg-c4"),
    Step(
        "mdcg-c4",
        _undecided,
        SIG,
        "mdcg-c5",
        _requirements(("functional",), ("added",), "functional requirements added"),
    ),
    Step(
        "mdcg-c5",
        _undecided,
        SIG,
        NOT_SIG,
        _requirements(
            ("usability",), ("added", "modified", "retired"), "usability requirements changed"
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class MdcgResult:
    """Chart C's outcome and the ordered answers that led there."""

    outcome: MdcgOutcome
    path: tuple[Answer, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"outcome": self.outcome.value, "path": [a.as_dict() for a in self.path]}


def walk_chart_c(change: ChangeFacts, answers: Mapping[str, AssessorAnswer]) -> Walk:
    """Walk chart C; the outcome is ``None`` while a reached box is unanswered."""
    return walk(STEPS, change, answers)


def result_of(walked: Walk) -> MdcgResult:
    """The result of a finished walk (one with an outcome)."""
    if walked.outcome is None:
        raise ValueError("chart C walk is not finished")  # pragma: no cover - caller checks
    return MdcgResult(MdcgOutcome(walked.outcome), walked.answers)


def assess_chart_c(change: ChangeFacts, answers: Sequence[AssessorAnswer]) -> MdcgResult:
    """Chart C's outcome for ``change``.

    Raises:
        UnansweredQuestionError: boxes the path reaches that need an assessor answer.
        AnswerNotNeededError: an assessor answered a box the records decide.
        DuplicateAnswerError: a box answered twice.
    """
    indexed = index_answers(answers)
    check_answers(STEPS, change, indexed)
    walked = walk_chart_c(change, indexed)
    if walked.unanswered:
        raise UnansweredQuestionError(walked.unanswered)
    return result_of(walked)
