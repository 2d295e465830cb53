"""FDA's software flowchart: does a software change to a cleared device need a new 510(k)?

Encodes "Deciding When to Submit a 510(k) for a Software Change to an Existing Device" (FDA,
2017), Figure 1, preceded by the guiding principle that a change made with intent to
significantly affect safety or effectiveness likely needs a new 510(k) whatever the flowchart
says::

    fda-intent  yes -> new 510(k) likely         no -> Q1
    Q1 solely cybersecurity, no other impact?    yes -> document   no -> Q2
    Q2 solely back into cleared specification?   yes -> document   no -> Q3a
    Q3a new/modified risk, significant harm?     yes -> new 510(k) no -> Q3b
    Q3b new/modified risk control, sig. harm?    yes -> new 510(k) no -> Q4
    Q4 clinical functionality / performance?     yes -> new 510(k) no -> document

What the records decide (never the assessor): Q1 is "no" for a change not classified
cybersecurity, and for a cybersecurity change that touches the risk file or non-security
requirements; Q2 is "no" when requirements are added, modified or retired or hazardous
situations or risk controls are added (returning to specification does not change the
specification); Q3a and Q3b come from the risk-file delta alone. The intent, Q4, and Q1/Q2
where the records leave them open, are the assessor's.

Changes documented (letter to file) since the last clearance are judged together with this one
against the most recently cleared device: their sum (``facts.combine``) goes through Q3a, Q3b
(records) and ``fda-q4-cumulative`` (assessor). The cumulative path is walked only when the
change alone does not already need a new 510(k).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medfleet.changes.assessment.errors import UnansweredQuestionError
from medfleet.changes.assessment.facts import ChangeFacts, combine
from medfleet.changes.assessment.flowchart import Context, Finding, Step, check_answers, walk
from medfleet.changes.assessment.questions import (
    Answer,
    AssessorAnswer,
    Question,
    Source,
    index_answers,
)


class FdaOutcome(enum.StrEnum):
    """Where the FDA assessment ends."""

    NEW_510K = "new 510(k) likely"
    DOCUMENT = "document (letter to file)"
    PCCP = "implement under the PCCP"


def _keys(items: Sequence[Any]) -> tuple[str, ...]:
    return tuple(sorted(item.key for item in items))


def _undecided(_: ChangeFacts) -> Finding | None:
    return None


def decide_q1(facts: ChangeFacts) -> Finding | None:
    """Q1 from the records: ``None`` when only the assessor can say (a clean security change)."""
    if facts.change_class != "cybersecurity":
        return Finding(
            False,
            Source.CLASSIFICATION,
            f"the change is classified {facts.change_class}, not cybersecurity",
        )
    risk = _keys(facts.situations + facts.controls)
    other = _keys([r for r in facts.requirements if r.kind != "security"])
    if risk:
        return Finding(
            False,
            Source.RISK_DELTA,
            "the change alters the risk file, an impact beyond strengthening cybersecurity",
            risk + other,
        )
    if other:
        return Finding(
            False,
            Source.REQUIREMENTS,
            "the change alters requirements other than security requirements",
            other,
        )
    return None


def decide_q2(facts: ChangeFacts) -> Finding | None:
    """Q2 from the records: "no" when the specification changes; else the assessor's."""
    requirements = _keys(facts.requirements)
    added = _keys([i for i in facts.situations + facts.controls if i.action == "added"])
    if not requirements and not added:
        return None
    reason = (
        "returning the system into the specification of the most recently cleared device does "
        "not change that specification, but this change "
    )
    if requirements:
        return Finding(
            False,
            Source.REQUIREMENTS,
            reason + "adds, modifies or retires requirements",
            requirements + added,
        )
    return Finding(
        False, Source.RISK_DELTA, reason + "adds hazardous situations or risk controls", added
    )


def decide_q3a(facts: ChangeFacts) -> Finding:
    """Q3a from the risk-file delta alone (severity judged before mitigation)."""
    new = [s for s in facts.situations if s.significant_harm and s.action == "added"]
    rose = [s for s in facts.situations if s.significant_harm and s.risk_rose]
    if new or rose:
        parts = []
        if new:
            parts.append(f"new hazardous situation(s) {', '.join(_keys(new))}")
        if rose:
            parts.append(
                f"existing situation(s) {', '.join(_keys(rose))} with severity (before "
                "mitigation) or probability raised"
            )
        return Finding(
            True,
            Source.RISK_DELTA,
            " and ".join(parts) + " could result in significant harm; the most recently "
            "cleared device does not mitigate them as they now are",
            _keys(new + rose),
        )
    minor = _keys([s for s in facts.situations if s.action == "added"])
    note = f"; {', '.join(minor)} added without significant harm" if minor else ""
    return Finding(
        False,
        Source.RISK_DELTA,
        "no hazardous situation that could result in significant harm is added or has its "
        f"severity (before mitigation) or probability raised{note}",
    )


