"""The pure matching engine on real advisories: routes, orderings, events, reasons, skips.

Heartbleed (CVE-2014-0160: 1.0.1 through 1.0.1f, fixed in 1.0.1g, 1.0.0 not affected) and
CVE-2022-3602 (3.0.0 through 3.0.6, fixed in 3.0.7, 1.1.1 not affected), through purl and CPE.
"""

from __future__ import annotations

import pytest

from medfleet.vulns.matching import CPE, PURL, Hit, MatchIndex, Package
from tests.vulns.support_findings import (
    CVE_2022_3602,
    CVE_2022_3602_LAST_AFFECTED,
    CVE_2022_3602_RANGES,
    HEARTBLEED,
    HEARTBLEED_NVD_VERSIONS,
    HEARTBLEED_RANGES,
    OPENSSL,
    OPENSSL_CPE,
    component,
    openssl_cpe,
    rule,
)


def hits(index: MatchIndex, *components: object) -> list[Hit]:
    return list(index.match(components).hits())  # type: ignore[arg-type]


def one(index: MatchIndex, purl: str | None = None, cpe: str | None = None) -> Hit | None:
    found = hits(index, component(purl, cpe))
    assert len(found) <= 1
    return found[0] if found else None


HEARTBLEED_PURL = MatchIndex([rule(package=OPENSSL, ranges=HEARTBLEED_RANGES)])
HEARTBLEED_CPE = MatchIndex([rule(cpe=OPENSSL_CPE, versions=HEARTBLEED_NVD_VERSIONS)])


@pytest.mark.parametrize(
    ("version", "hit"),
    [("1.0.0", False), ("1.0.1", True), ("1.0.1f", True), ("1.0.1g", False), ("1.0.2", False)],
)
def test_heartbleed_through_purl_with_openssl_letter_ordering(version: str, hit: bool) -> None:
    found = one(HEARTBLEED_PURL, f"{OPENSSL}@{version}")
    assert (found is not None) is hit
    if found is not None:
        assert found.matched_by == PURL
        assert found.reason == (
            f"{OPENSSL}@{version}: {version} is in the range introduced 1.0.1, fixed 1.0.1g "
            f"({HEARTBLEED} via advisory NVD {HEARTBLEED})"
        )


@pytest.mark.parametrize(
    ("version", "hit"),
    [("1.0.0", False), ("1.0.1", True), ("1.0.1f", True), ("1.0.1g", False)],
)
def test_heartbleed_through_cpe_with_nvd_explicit_versions(version: str, hit: bool) -> None:
    found = one(HEARTBLEED_CPE, cpe=openssl_cpe(version))
    assert (found is not None) is hit
    if found is not None:
        assert found.matched_by == CPE
        assert found.reason == (
            f"CPE {OPENSSL_CPE} {version}: version {version} is listed as affected "
            f"({HEARTBLEED} via advisory NVD {HEARTBLEED})"
        )


def test_cpe_22_uris_and_open_cpe_versions_use_the_component_version() -> None:
    assert one(HEARTBLEED_CPE, cpe="cpe:/a:openssl:openssl:1.0.1f") is not None
    open_version = component(cpe="cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", version="1.0.1e")
    assert len(hits(HEARTBLEED_CPE, open_version)) == 1
    open_fixed = component(cpe="cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", version="1.0.1g")
    assert hits(HEARTBLEED_CPE, open_fixed) == []


@pytest.mark.parametrize("ranges", [CVE_2022_3602_RANGES, CVE_2022_3602_LAST_AFFECTED])
@pytest.mark.parametrize(
    ("version", "hit"),
    [("1.1.1", False), ("1.1.1s", False), ("3.0.0", True), ("3.0.6", True), ("3.0.7", False)],
)
def test_cve_2022_3602_through_purl_and_cpe(
    ranges: list[dict[str, object]], version: str, hit: bool
) -> None:
    by_purl = MatchIndex([rule(CVE_2022_3602, package=OPENSSL, ranges=ranges)])
    by_cpe = MatchIndex([rule(CVE_2022_3602, cpe=OPENSSL_CPE, ranges=ranges)])
    assert (one(by_purl, f"{OPENSSL}@{version}") is not None) is hit
    assert (one(by_cpe, cpe=openssl_cpe(version)) is not None) is hit


