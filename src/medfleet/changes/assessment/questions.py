"""The questions of every framework, the assessor's answers, and the answers on a path.

Each question is either decided by medfleet's records (classification, risk-file delta,
requirement changes, PCCP evaluation) or answered by an assessor with a written justification;
never both and never by default (see ``flowchart``). ``CATALOGUE`` holds every question by id;
``AssessorAnswer`` is what a person gives (validated: a justification is required); ``Answer``
is one step of an assessment path, with its source and reasoning.

Question texts quote the guidance documents (sources named in ``guidance_ref``):
FDA, "Deciding When to Submit a 510(k) for a Software Change to an Existing Device" (2017),
flowchart (Figure 1) questions 1, 2, 3a, 3b and 4; the same guidance's guiding principle on
changes made with intent to significantly affect safety or effectiveness; MDCG 2020-3 Rev.1
chart C; FDA PCCP guidance for AI-enabled device software functions (2024).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medfleet.changes.assessment.errors import DuplicateAnswerError, InvalidAnswerError

FDA = "FDA 510(k) software change"
MDCG = "MDCG 2020-3 chart C"
PCCP = "PCCP"

_FDA_REF = (
    "FDA guidance 'Deciding When to Submit a 510(k) for a Software Change to an Existing "
    "Device' (2017), section V, flowchart (Figure 1)"
)
_MDCG_REF = "MDCG 2020-3 Rev.1 (2023), section 4.3.2.3, chart C (software)"
_PCCP_REF = (
    "FD&C Act section 515C; FDA guidance 'Marketing Submission Recommendations for a "
    "Predetermined Change Control Plan for Artificial Intelligence-Enabled Device Software "
    "Functions' (2024)"
)


class Source(enum.StrEnum):
    """Where an answer comes from."""

    CLASSIFICATION = "classification"
    RISK_DELTA = "risk-file delta"
    REQUIREMENTS = "requirement changes"
    PCCP = "pccp"
    ASSESSOR = "assessor"
    CUMULATIVE = "cumulative"


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a framework; ``context`` lists what the records show about it."""

    id: str
    framework: str
    text: str
    guidance_ref: str
    context: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "framework": self.framework,
            "text": self.text,
            "guidance_ref": self.guidance_ref,
            "context": list(self.context),
        }


def _q(qid: str, framework: str, text: str, ref: str) -> Question:
    return Question(qid, framework, text, ref)


CATALOGUE: Mapping[str, Question] = {
    q.id: q
    for q in (
        _q(
            "fda-intent",
            FDA,
            "Is the change made with intent to significantly affect safety or effectiveness "
            "of the device? (Such a change likely needs a new 510(k) whatever the software "
            "flowchart says.)",
            "FDA guidance 'Deciding When to Submit a 510(k) for a Software Change to an "
            "Existing Device' (2017), section IV, guiding principle 'Modifications made with "
            "intent to significantly affect safety or effectiveness of a device'; FDA guidance "
            "'Deciding When to Submit a 510(k) for a Change to an Existing Device' (2017)",
        ),
        _q(
            "fda-q1",
            FDA,
            "Is the change made solely to strengthen cybersecurity and does not have any other "
            "impact on the software or device?",
            f"{_FDA_REF}, question 1",
        ),
        _q(
            "fda-q2",
            FDA,
            "Is the change made solely to return the system into specification of the most "
            "recently cleared device?",
            f"{_FDA_REF}, question 2",
        ),
        _q(
            "fda-q3a",
            FDA,
            "Does the change introduce a new risk or modify an existing risk that could result "
            "in significant harm and that is not effectively mitigated in the most recently "
            "cleared device?",
            f"{_FDA_REF}, question 3a",
        ),
        _q(
            "fda-q3b",
            FDA,
            "Does the change create or necessitate a new risk control measure or a "
            "modification of an existing risk control measure for a hazardous situation that "
            "could result in significant harm?",
            f"{_FDA_REF}, question 3b",
        ),
        _q(
            "fda-q4",
            FDA,
            "Could the change significantly affect clinical functionality or performance "
            "specifications that are directly associated with the intended use of the device?",
            f"{_FDA_REF}, question 4",
        ),
        _q(
            "fda-q4-cumulative",
            FDA,
            "Taken together with every change documented since the most recently cleared "
            "device, could the changes significantly affect clinical functionality or "
            "performance specifications that are directly associated with the intended use of "
            "the device?",
            f"{_FDA_REF}, question 4, applied to the cumulative change (section IV: compare "
            "with the most recently cleared device, including documented changes)",
        ),
        _q(
            "mdcg-c1",
            MDCG,
            "New or major change of operating system or any component?",
            f"{_MDCG_REF}, box C1",
        ),
        _q(
            "mdcg-c2",
            MDCG,
            "New or modified architecture or database structure, change of an algorithm?",
            f"{_MDCG_REF}, box C2",
        ),
        _q(
            "mdcg-c3",
            MDCG,
            "Required user input replaced by a closed loop algorithm?",
            f"{_MDCG_REF}, box C3",
        ),
        _q(
            "mdcg-c4",
            MDCG,
            "New diagnostic or therapeutic feature or new channel of interoperability?",
            f"{_MDCG_REF}, box C4",
        ),
        _q(
            "mdcg-c5",
            MDCG,
            "New user interface or presentation of data?",
            f"{_MDCG_REF}, box C5",
        ),
        _q(
            "pccp-in-plan",
            PCCP,
            "Is the change a modification described in the predetermined change control plan "
            "(PCCP) authorized for this device model?",
            f"{_PCCP_REF}, description of modifications",
        ),
        _q(
            "pccp-criteria",
            PCCP,
            "Does the modified model meet every acceptance criterion of the PCCP's "
            "modification protocol?",
            f"{_PCCP_REF}, modification protocol (performance evaluation)",
        ),
    )
}


