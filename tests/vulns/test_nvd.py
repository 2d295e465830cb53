"""NVD CVE API 2.0 records read into ParsedAdvisory: CPE versions and ranges, CVSS, rejection.

Heartbleed (CVE-2014-0160): OpenSSL 1.0.1 through 1.0.1f listed, 1.0.0, 1.0.1g and 1.0.2 not.
CVE-2022-3602: OpenSSL 3.0.0 <= v < 3.0.7, 1.1.1 not affected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medfleet.vulns.advisory_model import AffectedPackage, Severity, Source
from medfleet.vulns.errors import InvalidAdvisoryError
from medfleet.vulns.nvd import parse_nvd_cve
from medfleet.vulns.ranges import affected, ranges_from_json, version_class
from tests.vulns.support_advisory import document

OPENSSL = version_class(product="openssl")


def _cve(name: str) -> dict[str, Any]:
    cve: dict[str, Any] = document(name)["vulnerabilities"][0]["cve"]
    return cve


def _package(packages: tuple[AffectedPackage, ...], key: str) -> AffectedPackage:
    (package,) = [p for p in packages if p.cpe_key == key]
    return package


def _hit(package: AffectedPackage, version: str) -> bool:
    ranges = ranges_from_json(package.ranges)
    return affected(OPENSSL, version, ranges, package.versions) is not None


def test_heartbleed_lists_explicit_cpe_versions() -> None:
    advisory = parse_nvd_cve(_cve("nvd/CVE-2014-0160.json"))
    assert advisory.source is Source.NVD
    assert advisory.ids == ("CVE-2014-0160",)
    assert (advisory.severity, advisory.cvss_score) == (Severity.HIGH, 7.5)  # v3.1 over v2
    assert advisory.cvss_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert advisory.summary.startswith("The (1) TLS and (2) DTLS implementations in OpenSSL")
    assert advisory.published == datetime(2014, 4, 7, 22, 55, 3, 893000, tzinfo=UTC)
    openssl = _package(advisory.packages, "openssl:openssl")
    assert openssl.ranges == ()
    assert "1.0.1f" in openssl.versions
    assert "1.0.2-beta1" in openssl.versions  # the update field never stands for 1.0.2 itself
    hits = {v: _hit(openssl, v) for v in ("1.0.0", "1.0.1", "1.0.1f", "1.0.1g", "1.0.2")}
    assert hits == {"1.0.0": False, "1.0.1": True, "1.0.1f": True, "1.0.1g": False, "1.0.2": False}
    assert {p.cpe_key for p in advisory.packages} == {
        "openssl:openssl",
        "debian:debian_linux",
        "fedoraproject:fedora",
    }


def test_cve_2022_3602_is_a_cpe_range() -> None:
    advisory = parse_nvd_cve(_cve("nvd/CVE-2022-3602.json"))
    openssl = _package(advisory.packages, "openssl:openssl")
    assert openssl.ranges == (
        {"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.7"}]},
    )
    hits = {v: _hit(openssl, v) for v in ("1.1.1", "1.1.1s", "3.0.0", "3.0.6", "3.0.7")}
    assert hits == {"1.1.1": False, "1.1.1s": False, "3.0.0": True, "3.0.6": True, "3.0.7": False}
    node = _package(advisory.packages, "nodejs:node.js")
    assert len(node.ranges) == 2


def test_primary_metric_is_preferred() -> None:
    advisory = parse_nvd_cve(_cve("nvd/CVE-2023-32681.json"))
    assert (advisory.severity, advisory.cvss_score) == (Severity.MEDIUM, 6.1)
    assert _package(advisory.packages, "python:requests").ranges == (
        {"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]},
    )


def test_rejected_cve_is_withdrawn() -> None:
    advisory = parse_nvd_cve(document("nvd/CVE-2014-0346.json")["cve"])
    assert advisory.withdrawn == datetime(2023, 11, 7, 2, 18, 43, 480000, tzinfo=UTC)
    assert advisory.packages == ()
    assert advisory.severity is None


def _with(matches: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "CVE-2024-0001",
        "configurations": [{"nodes": [{"operator": "OR", "cpeMatch": matches}]}],
        **extra,
    }


BUSYBOX = "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*"


@pytest.mark.parametrize(
    ("bounds", "events"),
    [
        (
            {"versionStartExcluding": "1.0", "versionEndIncluding": "1.5"},
            [{"introduced_after": "1.0"}, {"last_affected": "1.5"}],
        ),
        ({"versionEndExcluding": "1.36.1"}, [{"introduced": "0"}, {"fixed": "1.36.1"}]),
        ({"versionStartIncluding": "1.20"}, [{"introduced": "1.20"}]),
        ({}, [{"introduced": "0"}]),
    ],
)
def test_cpe_bounds_become_range_events(bounds: dict[str, str], events: list[Any]) -> None:
    advisory = parse_nvd_cve(_with([{"vulnerable": True, "criteria": BUSYBOX, **bounds}]))
    assert advisory.packages[0].ranges == ({"type": "ECOSYSTEM", "events": events},)


def test_start_excluding_is_honoured_by_matching() -> None:
    match = {"vulnerable": True, "criteria": BUSYBOX, "versionStartExcluding": "1.0.1"}
    match["versionEndExcluding"] = "1.0.2"
    advisory = parse_nvd_cve(_with([match]))
    ranges = ranges_from_json(advisory.packages[0].ranges)
    assert affected(OPENSSL, "1.0.1", ranges) is None
    assert affected(OPENSSL, "1.0.1a", ranges) is not None


def test_platforms_and_negated_nodes_are_not_affected_packages() -> None:
    cve = {
        "id": "CVE-2024-0002",
        "configurations": [
            {
                "operator": "AND",
                "nodes": [
                    {"cpeMatch": [{"vulnerable": True, "criteria": BUSYBOX}]},
                    {
                        "cpeMatch": [
                            {"vulnerable": False, "criteria": "cpe:2.3:o:linux:linux_kernel:-"}
                        ]
                    },
                    {
                        "negate": True,
                        "cpeMatch": [{"vulnerable": True, "criteria": "cpe:2.3:a:x:y:1.0"}],
                    },
                ],
            }
        ],
    }
    assert [p.cpe_key for p in parse_nvd_cve(cve).packages] == ["busybox:busybox"]


def test_cvss_v30_then_v2_fallbacks() -> None:
    v30 = {
        "cvssData": {"baseScore": 9.8, "vectorString": "CVSS:3.0/AV:N", "baseSeverity": "CRITICAL"}
    }
    v2 = {"cvssData": {"baseScore": 4.3, "vectorString": "AV:N/AC:M"}, "baseSeverity": "MEDIUM"}
    both = parse_nvd_cve(
        {"id": "CVE-2017-0001", "metrics": {"cvssMetricV30": [v30], "cvssMetricV2": [v2]}}
    )
    assert (both.severity, both.cvss_score, both.cvss_vector) == (
        Severity.CRITICAL,
        9.8,
        "CVSS:3.0/AV:N",
    )
    old = parse_nvd_cve({"id": "CVE-2009-0001", "metrics": {"cvssMetricV2": [v2]}})
    assert (old.severity, old.cvss_score, old.cvss_vector) == (Severity.MEDIUM, 4.3, "AV:N/AC:M")


@pytest.mark.parametrize(
    ("cve", "message"),
    [
        ({"descriptions": []}, "'id' is required"),
        ({"id": "GHSA-xxxx-yyyy-zzzz"}, "must be a CVE id"),
        ({"id": "CVE-2024-1234", "published": "soon"}, "is not an ISO 8601 timestamp"),
        ({"id": "CVE-2024-0001", "configurations": {}}, "'configurations' must be a list"),
        (_with([{"vulnerable": True, "criteria": "openssl 1.0.1"}]), "neither a CPE 2.3"),
        (_with([{"vulnerable": True}]), "need a 'criteria'"),
        (
            _with([{"vulnerable": True, "criteria": BUSYBOX, "versionEndExcluding": 2}]),
            "must be a string",
        ),
        (
            {
                "id": "CVE-2024-0001",
                "metrics": {"cvssMetricV31": [{"cvssData": {"baseScore": "high"}}]},
            },
            "must be a number",
        ),
    ],
)
def test_invalid_cves_are_refused_with_the_location(cve: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidAdvisoryError, match=message) as caught:
        parse_nvd_cve(cve, "nvd.json[0]")
    assert str(caught.value).startswith("nvd.json[0]: ")
