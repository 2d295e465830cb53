"""VEX vocabulary and rules, pure: CycloneDX analysis values, OpenVEX mapping, validation.

medfleet stores CycloneDX's analysis vocabulary (``VexStatement.state``/``justification``/
``responses``) and translates OpenVEX at the edges. Rules every statement obeys, whatever its
source (``check_analysis``):

- ``not_affected`` needs a justification or a detail (OpenVEX: a ``justification`` or an
  ``impact_statement``, as CISA's Minimum Requirements for VEX ask);
- a justification only goes with ``not_affected``;
- ``exploitable`` needs a response or a detail (OpenVEX ``affected`` MUST carry an
  ``action_statement``).

``not_affected``, ``false_positive``, ``resolved`` and ``resolved_with_pedigree`` stop a finding
from counting as exposure (``counts_as_exposure``); ``exploitable`` and ``in_triage`` keep it.

Mapping sources:

- Values: CycloneDX 1.6 ``impactAnalysisState``, ``impactAnalysisJustification`` and
  ``response`` (https://cyclonedx.org/docs/1.6/json/#vulnerabilities_items_analysis); OpenVEX
  v0.2.0 status labels and status justifications (https://github.com/openvex/spec,
  OPENVEX-SPEC.md), which are CISA's "VEX Status Justifications" (June 2022).
- Status mapping: CycloneDX's own rendering of CISA's VEX use cases
  (https://github.com/CycloneDX/bom-examples, ``VEX/CISA-Use-Cases/Case-1``: ``affected`` is
  ``exploitable``, ``fixed`` is ``resolved``, ``under_investigation`` is ``in_triage``,
  ``not_affected`` is ``not_affected``).
- Justification mapping: neither specification publishes a one-to-one table (the vocabularies
  differ: nine CycloneDX values, five CISA labels). We use the correspondence the two label
  definitions support and common converters share: ``vulnerable_code_not_present`` and
  ``component_not_present`` → ``code_not_present``; ``vulnerable_code_not_in_execute_path`` ↔
  ``code_not_reachable``; ``vulnerable_code_cannot_be_controlled_by_adversary`` ↔
  ``requires_environment``; ``inline_mitigations_already_exist`` ↔
  ``protected_by_mitigating_control``. Going back to OpenVEX, ``requires_dependency`` is
  ``component_not_present`` (the dependency the exploit needs is not there),
  ``requires_configuration`` and ``protected_at_perimeter`` are
  ``vulnerable_code_cannot_be_controlled_by_adversary`` (the attacker cannot reach or set it), and
  ``protected_by_compiler``/``protected_at_runtime`` are ``inline_mitigations_already_exist``.
  A statement made in OpenVEX keeps its own label (``Analysis.openvex_justification``), so
  ``component_not_present`` goes back out as itself, not as ``vulnerable_code_not_present``.
  OpenVEX has no responses nor ``false_positive`` (exported as ``not_affected`` with the detail
  as impact statement).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from medfleet.vulns.errors import InvalidVexError

MAX_DETAIL = 10_000
_E = TypeVar("_E", bound=enum.StrEnum)


class AnalysisState(enum.StrEnum):
    """CycloneDX ``analysis.state``."""

    RESOLVED = "resolved"
    RESOLVED_WITH_PEDIGREE = "resolved_with_pedigree"
    EXPLOITABLE = "exploitable"
    IN_TRIAGE = "in_triage"
    FALSE_POSITIVE = "false_positive"
    NOT_AFFECTED = "not_affected"


class Justification(enum.StrEnum):
    """CycloneDX ``analysis.justification`` (why a component is not affected)."""

    CODE_NOT_PRESENT = "code_not_present"
    CODE_NOT_REACHABLE = "code_not_reachable"
    REQUIRES_CONFIGURATION = "requires_configuration"
    REQUIRES_DEPENDENCY = "requires_dependency"
    REQUIRES_ENVIRONMENT = "requires_environment"
    PROTECTED_BY_COMPILER = "protected_by_compiler"
    PROTECTED_AT_RUNTIME = "protected_at_runtime"
    PROTECTED_AT_PERIMETER = "protected_at_perimeter"
    PROTECTED_BY_MITIGATING_CONTROL = "protected_by_mitigating_control"


class Response(enum.StrEnum):
    """CycloneDX ``analysis.response`` (what the manufacturer does about it)."""

    CAN_NOT_FIX = "can_not_fix"
    WILL_NOT_FIX = "will_not_fix"
    UPDATE = "update"
    ROLLBACK = "rollback"
    WORKAROUND_AVAILABLE = "workaround_available"


class OpenVexStatus(enum.StrEnum):
    """OpenVEX (CISA) status labels."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"


