"""``medfleet change ...`` end to end: classify, assess (with the whole answer path), memo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from tests.cli.conftest import USER_PASSWORD, Cli


def as_user(cli: Cli, user: str, *args: str) -> Any:
    return cli.json(*args, "--user", user, password=USER_PASSWORD)


def staff(cli: Cli) -> None:
    manufacturer = cli.json("accounts", "orgs", "--user", "admin")[0]["id"]
    for username, role in (("eng", "engineer"), ("qa", "qa_ra")):
        cli.json(
            "accounts",
            "add-user",
            str(manufacturer),
            username,
            "--name",
            username.upper(),
            "--role",
            role,
            "--user",
            "admin",
        )


def test_assess_names_every_open_question_then_records_the_path(cli: Cli, tmp_path: Path) -> None:
    staff(cli)
    cli.json("change", "item-add", "network-stack", "--safety-class", "B", "--user", "admin")
    key = as_user(cli, "eng", "change", "create", "Disable TLS 1.0")["key"]
    as_user(cli, "eng", "change", "move", key, "impact_analysis", "-m", "scoping")
    as_user(
        cli,
        "eng",
        "change",
        "classify",
        key,
        "--class",
        "cybersecurity",
        "--model",
        "IP-100",
        "--item",
        "network-stack",
    )

    code, out, _ = cli("change", "assess", key, "--json", "--user", "eng", password=USER_PASSWORD)
    assert code == 3
    refused = json.loads(out)
    assert refused["ok"] is False
    assert [q["id"] for q in refused["unanswered"]][:2] == ["fda-intent", "fda-q1"]
    assert "fda-intent" in refused["error"]

    answers = {"fda-intent": "no", "fda-q1": "yes"} | {f"mdcg-c{n}": "no" for n in range(1, 6)}
    for question, value in answers.items():
        as_user(cli, "qa", "change", "answer", key, question, value, "-m", f"{question} checked")
    assert as_user(cli, "eng", "change", "questions", key) == []

    result = as_user(cli, "eng", "change", "assess", key)
    assert result["outcome"] == {
        "fda": "document (letter to file)",
        "mdcg": "not significant change",
    }
    fda = [step for step in result["path"] if step["question_id"].startswith("fda")]
    assert [(s["question_id"], s["answer"], s["source"]) for s in fda] == [
        ("fda-intent", "no", "assessor"),
        ("fda-q1", "yes", "assessor"),
    ]
    assert fda[1]["justification"] == "fda-q1 checked"

    code, out, _ = cli(
        "change",
        "sign-assessment",
        key,
        "--meaning",
        "approved",
        "--json",
        "--user",
        "eng",
        password=USER_PASSWORD,
    )
    assert code == 6, out  # whoever ran the assessment cannot approve it
    signed = as_user(cli, "qa", "change", "sign-assessment", key, "--meaning", "approved")
    assert signed["signature_lines"][0].startswith("Approved by QA (qa)")

    memo = tmp_path / "memo.pdf"
    as_user(cli, "qa", "change", "memo", key, "--format", "pdf", "-o", str(memo))
    text = "".join(page.extract_text() for page in PdfReader(memo).pages)
    assert "document (letter to file)" in text
    assert "Approved by QA (qa)" in text