def test_pypi_names_and_pep440_ordering() -> None:
    index = MatchIndex(
        [rule("GHSA-x", package="pkg:pypi/django-rest", ecosystem="PyPI", ranges=[
            {"type": "ECOSYSTEM", "events": [{"introduced": "4.0"}, {"fixed": "4.0.10"}]}
        ])]
    )  # fmt: skip
    assert one(index, "pkg:pypi/Django_Rest@4.0.9") is not None
    assert one(index, "pkg:pypi/django-rest@4.0.10rc1") is not None  # a pre-release of the fix
    assert one(index, "pkg:pypi/django-rest@4.0.10") is None
    assert one(index, "pkg:pypi/django-rest@3.2") is None


def test_debian_ordering_is_not_string_ordering() -> None:
    index = MatchIndex(
        [rule("DSA-1", package="pkg:deb/debian/openssl", ecosystem="Debian:11", ranges=[
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u4"}]}
        ])]
    )  # fmt: skip
    assert one(index, "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=amd64") is not None
    assert one(index, "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u4") is None
    assert one(index, "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u10") is None  # "u10" > "u4"
    assert one(index, "pkg:deb/debian/openssl@1:1.1.1a-1") is None  # an epoch outranks all


def test_limit_last_affected_and_reintroduction() -> None:
    events = [{"introduced": "1.0.0"}, {"fixed": "1.2.0"}, {"introduced": "2.0.0"},
              {"last_affected": "2.4.0"}, {"introduced": "3.0.0"}, {"limit": "3.1.0"}]  # fmt: skip
    index = MatchIndex([rule("GHSA-y", package="pkg:npm/left-pad", ranges=[{"events": events}])])
    expected = {"0.9.0": False, "1.0.0": True, "1.1.9": True, "1.2.0": False, "2.0.0": True,
                "2.4.0": True, "2.4.1": False, "3.0.5": True, "3.1.0": False,
                "9.0.0": False}  # fmt: skip
    for version, hit in expected.items():
        assert (one(index, f"pkg:npm/left-pad@{version}") is not None) is hit, version


def test_explicit_versions_match_exactly_and_need_no_ordering() -> None:
    index = MatchIndex([rule("GHSA-z", package="pkg:pypi/tool", versions=["1.0", "weird build"])])
    assert one(index, "pkg:pypi/tool@weird%20build") is not None  # unparseable, but listed
    assert one(index, "pkg:pypi/tool@1.0") is not None
    assert one(index, "pkg:pypi/tool@1.0.0") is None  # listed means listed: no ordering
    assert list(index.match([component("pkg:pypi/tool@not!valid")]).skips()) == []


def test_unreadable_versions_are_skipped_with_the_reason_and_the_run_goes_on() -> None:
    index = MatchIndex(
        [rule(package=OPENSSL, ranges=HEARTBLEED_RANGES),
         rule("GHSA-p", package="pkg:pypi/tool", ranges=[{"events": [{"introduced": "0"}]}],
              rule_id=2, advisory_id=2, source="OSV")]
    )  # fmt: skip
    result = index.match(
        [
            component("pkg:pypi/tool@not!a!version", component_id=1),
            component(f"{OPENSSL}@1.0.1f", component_id=2),
            component(purl="pkg:pypi/tool", component_id=3),  # no version at all
        ]
    )
    assert [hit.component_id for hit in result.hits()] == [2]
    assert [(s.component_id, s.reason) for s in result.skips()] == [
        (1, "pkg:pypi/tool@not!a!version: version 'not!a!version' is not a valid Pypi version "
            "(advisory OSV GHSA-p)"),
        (3, "pkg:pypi/tool@None: the component has no version to compare (advisory OSV GHSA-p)"),
    ]  # fmt: skip


def test_an_unreadable_advisory_range_skips_only_its_vulnerability() -> None:
    bad = [{"events": [{"introduced": "1.0.0"}, {"fixed": "one-point-two"}]}]
    no_start = [{"events": [{"fixed": "2.0.0"}]}]
    index = MatchIndex(
        [rule("GHSA-bad", package="pkg:npm/a", ranges=bad, rule_id=1, advisory_id=1),
         rule("GHSA-nostart", package="pkg:npm/a", ranges=no_start, rule_id=2, advisory_id=2),
         rule("GHSA-good", package="pkg:npm/a", ranges=[{"events": [{"introduced": "0"}]}],
              rule_id=3, advisory_id=3)]
    )  # fmt: skip
    result = index.match([component("pkg:npm/a@1.5.0")])
    assert [hit.reason.split("(")[1] for hit in result.hits()] == [
        "GHSA-good via advisory NVD GHSA-good)"
    ]
    reasons = sorted(skip.reason for skip in result.skips())
    assert "fixed 'one-point-two' is not a valid Semver version" in reasons[0]
    assert "range 'fixed 2.0.0' has no introduced" in reasons[1]