class OpenVexJustification(enum.StrEnum):
    """OpenVEX (CISA) status justifications."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
        "vulnerable_code_cannot_be_controlled_by_adversary"
    )
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


NOT_EXPOSED_STATES = frozenset(
    {
        AnalysisState.NOT_AFFECTED,
        AnalysisState.FALSE_POSITIVE,
        AnalysisState.RESOLVED,
        AnalysisState.RESOLVED_WITH_PEDIGREE,
    }
)
"""States that rule a finding out of exposure."""

STATE_TO_OPENVEX: dict[AnalysisState, OpenVexStatus] = {
    AnalysisState.NOT_AFFECTED: OpenVexStatus.NOT_AFFECTED,
    AnalysisState.FALSE_POSITIVE: OpenVexStatus.NOT_AFFECTED,
    AnalysisState.EXPLOITABLE: OpenVexStatus.AFFECTED,
    AnalysisState.RESOLVED: OpenVexStatus.FIXED,
    AnalysisState.RESOLVED_WITH_PEDIGREE: OpenVexStatus.FIXED,
    AnalysisState.IN_TRIAGE: OpenVexStatus.UNDER_INVESTIGATION,
}
OPENVEX_TO_STATE: dict[OpenVexStatus, AnalysisState] = {
    OpenVexStatus.NOT_AFFECTED: AnalysisState.NOT_AFFECTED,
    OpenVexStatus.AFFECTED: AnalysisState.EXPLOITABLE,
    OpenVexStatus.FIXED: AnalysisState.RESOLVED,
    OpenVexStatus.UNDER_INVESTIGATION: AnalysisState.IN_TRIAGE,
}
_OV = OpenVexJustification
JUSTIFICATION_TO_OPENVEX: dict[Justification, OpenVexJustification] = {
    Justification.CODE_NOT_PRESENT: _OV.VULNERABLE_CODE_NOT_PRESENT,
    Justification.CODE_NOT_REACHABLE: _OV.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
    Justification.REQUIRES_CONFIGURATION: _OV.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    Justification.REQUIRES_DEPENDENCY: _OV.COMPONENT_NOT_PRESENT,
    Justification.REQUIRES_ENVIRONMENT: _OV.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    Justification.PROTECTED_BY_COMPILER: _OV.INLINE_MITIGATIONS_ALREADY_EXIST,
    Justification.PROTECTED_AT_RUNTIME: _OV.INLINE_MITIGATIONS_ALREADY_EXIST,
    Justification.PROTECTED_AT_PERIMETER: _OV.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    Justification.PROTECTED_BY_MITIGATING_CONTROL: _OV.INLINE_MITIGATIONS_ALREADY_EXIST,
}
OPENVEX_TO_JUSTIFICATION: dict[OpenVexJustification, Justification] = {
    _OV.COMPONENT_NOT_PRESENT: Justification.CODE_NOT_PRESENT,
    _OV.VULNERABLE_CODE_NOT_PRESENT: Justification.CODE_NOT_PRESENT,
    _OV.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: Justification.CODE_NOT_REACHABLE,
    _OV.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY: Justification.REQUIRES_ENVIRONMENT,
    _OV.INLINE_MITIGATIONS_ALREADY_EXIST: Justification.PROTECTED_BY_MITIGATING_CONTROL,
}


@dataclass(frozen=True, slots=True)
class Analysis:
    """A checked VEX analysis: state, justification, responses (sorted, unique) and detail."""

    state: AnalysisState
    justification: Justification | None
    responses: tuple[Response, ...]
    detail: str
    openvex_justification: OpenVexJustification | None = None  # as an OpenVEX author said it

    @property
    def counts_as_exposure(self) -> bool:
        """True unless the state rules the finding out (see ``NOT_EXPOSED_STATES``)."""
        return counts_as_exposure(self.state)


@dataclass(frozen=True, slots=True)
class OpenVexAnalysis:
    """A statement's analysis in OpenVEX terms; empty strings are fields left out."""

    status: OpenVexStatus
    justification: OpenVexJustification | None
    impact_statement: str
    action_statement: str
    status_notes: str


def counts_as_exposure(state: str) -> bool:
    """Whether a finding in this state still counts as exposure."""
    return state not in NOT_EXPOSED_STATES


def _parse(kind: type[_E], what: str, value: str) -> _E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidVexError(f"unknown {what} {value!r} (known: {known})") from None


def parse_state(value: str) -> AnalysisState:
    """A CycloneDX analysis state.

    Raises:
        InvalidVexError: not one of the six states.
    """
    return _parse(AnalysisState, "analysis state", value)


