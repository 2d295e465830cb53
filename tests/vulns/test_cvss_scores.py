"""Base scores of CVSS v2, v3.x and v4.0 vectors, checked against FIRST's and NVD's figures."""

from __future__ import annotations

import pytest

from medfleet.vulns.advisory_model import Severity
from medfleet.vulns.cvss_scores import Scored, base_score


@pytest.mark.parametrize(
    ("vector", "score", "severity"),
    [
        # Heartbleed (CVE-2014-0160) as NVD scores it, v3.1 and v2
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, Severity.HIGH),
        ("AV:N/AC:L/Au:N/C:P/I:N/A:N", 5.0, Severity.MEDIUM),
        # CVE-2022-3602 (v3.1, NVD)
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL),
        # CVE-2023-32681 (requests; GitHub's vector and score)
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1, Severity.MEDIUM),
        # worked by hand from the specifications: v3.0 roundup(1.4124 + 0.3333), v2 0.7154 x 1.176
        ("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, Severity.LOW),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, Severity.NONE),
        # FIRST's CVSS v4.0 examples
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, Severity.CRITICAL),
        ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 4.6, Severity.MEDIUM),
        ("AV:L/AC:H/Au:M/C:N/I:P/A:N", 0.8, Severity.LOW),
    ],
)
def test_scores(vector: str, score: float, severity: Severity) -> None:
    assert base_score(vector) == Scored(score, severity)


@pytest.mark.parametrize(
    ("vector", "reason"),
    [
        ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "cannot be scored: Unknown value"),
        ("CVSS:3.1/AV:N", "cannot be scored"),
        ("CVSS:5.0/AV:N/AC:L", "has a version medfleet cannot score"),
        ("not a vector", "cannot be scored"),
        ("", "cannot be scored"),
    ],
)
def test_unscorable_vectors_say_why(vector: str, reason: str) -> None:
    answer = base_score(vector)
    assert isinstance(answer, str)
    assert reason in answer