def decide_q3b(facts: ChangeFacts) -> Finding:
    """Q3b from the risk-file delta alone; a redundant extra control is not a new control."""
    added = {s.key for s in facts.situations if s.action == "added"}
    serious = [c for c in facts.controls if c.significant_harm]
    # a control for a situation this change adds cannot be redundant: nothing mitigated it
    # before (matters for a sum of changes, whose "before" is the cleared device)
    hits = [
        c
        for c in serious
        if c.action != "added" or not c.redundant or added.intersection(c.situations)
    ]
    if hits:
        described = ", ".join(f"{c.key} ({c.action})" for c in sorted(hits, key=lambda c: c.key))
        return Finding(
            True,
            Source.RISK_DELTA,
            "risk control measures for hazardous situations that could result in significant "
            f"harm are created, modified or removed: {described}",
            _keys(hits),
        )
    redundant = _keys([c for c in serious if c not in hits])
    note = (
        f"; {', '.join(redundant)} is an extra, redundant control added where the hazard was "
        "already effectively mitigated (its other controls unchanged): not a new risk control "
        "measure"
        if redundant
        else ""
    )
    return Finding(
        False,
        Source.RISK_DELTA,
        "no risk control measure for a hazardous situation that could result in significant "
        f"harm is created, modified or removed{note}",
        redundant,
    )


def _performance(facts: ChangeFacts) -> Context:
    changed = [r for r in facts.requirements if r.kind == "performance"]
    return Context("performance requirements changed", _keys(changed))


def _security(facts: ChangeFacts) -> Context:
    changed = [r for r in facts.requirements if r.kind == "security"]
    return Context("security requirements changed", _keys(changed))


NEW, DOC = FdaOutcome.NEW_510K.value, FdaOutcome.DOCUMENT.value

STEPS: tuple[Step, ...] = (
    Step("fda-intent", _undecided, NEW, "fda-q1"),
    Step("fda-q1", decide_q1, DOC, "fda-q2", _security),
    Step("fda-q2", decide_q2, DOC, "fda-q3a"),
    Step("fda-q3a", decide_q3a, NEW, "fda-q3b"),
    Step("fda-q3b", decide_q3b, NEW, "fda-q4"),
    Step("fda-q4", _undecided, NEW, DOC, _performance),
)

CUMULATIVE_STEPS: tuple[Step, ...] = (
    Step("fda-q3a", decide_q3a, NEW, "fda-q3b"),
    Step("fda-q3b", decide_q3b, NEW, "fda-q4-cumulative"),
    Step("fda-q4-cumulative", _undecided, NEW, DOC, _performance),
)


@dataclass(frozen=True, slots=True)
class FdaResult:
    """The FDA outcome with the change's own path and, when judged, the cumulative path.

    ``documented`` names the changes summed with this one for the cumulative path.
    """

    outcome: FdaOutcome
    path: tuple[Answer, ...]
    cumulative_path: tuple[Answer, ...] = ()
    documented: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: outcome and both paths in order."""
        return {
            "outcome": self.outcome.value,
            "path": [answer.as_dict() for answer in self.path],
            "cumulative_path": [answer.as_dict() for answer in self.cumulative_path],
            "documented": list(self.documented),
        }


@dataclass(frozen=True, slots=True)
class FdaWalk:
    """The result when every reached question is answered, else the open questions."""

    result: FdaResult | None
    unanswered: tuple[Question, ...]


def check_510k_answers(
    change: ChangeFacts,
    answers: Mapping[str, AssessorAnswer],
    documented: Sequence[ChangeFacts] = (),
) -> None:
    """Refuse assessor answers to flowchart questions the records decide.

    Raises:
        AnswerNotNeededError: such an answer (for the change alone or the cumulative change).
        InvalidFactsError: the documented changes cannot be combined with this one.
    """
    check_answers(STEPS, change, answers)
    if documented:
        check_answers(CUMULATIVE_STEPS, combine([*documented, change]), answers)


def walk_510k(
    change: ChangeFacts,
    answers: Mapping[str, AssessorAnswer],
    documented: Sequence[ChangeFacts] = (),
    prefix: tuple[Answer, ...] = (),
) -> FdaWalk:
    """Walk the flowchart for the change alone and, unless that needs a 510(k), cumulatively.

    ``prefix`` (the PCCP answers of an AI-model change) starts the change's path. Answers must
    have passed ``check_510k_answers``. Lists every unanswered question either path reaches.
    """
    alone = walk(STEPS, change, answers)
    unanswered = list(alone.unanswered)
    cumulative: tuple[Answer, ...] = ()
    outcome = None if alone.outcome is None else FdaOutcome(alone.outcome)
    if documented and outcome is not FdaOutcome.NEW_510K:
        together = walk(
            CUMULATIVE_STEPS, combine([*documented, change]), answers, Source.CUMULATIVE
        )
        unanswered += together.unanswered
        cumulative = together.answers
        if outcome is not None and together.outcome is not None:
            outcome = FdaOutcome(together.outcome)  # document alone: the sum decides
    if unanswered or outcome is None:
        return FdaWalk(None, tuple(unanswered))
    keys = tuple(change.key for change in documented)
    return FdaWalk(FdaResult(outcome, prefix + alone.answers, cumulative, keys), ())


def assess_510k(
    change: ChangeFacts,
    answers: Sequence[AssessorAnswer],
    documented_since_clearance: Sequence[ChangeFacts] = (),
) -> FdaResult:
    """The FDA 510(k) outcome of ``change``, alone and summed with the documented changes.

    "new 510(k) likely" if the change alone or the cumulative change says so, else "document
    (letter to file)". Both paths are kept, in order, each answer with its source.

    Raises:
        UnansweredQuestionError: questions the path reaches that need an assessor answer.
        AnswerNotNeededError: an assessor answered a question the records decide.
        DuplicateAnswerError: a question answered twice.
        InvalidFactsError: the documented changes cannot be combined with this one.
    """
    indexed = index_answers(answers)
    check_510k_answers(change, indexed, documented_since_clearance)
    result = walk_510k(change, indexed, documented_since_clearance)
    if result.result is None:
        raise UnansweredQuestionError(result.unanswered)
    return result.result
