"""OSV affected ranges with each ecosystem's ordering, on real advisories' ranges.

Heartbleed (CVE-2014-0160): OpenSSL 1.0.1 through 1.0.1f affected, fixed in 1.0.1g, 1.0.0 not
affected. CVE-2022-3602: OpenSSL 3.0.0 through 3.0.6, fixed in 3.0.7, 1.1.1 not affected.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from univers.versions import (
    GenericVersion,
    OpensslVersion,
    PypiVersion,
    RpmVersion,
    SemverVersion,
)

from medfleet.vulns.errors import InvalidVersionRangeError
from medfleet.vulns.ranges import (
    AffectedRange,
    Event,
    EventKind,
    affected,
    ranges_from_json,
    version_class,
)

INTRO, F, L, LIMIT = EventKind.INTRODUCED, EventKind.FIXED, EventKind.LAST_AFFECTED, EventKind.LIMIT
HEARTBLEED = AffectedRange((Event(INTRO, "1.0.1"), Event(F, "1.0.1g")))
CVE_2022_3602 = AffectedRange((Event(INTRO, "3.0.0"), Event(F, "3.0.7")))
CVE_2022_3602_LAST = AffectedRange((Event(INTRO, "3.0.0"), Event(L, "3.0.6")))
OPENSSL = version_class(product="openssl")


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("1.0.0", False),
        ("1.0.0t", False),
        ("1.0.1", True),
        ("1.0.1a", True),
        ("1.0.1f", True),
        ("1.0.1g", False),
        ("1.0.1u", False),
        ("1.0.2", False),
    ],
)
def test_heartbleed_with_openssl_letter_versions(version: str, hit: bool) -> None:
    match = affected(OPENSSL, version, [HEARTBLEED])
    assert (match is not None) is hit
    if match is not None:
        assert match.reason == f"{version} is in the range introduced 1.0.1, fixed 1.0.1g"


@pytest.mark.parametrize("affected_range", [CVE_2022_3602, CVE_2022_3602_LAST])
@pytest.mark.parametrize(
    ("version", "hit"),
    [("1.1.1", False), ("1.1.1s", False), ("3.0.0", True), ("3.0.6", True), ("3.0.7", False)],
)
def test_cve_2022_3602_with_fixed_or_last_affected(
    affected_range: AffectedRange, version: str, hit: bool
) -> None:
    assert (affected(OPENSSL, version, [affected_range]) is not None) is hit


def test_version_classes_by_purl_type_ecosystem_and_product() -> None:
    assert version_class(purl_type="pypi") is PypiVersion
    assert version_class(ecosystem="npm") is SemverVersion
    assert version_class(ecosystem="Debian:12") is not GenericVersion
    assert version_class(product="OpenSSL") is OpensslVersion
    assert version_class(product="busybox") is RpmVersion


def test_pep440_ordering_is_not_string_ordering() -> None:
    fixed_in_1_10 = AffectedRange((Event(INTRO, "0"), Event(F, "1.10")))
    assert affected(PypiVersion, "1.9", [fixed_in_1_10]) is not None
    assert affected(PypiVersion, "1.10", [fixed_in_1_10]) is None
    assert affected(PypiVersion, "1.10rc1", [fixed_in_1_10]) is not None


def test_reintroduced_after_a_fix_and_a_limit() -> None:
    twice = AffectedRange((Event(INTRO, "1.0.0"), Event(F, "1.2.0"), Event(INTRO, "2.0.0")))
    assert affected(SemverVersion, "1.1.0", [twice]) is not None
    assert affected(SemverVersion, "1.5.0", [twice]) is None
    assert affected(SemverVersion, "2.3.0", [twice]) is not None
    limited = AffectedRange((Event(INTRO, "0"), Event(LIMIT, "3.0.0")))
    assert affected(SemverVersion, "2.9.9", [limited]) is not None
    assert affected(SemverVersion, "3.0.0", [limited]) is None


def test_explicit_version_list() -> None:
    match = affected(GenericVersion, "2.7.1", [], ["2.7.0", "2.7.1"])
    assert match is not None
    assert "listed" in match.reason
    assert affected(GenericVersion, "2.7.2", [], ["2.7.0", "2.7.1"]) is None


def test_unreadable_versions_and_ranges_are_refused() -> None:
    with pytest.raises(InvalidVersionRangeError, match="no introduced"):
        affected(SemverVersion, "1.0.0", [AffectedRange((Event(F, "1.0.1"),))])
    with pytest.raises(InvalidVersionRangeError, match="not a valid Semver version"):
        affected(SemverVersion, "one", [HEARTBLEED])


semver = st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)).map(
    lambda t: f"{t[0]}.{t[1]}.{t[2]}"
)


@given(semver, semver, semver)
def test_introduced_fixed_is_a_half_open_interval(a: str, b: str, v: str) -> None:
    low, high = sorted([SemverVersion(a), SemverVersion(b)])
    rng = AffectedRange((Event(INTRO, str(low)), Event(F, str(high))))
    expected = low <= SemverVersion(v) < high
    assert (affected(SemverVersion, v, [rng]) is not None) is expected


def test_json_ranges_with_nvd_start_excluding() -> None:
    ranges = ranges_from_json(
        [
            {"type": "GIT", "events": [{"introduced": "abc123"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced_after": "1.0.1"}, {"fixed": "1.0.2"}]},
        ]
    )
    cls = version_class(product="openssl")
    assert len(ranges) == 1
    assert affected(cls, "1.0.1", ranges) is None
    assert affected(cls, "1.0.1a", ranges) is not None
    assert affected(cls, "1.0.1z", ranges) is not None
    assert affected(cls, "1.0.2", ranges) is None


@pytest.mark.parametrize(
    "bad",
    [
        [{"type": "ECOSYSTEM", "events": []}],
        [{"type": "ECOSYSTEM", "events": [{"introduced": "1", "fixed": "2"}]}],
        [{"type": "ECOSYSTEM", "events": [{"patched": "2"}]}],
        [{"type": "ECOSYSTEM", "events": [{"fixed": 2}]}],
    ],
)
def test_json_ranges_refuse_malformed_events(bad: list[dict[str, object]]) -> None:
    with pytest.raises(InvalidVersionRangeError):
        ranges_from_json(bad)
