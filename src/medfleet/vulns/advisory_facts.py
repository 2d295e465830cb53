"""What a vulnerability shows, chosen from what its advisories say. Pure.

Each advisory contributes ``Facts``. ``best_of`` picks, among the advisories that are not
withdrawn (or among all of them once every one is withdrawn):

- CVSS score, vector and qualitative severity from NVD first, then OSV, then any other source:
  NVD scores every CVE the same way, while OSV carries a vector and (GitHub's) severity word but
  no score;
- the summary from OSV first (a one-line title), then NVD's description, then any other;
- the earliest ``published`` and the latest ``modified`` of all advisories;
- ``withdrawn_at``: the latest withdrawal when every advisory is withdrawn, else none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medfleet.vulns.advisory_model import ParsedAdvisory, Severity, Source
from medfleet.vulns.errors import InvalidAdvisoryError
from medfleet.vulns.nvd import parse_nvd_cve
from medfleet.vulns.osv import parse_osv

SCORE_ORDER = (Source.NVD.value, Source.OSV.value)
SUMMARY_ORDER = (Source.OSV.value, Source.NVD.value)


@dataclass(frozen=True, slots=True)
class Facts:
    """What one advisory says about its vulnerability."""

    source: str
    summary: str
    severity: Severity | None = None
    cvss_score: float | None = None
    cvss_vector: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    withdrawn: datetime | None = None


def facts_of(advisory: ParsedAdvisory) -> Facts:
    """The facts of a parsed advisory."""
    return Facts(
        advisory.source.value,
        advisory.summary,
        advisory.severity,
        advisory.cvss_score,
        advisory.cvss_vector,
        advisory.published,
        advisory.modified,
        advisory.withdrawn,
    )


def facts_of_row(
    source: str,
    summary: str,
    withdrawn: datetime | None,
    modified: datetime | None,
    parsed: ParsedAdvisory | None,
    document: Mapping[str, Any] | None,
) -> Facts:
    """The facts of a stored advisory: from ``parsed`` when it was just read, else re-read from
    its stored ``document`` (OSV and NVD), else only what its row says."""
    if parsed is not None:
        return facts_of(parsed)
    if document is not None and source in SCORE_ORDER:
        reader = parse_nvd_cve if source == Source.NVD.value else parse_osv
        try:
            return facts_of(reader(document, packages=False))
        except InvalidAdvisoryError:
            pass  # stored before a stricter parser: fall back to the row
    return Facts(source, summary, modified=modified, withdrawn=withdrawn)


def _rank(source: str, order: Sequence[str]) -> int:
    return order.index(source) if source in order else len(order)


def best_of(facts: Sequence[Facts]) -> dict[str, Any]:
    """The ``Vulnerability`` columns the facts give (see the module docstring); empty facts
    give nothing to change."""
    if not facts:
        return {}
    live = [f for f in facts if f.withdrawn is None]
    pool = live or list(facts)
    by_score = sorted(pool, key=lambda f: _rank(f.source, SCORE_ORDER))
    scored = next((f for f in by_score if f.cvss_score is not None), None)
    vectored = scored if scored and scored.cvss_vector else None
    vectored = vectored or next((f for f in by_score if f.cvss_vector), None)
    rated = next((f for f in by_score if f.severity is not None), None)
    by_text = sorted(pool, key=lambda f: _rank(f.source, SUMMARY_ORDER))
    published = [f.published for f in facts if f.published is not None]
    modified = [f.modified for f in facts if f.modified is not None]
    withdrawn = [f.withdrawn for f in facts if f.withdrawn is not None]
    return {
        "summary": next((f.summary for f in by_text if f.summary), ""),
        "severity": rated.severity.value if rated and rated.severity else None,
        "cvss_score": scored.cvss_score if scored else None,
        "cvss_vector": vectored.cvss_vector if vectored else None,
        "published_at": min(published) if published else None,
        "modified_at": max(modified) if modified else None,
        "withdrawn_at": max(withdrawn) if not live and withdrawn else None,
    }
