"""Walking a flowchart of questions over one change's facts.

A flowchart is an ordered tuple of ``Step``s; each step's question is decided by the records
(its ``decide`` returns a ``Finding``) or, when that returns ``None``, by an assessor's answer.
``walk`` returns the ordered answers with their sources, the outcome reached, and every question
it reached that still needs an assessor answer; ``check_answers`` refuses an assessor answer to a
question the records decide (``AnswerNotNeededError``). Nothing is ever defaulted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from medfleet.changes.assessment.errors import AnswerNotNeededError
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.questions import (
    CATALOGUE,
    Answer,
    AssessorAnswer,
    Question,
    Source,
)


class Finding(NamedTuple):
    """What the records say about a question."""

    value: bool
    source: Source
    reason: str
    evidence: tuple[str, ...] = ()


class Context(NamedTuple):
    """What the records show an assessor about a question they must answer."""

    note: str
    keys: tuple[str, ...]


Decider = Callable[[ChangeFacts], Finding | None]


def _no_context(_: ChangeFacts) -> Context | None:
    return None


@dataclass(frozen=True, slots=True)
class Step:
    """A box of a flowchart: decided by ``decide`` (``None``: by the assessor).

    ``on_yes`` / ``on_no`` name the next step's question id or an outcome label.
    """

    question_id: str
    decide: Decider
    on_yes: str
    on_no: str
    context: Callable[[ChangeFacts], Context | None] = _no_context


@dataclass(frozen=True, slots=True)
class Walk:
    """Where a walk along a flowchart got: answers in order, outcome, open questions."""

    answers: tuple[Answer, ...]
    outcome: str | None
    unanswered: tuple[Question, ...]


def check_answers(
    steps: Sequence[Step], facts: ChangeFacts, answers: Mapping[str, AssessorAnswer]
) -> None:
    """Refuse assessor answers to questions that ``facts`` decide, reached or not.

    Raises:
        AnswerNotNeededError: the first such question, with the facts that decide it.
    """
    for step in steps:
        if step.question_id in answers:
            finding = step.decide(facts)
            if finding is not None:
                evidence = f" ({', '.join(finding.evidence)})" if finding.evidence else ""
                raise AnswerNotNeededError(
                    step.question_id,
                    f"{finding.source.value} says "
                    f"{'yes' if finding.value else 'no'}: {finding.reason}{evidence}",
                )


def walk(
    steps: Sequence[Step],
    facts: ChangeFacts,
    answers: Mapping[str, AssessorAnswer],
    override_source: Source | None = None,
) -> Walk:
    """Follow ``steps`` from the first over ``facts`` and ``answers``.

    A question the facts decide is answered from them (with ``override_source`` instead of
    their own source when given, e.g. ``cumulative``); else from the assessor's answer; else it
    is unanswered and the walk goes on along the branch that continues the flowchart, so that
    every question the path may reach is listed. The outcome is ``None`` while any question
    on the path is unanswered. No step is visited twice.
    """
    by_id = {step.question_id: step for step in steps}
    path: list[Answer] = []
    unanswered: list[Question] = []
    current: Step | None = steps[0]
    outcome: str | None = None
    visited: set[str] = set()
    while current is not None:
        visited.add(current.question_id)
        finding = current.decide(facts)
        given = answers.get(current.question_id)
        if finding is not None:
            value = finding.value
            path.append(
                Answer(
                    current.question_id,
                    value,
                    override_source or finding.source,
                    finding.reason,
                    tuple(finding.evidence),
                )
            )
        elif given is not None:
            value = given.value
            shown = current.context(facts)
            path.append(
                Answer(
                    current.question_id,
                    value,
                    Source.ASSESSOR,
                    given.justification,
                    () if shown is None else shown.keys,
                    assessor=given.assessor,
                    justification=given.justification,
                    answered_at=given.answered_at,
                )
            )
        else:
            shown = current.context(facts)
            lines = (
                ()
                if shown is None or not shown.keys
                else (f"{shown.note}: {', '.join(shown.keys)}",)
            )
            unanswered.append(replace(CATALOGUE[current.question_id], context=lines))
            value = current.on_yes in by_id and current.on_no not in by_id
        target = current.on_yes if value else current.on_no
        if path and path[-1].question_id == current.question_id:
            path[-1] = replace(path[-1], leads_to=target)
        if target in by_id:
            if target in visited:
                raise AssertionError(f"flowchart loops back to {target}")  # pragma: no cover
            current = by_id[target]
        else:
            outcome = target
            current = None
    return Walk(tuple(path), None if unanswered else outcome, tuple(unanswered))