def test_one_hit_per_vulnerability_purl_preferred_lowest_advisory_first() -> None:
    index = MatchIndex(
        [rule(cpe=OPENSSL_CPE, versions=HEARTBLEED_NVD_VERSIONS, rule_id=1, advisory_id=1),
         rule(package=OPENSSL, ranges=HEARTBLEED_RANGES, rule_id=2, advisory_id=3, source="OSV"),
         rule(package=OPENSSL, versions=["1.0.1f"], rule_id=3, advisory_id=2, source="VENDOR")]
    )  # fmt: skip
    (hit,) = hits(index, component(f"{OPENSSL}@1.0.1f", openssl_cpe("1.0.1f")))
    assert (hit.matched_by, hit.advisory_id) == (PURL, 2)
    assert hit.reason.endswith(f"({HEARTBLEED} via advisory VENDOR {HEARTBLEED})")


def test_purl_rules_decide_the_vulnerabilities_they_speak_of() -> None:
    index = MatchIndex(
        [rule(package=OPENSSL, ranges=[{"events": [{"introduced": "1.0.1"}, {"fixed": "1.0.1b"}]}]),
         rule(cpe=OPENSSL_CPE, versions=HEARTBLEED_NVD_VERSIONS, rule_id=2, advisory_id=2),
         rule(CVE_2022_3602, cpe=OPENSSL_CPE, ranges=CVE_2022_3602_RANGES, rule_id=3,
              advisory_id=3)]
    )  # fmt: skip
    # The purl range says 1.0.1f is fixed; NVD's list disagrees but purl speaks of Heartbleed.
    assert hits(index, component(f"{OPENSSL}@1.0.1f", openssl_cpe("1.0.1f"))) == []
    (hit,) = hits(index, component(f"{OPENSSL}@3.0.5", openssl_cpe("3.0.5")))
    assert (hit.vulnerability_id, hit.matched_by) == (index_vid(CVE_2022_3602), CPE)


def index_vid(key: str) -> int:
    return rule(key).vulnerability_id


def test_package_manager_purls_use_cpe_only_without_purl_rules() -> None:
    cpe_rule = rule(CVE_2022_3602, cpe="python:cryptography", versions=["3.0.0"], rule_id=1)
    purl_rule = rule("GHSA-q", package="pkg:pypi/cryptography", versions=["1.0"], rule_id=2)
    pypi = component("pkg:pypi/cryptography@3.0.0", "cpe:2.3:a:python:cryptography:3.0.0")
    assert [h.matched_by for h in hits(MatchIndex([cpe_rule]), pypi)] == [CPE]
    assert hits(MatchIndex([cpe_rule, purl_rule]), pypi) == []


def test_each_distinct_package_is_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    index = MatchIndex([rule(package=OPENSSL, ranges=HEARTBLEED_RANGES)])
    evaluated: list[Package] = []
    evaluate = index._evaluate

    def counting(package: Package) -> object:
        evaluated.append(package)
        return evaluate(package)

    monkeypatch.setattr(index, "_evaluate", counting)
    shared = [f"{OPENSSL}@1.0.1f", f"{OPENSSL}@1.0.1g", "pkg:npm/x@1.0.0"]
    components = [
        component(shared[n % 3], component_id=n, release_pk=n // 300) for n in range(3000)
    ]
    result = index.match(components)
    assert len(evaluated) == 3
    assert result.components == 3000
    assert result.hit_count == 1000
    assert {hit.release_pk for hit in result.hits()} == set(range(10))


def test_adding_rules_later_drops_stale_verdicts() -> None:
    index = MatchIndex()
    subject = component(f"{OPENSSL}@1.0.1f")
    assert hits(index, subject) == []
    index.add([rule(package=OPENSSL, ranges=HEARTBLEED_RANGES)])
    index.add([rule(package=OPENSSL, ranges=HEARTBLEED_RANGES)])  # the same rule id: ignored
    assert len(index) == 1
    assert len(hits(index, subject)) == 1


def test_c_components_without_an_ordering_of_their_own_compare_numerically() -> None:
    kernel = MatchIndex(
        [rule("CVE-2022-4378", cpe="linux:linux_kernel", ranges=[
            {"events": [{"introduced": "5.10.0"}, {"fixed": "5.10.162"}]}
        ])]
    )  # fmt: skip
    assert one(kernel, cpe="cpe:2.3:o:linux:linux_kernel:5.10.9:*:*:*:*:*:*:*") is not None
    assert one(kernel, cpe="cpe:2.3:o:linux:linux_kernel:5.10.162:*:*:*:*:*:*:*") is None