def question(question_id: str) -> Question:
    """The catalogue's question with this id.

    Raises:
        InvalidAnswerError: no such question.
    """
    try:
        return CATALOGUE[question_id]
    except KeyError:
        raise InvalidAnswerError(
            f"unknown question {question_id!r} (known: {', '.join(CATALOGUE)})"
        ) from None


@dataclass(frozen=True, slots=True)
class AssessorAnswer:
    """A person's yes/no to one question, with the written reason; what the service stores.

    Raises:
        InvalidAnswerError: unknown question, a value that is not a bool, an empty
            justification or assessor, or a time without a time zone.
    """

    question_id: str
    value: bool
    justification: str
    assessor: str
    answered_at: datetime

    def __post_init__(self) -> None:
        question(self.question_id)
        if not isinstance(self.value, bool):
            raise InvalidAnswerError(f"{self.question_id}: the answer must be yes or no")
        if not isinstance(self.justification, str) or not self.justification.strip():
            raise InvalidAnswerError(
                f"{self.question_id}: an assessor answer needs a written justification"
            )
        if not isinstance(self.assessor, str) or not self.assessor.strip():
            raise InvalidAnswerError(f"{self.question_id}: an assessor answer names its assessor")
        if not isinstance(self.answered_at, datetime) or self.answered_at.tzinfo is None:
            raise InvalidAnswerError(f"{self.question_id}: answered_at needs a time zone (UTC)")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (time in ISO 8601)."""
        return {
            "question_id": self.question_id,
            "value": self.value,
            "justification": self.justification,
            "assessor": self.assessor,
            "answered_at": self.answered_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssessorAnswer:
        """An answer from its ``as_dict`` form.

        Raises:
            InvalidAnswerError: a field is missing or invalid.
        """
        try:
            return cls(
                data["question_id"],
                data["value"],
                data["justification"],
                data["assessor"],
                datetime.fromisoformat(data["answered_at"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidAnswerError(f"malformed assessor answer: {error}") from None


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer on an assessment path: value, source, reason, evidence and where it led.

    ``leads_to`` is the next question's id, or the outcome label where the path ends. From an
    assessor: ``assessor``, ``justification`` and ``answered_at`` are set, and ``reason`` is
    the justification.
    """

    question_id: str
    value: bool
    source: Source
    reason: str
    evidence: tuple[str, ...] = ()
    leads_to: str = ""
    assessor: str | None = None
    justification: str | None = None
    answered_at: datetime | None = None

    @property
    def question(self) -> Question:
        """The question answered."""
        return CATALOGUE[self.question_id]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the question's text."""
        return {
            "question_id": self.question_id,
            "question": self.question.text,
            "value": self.value,
            "answer": "yes" if self.value else "no",
            "source": self.source.value,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "leads_to": self.leads_to,
            "assessor": self.assessor,
            "justification": self.justification,
            "answered_at": None if self.answered_at is None else self.answered_at.isoformat(),
        }


def index_answers(answers: Sequence[AssessorAnswer]) -> dict[str, AssessorAnswer]:
    """The answers by question id.

    Raises:
        DuplicateAnswerError: a question is answered twice.
    """
    indexed: dict[str, AssessorAnswer] = {}
    for answer in answers:
        if answer.question_id in indexed:
            raise DuplicateAnswerError(f"{answer.question_id} is answered more than once")
        indexed[answer.question_id] = answer
    return indexed
