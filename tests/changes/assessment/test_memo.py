"""The memo: escaped HTML, and a PDF that carries the outcome and every signature line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
import pytest

from medfleet.changes.assessment.decide import RegulatoryAssessment, assess
from medfleet.changes.assessment.memo import MemoInput, render_memo_html, render_memo_pdf

from .factories import MDCG_NO, NO_INTENT, NOT_CLINICAL, added_situation, change, control, said
from .test_pccp import GOOD, PLAN

HOSTILE = '<script>alert("x")</script><img src="http://attacker.example/p.png">'
SIGNED = (
    "Authored by Dana Engineer (dana) at 2025-03-04 11:00:00 UTC [valid]",
    "Approved by Lee QA (qa.lee) at 2025-03-05 09:15:00 UTC [valid]",
)


def _assessment(title: str = "Fix occlusion alarm latency") -> RegulatoryAssessment:
    facts = change(
        "CR-7",
        title=title,
        situations=(added_situation("HS-4", 2, significant=False),),
        controls=(control("RC-4", "added", "HS-4", significant=False),),
    )
    return assess(facts, [NO_INTENT, NOT_CLINICAL, *MDCG_NO])


def _pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_memo_escapes_a_hostile_title_and_justification() -> None:
    facts = change("CR-8", title=HOSTILE)
    hostile_answer = said("fda-q2", False, HOSTILE)
    assessment = assess(facts, [NO_INTENT, hostile_answer, NOT_CLINICAL, *MDCG_NO])
    html = render_memo_html(assessment, MemoInput((HOSTILE,)))
    assert "<script>" not in html
    assert "<img" not in html
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 3


def test_the_memo_shows_facts_paths_outcomes_and_says_when_it_is_not_signed() -> None:
    html = render_memo_html(_assessment(), MemoInput(generated_at=datetime(2025, 3, 6, tzinfo=UTC)))
    for expected in (
        "CR-7",
        "Fix occlusion alarm latency",
        "HS-4",
        "RC-4",
        "document (letter to file)",
        "not significant change",
        "Is the change made solely to strengthen cybersecurity",
        "qa.lee",
        "(not signed)",
        "2025-03-06 00:00:00 UTC",
    ):
        assert expected in html


def test_the_pdf_carries_the_outcome_the_signature_lines_and_page_numbers() -> None:
    pdf = render_memo_pdf(render_memo_html(_assessment(), MemoInput(SIGNED)))
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    for line in SIGNED:
        assert line in text
    assert "document (letter to file)" in text
    assert "not significant change" in text
    assert "Page 1 of" in text
    assert "(not signed)" not in text


def test_the_pdf_of_an_ai_model_change_shows_the_pccp_and_its_criteria() -> None:
    assessment = assess(change("CR-40", "ai_model"), [MDCG_NO[0]], plan=PLAN, evaluation=GOOD)
    text = _pdf_text(render_memo_pdf(render_memo_html(assessment, MemoInput())))
    assert "implement under the PCCP" in text
    assert "sensitivity >= 0.92" in text
    assert "(not signed)" in text
    assert text.count("CR-40") >= 2  # the title and the page header


@pytest.mark.parametrize("url", ["http://attacker.example/x.png", "file:///etc/passwd"])
def test_the_pdf_renderer_fetches_nothing(url: str) -> None:
    html = f'<html><body><p>memo</p><img src="{url}"><link rel="stylesheet" href="{url}">'
    pdf = render_memo_pdf(html)
    assert "memo" in _pdf_text(pdf)
    assert b"root:" not in pdf
