"""CVSS base scores from vectors (v2, v3.x, v4.0), computed by the ``cvss`` package.

OSV records (GitHub's among them) carry a CVSS vector but no score; prioritising by score needs
one, and FIRST's formulas (v3.1's rounding, v4.0's macro-vector tables) are not something to
copy by hand. ``base_score`` returns the score and its qualitative severity, or the reason a
vector cannot be scored; it never raises for a bad vector, because one bad upstream vector must
not block a whole feed's import.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

from medfleet.vulns.advisory_model import Severity


@dataclass(frozen=True)
class Scored:
    """A vector's base score and the severity CVSS names for it."""

    score: float
    severity: Severity


def _v2_severity(score: float) -> Severity:
    # CVSS v2 has no qualitative scale of its own; NVD's v2 ranges.
    if score >= 7.0:
        return Severity.HIGH
    return Severity.MEDIUM if score >= 4.0 else Severity.LOW


def base_score(vector: str) -> Scored | str:
    """The base score of ``vector``, or why it has none (an unknown version, a bad metric)."""
    text = vector.strip()
    try:
        if text.startswith("CVSS:3."):
            v3 = CVSS3(text)
            return Scored(float(v3.base_score), Severity(v3.severities()[0].lower()))
        if text.startswith("CVSS:4.0/"):
            v4 = CVSS4(text)
            return Scored(float(v4.base_score), Severity(v4.severity.lower()))
        if text.startswith("CVSS:"):
            return f"CVSS vector {text!r} has a version medfleet cannot score"
        score = float(CVSS2(text).base_score)
        return Scored(score, _v2_severity(score))
    except (CVSSError, ValueError, KeyError) as exc:
        return f"CVSS vector {text!r} cannot be scored: {exc}"
