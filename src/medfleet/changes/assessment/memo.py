"""The assessment memo: a printable HTML page and its PDF, with the e-signature block.

``render_memo_html`` lays out the change (key, title, class, safety class, device model), the
facts from the records, each framework's outcome and path table (question, answer, source,
reason or justification, assessor) and the signature lines exactly as
``SignatureView.line()`` wrote them, or "(not signed)". Every value is HTML-escaped (Jinja2
autoescaping), so a hostile title or justification stays text. ``render_memo_pdf`` prints that
page on A4 with the change key in the header and "Page n of m" in the footer; it never fetches
anything (no network, no files), whatever the HTML names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from medfleet.changes.assessment.decide import RegulatoryAssessment
from medfleet.changes.assessment.templates import MEMO_TEMPLATE

_TITLES = {
    "fda": "FDA: Deciding When to Submit a 510(k) for a Software Change (2017)",
    "mdcg": "EU: MDCG 2020-3 Rev.1, chart C (software)",
    "pccp": "Predetermined change control plan (PCCP)",
}


@dataclass(frozen=True, slots=True)
class MemoInput:
    """What the memo needs besides the assessment: signature lines and when it was made.

    ``signature_lines`` are ``SignatureView.line()`` strings, oldest first.
    """

    signature_lines: Sequence[str] = ()
    generated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature_lines", tuple(self.signature_lines))


def _yesno(value: object) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def _level(value: object) -> str:
    return "n/a" if value is None else str(value)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.DictLoader({"memo.html": MEMO_TEMPLATE}),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["yesno"] = _yesno
    environment.filters["level"] = _level
    return environment


_ENVIRONMENT = _environment()


def _sections(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    fda = data["fda"]
    paths = [{"title": "The change alone", "answers": fda["path"]}]
    if fda["cumulative_path"]:
        title = "Together with the documented changes " + ", ".join(fda["documented"])
        paths.append({"title": title, "answers": fda["cumulative_path"]})
    sections = [{"title": _TITLES["fda"], "outcome": fda["outcome"], "paths": paths}]
    pccp = data["pccp"]
    if pccp is not None:
        sections.append(
            {
                "title": _TITLES["pccp"],
                "outcome": pccp["outcome"],
                "reasons": pccp["reasons"],
                "criteria": pccp["criteria"],
                "paths": [],
            }
        )
    mdcg = data["mdcg"]
    chart = {"title": "Chart C", "answers": mdcg["path"]}
    sections.append({"title": _TITLES["mdcg"], "outcome": mdcg["outcome"], "paths": [chart]})
    for section in sections:
        section.setdefault("reasons", [])
        section.setdefault("criteria", [])
    return sections


def render_memo_html(assessment: RegulatoryAssessment, memo_input: MemoInput) -> str:
    """The memo as one self-contained, printable HTML page; every value escaped."""
    return render_recorded_memo_html(assessment.as_dict(), memo_input)


def render_recorded_memo_html(data: Mapping[str, Any], memo_input: MemoInput) -> str:
    """The memo of a recorded assessment (its stored ``RegulatoryAssessment.as_dict()``)."""
    outcome_rows = [
        {"framework": _TITLES[name], "outcome": outcome}
        for name, outcome in data["outcomes"].items()
    ]
    generated = memo_input.generated_at
    return _ENVIRONMENT.get_template("memo.html").render(
        change=data["change"],
        documented=data["documented"],
        outcome_rows=outcome_rows,
        sections=_sections(data),
        signature_lines=list(memo_input.signature_lines),
        generated_at=None if generated is None else f"{generated:%Y-%m-%d %H:%M:%S %Z}".strip(),
    )


def _refuse_fetch(url: str, *_: Any, **__: Any) -> dict[str, Any]:
    raise ValueError(f"the memo does not load external resources ({url[:80]})")


def render_memo_pdf(html: str) -> bytes:
    """The memo page printed to PDF (A4, change key in the header, page numbers in the footer).

    Nothing is fetched: any URL in ``html`` is refused and left out of the PDF.
    """
    import weasyprint  # type: ignore[import-untyped]  # heavy, and only the memo needs it

    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=_refuse_fetch)
    pdf: bytes = document.write_pdf()
    return pdf