def parse_justification(value: str) -> Justification:
    """A CycloneDX justification.

    Raises:
        InvalidVexError: not one of the nine justifications.
    """
    return _parse(Justification, "justification", value)


def parse_response(value: str) -> Response:
    """A CycloneDX response.

    Raises:
        InvalidVexError: not one of the five responses.
    """
    return _parse(Response, "response", value)


def parse_openvex_status(value: str) -> OpenVexStatus:
    """An OpenVEX status label.

    Raises:
        InvalidVexError: not one of the four labels.
    """
    return _parse(OpenVexStatus, "OpenVEX status", value)


def parse_openvex_justification(value: str) -> OpenVexJustification:
    """An OpenVEX status justification.

    Raises:
        InvalidVexError: not one of the five labels.
    """
    return _parse(OpenVexJustification, "OpenVEX justification", value)


def check_analysis(
    state: str,
    justification: str | None = None,
    responses: Iterable[str] = (),
    detail: str | None = None,
) -> Analysis:
    """Read and check one analysis against the rules in the module docstring.

    Raises:
        InvalidVexError: an unknown value, or a rule broken (naming which).
    """
    parsed_state = parse_state(state)
    parsed_justification = parse_justification(justification) if justification else None
    parsed_responses = tuple(sorted({parse_response(value) for value in responses}))
    text = (detail or "").strip()
    if len(text) > MAX_DETAIL:
        raise InvalidVexError(f"a VEX detail is at most {MAX_DETAIL} characters")
    if parsed_state is AnalysisState.NOT_AFFECTED:
        if parsed_justification is None and not text:
            raise InvalidVexError(
                "not_affected needs a justification or a detail saying why "
                "(CISA's minimum requirements for VEX)"
            )
    elif parsed_justification is not None:
        raise InvalidVexError(
            f"a justification only goes with not_affected, not with {parsed_state.value}"
        )
    if parsed_state is AnalysisState.EXPLOITABLE and not parsed_responses and not text:
        raise InvalidVexError(
            "exploitable needs a response (update, workaround_available, …) or a detail "
            "saying what to do"
        )
    return Analysis(parsed_state, parsed_justification, parsed_responses, text)


def to_openvex(analysis: Analysis) -> OpenVexAnalysis:
    """The analysis in OpenVEX terms.

    The detail becomes the impact statement (``not_affected``), the action statement
    (``affected``; the responses are named when there is no detail) or the status notes.
    """
    status = STATE_TO_OPENVEX[analysis.state]
    justification = analysis.openvex_justification or (
        JUSTIFICATION_TO_OPENVEX[analysis.justification] if analysis.justification else None
    )
    detail = analysis.detail
    if analysis.state is AnalysisState.FALSE_POSITIVE:
        detail = f"False positive. {detail}".strip()
    impact = action = notes = ""
    if status is OpenVexStatus.NOT_AFFECTED:
        impact = detail
    elif status is OpenVexStatus.AFFECTED:
        action = detail or "Responses: " + ", ".join(r.value for r in analysis.responses)
    else:
        notes = detail
    return OpenVexAnalysis(status, justification, impact, action, notes)


def from_openvex(
    status: str,
    justification: str | None = None,
    impact_statement: str | None = None,
    action_statement: str | None = None,
    status_notes: str | None = None,
) -> Analysis:
    """An OpenVEX statement's analysis in CycloneDX terms, checked.

    The detail is the statement's impact statement (``not_affected``), action statement
    (``affected``) or status notes, whichever the status calls for, else the first one given.

    Raises:
        InvalidVexError: an unknown label; ``not_affected`` with neither justification nor
            impact statement; ``affected`` without an action statement (both OpenVEX MUSTs).
    """
    parsed = parse_openvex_status(status)
    label = parse_openvex_justification(justification) if justification else None
    impact, action, notes = (
        (text or "").strip() for text in (impact_statement, action_statement, status_notes)
    )
    if parsed is OpenVexStatus.NOT_AFFECTED and label is None and not impact:
        raise InvalidVexError(
            "an OpenVEX not_affected statement needs a justification or an impact_statement"
        )
    if parsed is OpenVexStatus.AFFECTED and not action:
        raise InvalidVexError("an OpenVEX affected statement needs an action_statement")
    preferred = {
        OpenVexStatus.NOT_AFFECTED: impact,
        OpenVexStatus.AFFECTED: action,
    }.get(parsed, notes)
    detail = preferred or impact or action or notes
    analysis = check_analysis(
        OPENVEX_TO_STATE[parsed].value,
        OPENVEX_TO_JUSTIFICATION[label].value if label else None,
        (),
        detail,
    )
    return dataclasses.replace(analysis, openvex_justification=label)
