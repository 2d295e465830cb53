"""The vulnerability domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes.

One tree (``VulnsError``), grouped by the part of the domain that raises them.
"""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class VulnsError(MedfleetError):
    """Base of every vulnerability-management error."""


class VulnsPermissionError(VulnsError, Forbidden):
    """The caller's organization or roles do not allow this."""


class InvalidIdentifierError(VulnsError, InvalidInput):
    """A purl, CPE or vulnerability id cannot be read."""


class InvalidVersionRangeError(VulnsError, InvalidInput):
    """An advisory's affected range or a component's version cannot be read."""


class VulnerabilityNotFoundError(VulnsError, NotFound):
    """No vulnerability goes by this id (or alias)."""


# --- SBOMs ------------------------------------------------------------------------------------


class InvalidSbomError(VulnsError, InvalidInput):
    """An SBOM document is not valid CycloneDX 1.4-1.6 or SPDX 2.3 JSON, or breaks a rule."""


class SbomNotFoundError(VulnsError, NotFound):
    """The release has no imported SBOM."""


class SbomConflictError(VulnsError, Conflict):
    """The SBOM cannot be (re)imported in the release's current state."""


class SbomTooLargeError(InvalidSbomError):
    """The SBOM document is larger than the import accepts."""


class UnsupportedSbomVersionError(InvalidSbomError):
    """A CycloneDX or SPDX version other than CycloneDX 1.4-1.6 or SPDX-2.3."""


class SbomProblemsError(InvalidSbomError):
    """An SBOM breaks rules; ``problems`` lists every one as ``{"where", "message"}``."""

    def __init__(self, headline: str, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        shown = "".join(f"\n  {p['where']}: {p['message']}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{headline}; nothing was imported:{shown}{more}")

    def problem_members(self) -> dict[str, object]:
        """Extension member ``problems``: every problem found, ``{"where", "message"}``."""
        return {"problems": [dict(problem) for problem in self.problems]}


class SbomSchemaError(SbomProblemsError):
    """The document breaks its CycloneDX JSON schema or the SPDX 2.3 specification."""


class DuplicateSbomRefError(SbomProblemsError):
    """Two elements share a bom-ref (CycloneDX) or an SPDXID (SPDX)."""


class InvalidSbomComponentError(SbomProblemsError):
    """A component's purl, CPE, support level, end-of-support date or a field is unusable."""


# --- advisories -------------------------------------------------------------------------------


class InvalidAdvisoryError(VulnsError, InvalidInput):
    """An advisory document (OSV, NVD) cannot be read or breaks its schema."""


class VulnerabilityMergeError(VulnsError, Conflict):
    """The ids name several vulnerabilities, and this caller cannot merge them (no audit)."""


# --- matching and findings --------------------------------------------------------------------


class InvalidReleaseRefError(VulnsError, InvalidInput):
    """A release is not named as ``MODEL/VERSION``."""


class FindingsReleaseNotFoundError(VulnsError, NotFound):
    """No release of the caller's manufacturer has this model and version."""


# --- VEX --------------------------------------------------------------------------------------


class InvalidVexError(VulnsError, InvalidInput):
    """A VEX statement or document is invalid (unknown state, missing justification, …)."""


# --- exposure and hospital notices ------------------------------------------------------------


class NoticeNotFoundError(VulnsError, NotFound):
    """No such hospital notice (or it belongs to another hospital)."""


class InvalidExposureRequestError(VulnsError, InvalidInput):
    """An exposure query asks for something impossible (a negative device limit)."""


class NoticeNeedsAssessmentError(VulnsError, Conflict):
    """Notices carry the assessment's controls and planned fix: assess the vulnerability first."""


class NoticeSupersededError(VulnsError, Conflict):
    """A later revision of the notice exists; that one is to be read and acknowledged."""


# --- assessments and patch deadlines ----------------------------------------------------------


class InvalidAssessmentError(VulnsError, InvalidInput):
    """A risk assessment or patch policy is invalid."""


class AssessmentNotFoundError(VulnsError, NotFound):
    """The vulnerability has not been assessed."""


class AssessmentConflictError(VulnsError, Conflict):
    """The assessment's state does not allow this (not critical for an out-of-cycle campaign…)."""


class AwarenessMovedLaterError(AssessmentConflictError):
    """A re-assessment would move the awareness date later (deadlines only ever move earlier)."""


class FixReleaseError(VulnsError, Conflict):
    """The release cannot serve as the fix: withdrawn, without an SBOM, or affected itself."""
