"""OSV records read into ParsedAdvisory: real GHSA/DSA/upstream records, mapping, validation."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.vulns.advisory_model import Severity, Source
from medfleet.vulns.errors import InvalidAdvisoryError
from medfleet.vulns.osv import parse_osv, purl_for
from medfleet.vulns.ranges import affected, ranges_from_json, version_class
from tests.vulns.support_advisory import document


def test_github_advisory_for_a_pypi_package() -> None:
    advisory = parse_osv(document("osv/GHSA-j8r2-6x86-q33q.json"), "ghsa.json")
    assert advisory.source is Source.OSV
    assert advisory.ids == ("GHSA-j8r2-6x86-q33q", "CVE-2023-32681")
    assert advisory.summary == "Unintended leak of Proxy-Authorization header in requests"
    assert advisory.severity is Severity.MEDIUM  # GitHub's "MODERATE"
    assert advisory.cvss_vector == "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"
    assert advisory.cvss_score == 6.1  # computed from the vector; GitHub shows 6.1 too
    assert advisory.published == datetime(2023, 5, 22, 20, 36, 32, tzinfo=UTC)
    assert advisory.withdrawn is None
    (package,) = advisory.packages
    assert (package.package_key, package.cpe_key, package.ecosystem) == (
        "pkg:pypi/requests",
        None,
        "PyPI",
    )
    assert package.ranges == (
        {"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]},
    )
    cls = version_class(purl_type="pypi")
    assert affected(cls, "2.30.0", ranges_from_json(package.ranges)) is not None
    assert affected(cls, "2.31.0", ranges_from_json(package.ranges)) is None


def test_debian_advisory_keyed_by_its_purl_and_upstream_cve() -> None:
    advisory = parse_osv(document("osv/DSA-2896-1.json"))
    assert advisory.ids == ("DSA-2896-1", "CVE-2014-0160")
    (package,) = advisory.packages
    assert package.package_key == "pkg:deb/debian/openssl"  # qualifiers dropped
    assert package.ecosystem == "Debian:7"
    cls = version_class(purl_type="deb", ecosystem=package.ecosystem)
    ranges = ranges_from_json(package.ranges)
    assert affected(cls, "1.0.1e-2+deb7u4", ranges) is not None
    assert affected(cls, "1.0.1e-2+deb7u5", ranges) is None


def test_upstream_openssl_record_by_generic_purl_skips_git_ranges() -> None:
    advisory = parse_osv(document("osv/CVE-2014-0160.json"))
    assert advisory.ids == ("CVE-2014-0160",)
    assert advisory.severity is Severity.HIGH
    (package,) = advisory.packages
    assert package.package_key == "pkg:generic/openssl"
    assert package.ecosystem is None
    assert advisory.ignored == ("affected[1]: no package (git ranges only)",)
    cls = version_class(product="openssl")
    ranges = ranges_from_json(package.ranges)
    hits = {v: affected(cls, v, ranges) is not None for v in ("1.0.0", "1.0.1", "1.0.1f", "1.0.1g")}
    assert hits == {"1.0.0": False, "1.0.1": True, "1.0.1f": True, "1.0.1g": False}


def test_cve_2022_3602_with_range_and_listed_versions() -> None:
    advisory = parse_osv(document("osv/CVE-2022-3602.json"))
    (package,) = advisory.packages
    assert package.versions == ("3.0.0", "3.0.1", "3.0.2", "3.0.3", "3.0.4", "3.0.5", "3.0.6")
    cls = version_class(product="openssl")
    ranges = ranges_from_json(package.ranges)
    assert affected(cls, "3.0.6", ranges, package.versions) is not None
    assert affected(cls, "3.0.7", ranges, package.versions) is None
    assert affected(cls, "1.1.1", ranges, package.versions) is None


def test_debian_cve_record_with_one_upstream_is_that_cve() -> None:
    advisory = parse_osv(document("osv/DEBIAN-CVE-2022-3602.json"))
    assert advisory.ids == ("DEBIAN-CVE-2022-3602", "CVE-2022-3602")
    assert advisory.summary.startswith("A buffer overrun can be triggered")  # from details


def test_several_upstreams_and_related_are_not_aliases() -> None:
    record = {
        "id": "DSA-5343-1",
        "modified": "2023-02-08T00:00:00Z",
        "upstream": ["CVE-2022-4304", "CVE-2023-0286"],
        "related": ["USN-5844-1"],
    }
    advisory = parse_osv(record)
    assert advisory.ids == ("DSA-5343-1",)
    assert advisory.related == ("USN-5844-1", "CVE-2022-4304", "CVE-2023-0286")


def test_withdrawn_record() -> None:
    advisory = parse_osv(document("osv/GHSA-57m8-f3v5-hm5m.json"))
    assert advisory.withdrawn == datetime(2023, 11, 1, 17, 54, 21, tzinfo=UTC)
    assert advisory.packages[0].package_key == "pkg:maven/io.netty/netty-handler"


def test_a_vector_only_record_is_scored_and_a_bad_vector_kept_unscored() -> None:
    record: dict[str, Any] = {
        "id": "OSV-2024-7",
        "modified": "2024-01-01T00:00:00Z",
        "severity": [
            {
                "type": "CVSS_V4",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            },
            {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
        ],
    }
    advisory = parse_osv(record)
    assert (advisory.cvss_score, advisory.severity) == (9.3, Severity.CRITICAL)  # v4 before v2
    record["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}]
    advisory = parse_osv(record)
    assert (advisory.cvss_vector, advisory.cvss_score, advisory.severity) == (
        "CVSS:3.1/AV:Q", None, None,
    )  # fmt: skip
    assert advisory.ignored[0].startswith("severity: CVSS vector 'CVSS:3.1/AV:Q' cannot be scored")


@pytest.mark.parametrize(
    ("ecosystem", "name", "key"),
    [
        ("PyPI", "Django_Rest", "pkg:pypi/django-rest"),
        ("npm", "@babel/traverse", "pkg:npm/%40babel/traverse"),
        ("npm", "lodash", "pkg:npm/lodash"),
        ("crates.io", "openssl-src", "pkg:cargo/openssl-src"),
        ("Go", "golang.org/x/net", "pkg:golang/golang.org/x/net"),
        ("Maven", "io.netty:netty-handler", "pkg:maven/io.netty/netty-handler"),
        ("NuGet", "Newtonsoft.Json", "pkg:nuget/Newtonsoft.Json"),
        ("RubyGems", "rails", "pkg:gem/rails"),
        ("Packagist", "symfony/http-kernel", "pkg:composer/symfony/http-kernel"),
        ("Debian:12", "openssl", "pkg:deb/debian/openssl"),
        ("Alpine:v3.17", "openssl", "pkg:apk/alpine/openssl"),
        ("Ubuntu:22.04:LTS", "openssl", "pkg:deb/ubuntu/openssl"),
        ("OSS-Fuzz", "openssl", None),
        ("Linux", "kernel", None),
    ],
)
def test_ecosystem_to_purl_mapping(ecosystem: str, name: str, key: str | None) -> None:
    assert purl_for(ecosystem, name) == key


def test_unknown_ecosystem_is_ignored_with_a_reason_unless_a_purl_is_given() -> None:
    entry: dict[str, Any] = {
        "package": {"ecosystem": "OSS-Fuzz", "name": "openssl"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
    }
    record = {"id": "OSV-2020-1", "modified": "2021-01-01T00:00:00Z", "affected": [entry]}
    advisory = parse_osv(record)
    assert advisory.packages == ()
    assert advisory.ignored == (
        "affected[0]: ecosystem 'OSS-Fuzz' has no purl type known to medfleet "
        "and the entry gives no package.purl",
    )
    entry["package"]["purl"] = "pkg:generic/openssl"
    assert parse_osv(record).packages[0].package_key == "pkg:generic/openssl"


def test_entry_without_usable_ranges_or_versions_is_ignored() -> None:
    record = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "left-pad"},
                "ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}],
            }
        ],
    }
    advisory = parse_osv(record)
    assert advisory.packages == ()
    assert advisory.ignored == (
        "affected[0]: pkg:npm/left-pad has no ECOSYSTEM/SEMVER range and no versions",
    )


GOOD: dict[str, Any] = {
    "id": "GHSA-aaaa-bbbb-cccc",
    "modified": "2024-01-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "x"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    ],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "'id' is required"),
        ({"id": ""}, "'id' is required"),
        ({"modified": None}, "'modified' is required"),
        ({"modified": "yesterday"}, "is not an ISO 8601 timestamp"),
        ({"aliases": "CVE-2024-1"}, "'aliases' must be a list"),
        ({"aliases": [1]}, "'aliases' must be a list of strings"),
        ({"affected": {}}, "'affected' must be a list"),
        ({"affected": [{"package": {"name": "x"}}]}, "needs a 'purl' or an 'ecosystem'"),
        ({"affected": [{"package": {"purl": "not a purl"}}]}, "is not a valid purl"),
        (
            {
                "affected": [
                    {
                        "package": {"purl": "pkg:pypi/x"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}
                        ],
                    }
                ]
            },
            "exactly one key",
        ),
        (
            {
                "affected": [
                    {
                        "package": {"purl": "pkg:pypi/x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"patched": "1"}]}],
                    }
                ]
            },
            "is not understood",
        ),
        (
            {"affected": [{"package": {"purl": "pkg:pypi/x"}, "ranges": [{"events": []}]}]},
            "need a string 'type'",
        ),
        ({"severity": [{"type": "CVSS_V3"}]}, "'severity' entries need"),
    ],
)
def test_invalid_records_are_refused_with_the_location(
    change: dict[str, Any], message: str
) -> None:
    record = {**GOOD, **change}
    with pytest.raises(InvalidAdvisoryError, match=message) as caught:
        parse_osv(record, "feed.json[3]")
    assert str(caught.value).startswith("feed.json[3]: ")


def test_not_an_object() -> None:
    with pytest.raises(InvalidAdvisoryError, match="must be a JSON object"):
        parse_osv(["GHSA"], "x.json")


def test_content_hash_ignores_key_order_but_not_content() -> None:
    first = parse_osv(GOOD)
    reordered = parse_osv(dict(reversed(list(GOOD.items()))))
    changed = parse_osv({**GOOD, "summary": "now with a summary"})
    assert first.content_sha256 == reordered.content_sha256
    assert first.content_sha256 != changed.content_sha256


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
osv_like = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["GHSA-x", "", 3]),
        "modified": st.sampled_from(["2024-01-01T00:00:00Z", "x"]),
    },
    optional={
        "aliases": json_values,
        "affected": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "package": st.fixed_dictionaries(
                        {},
                        optional={
                            "ecosystem": json_values,
                            "name": json_values,
                            "purl": json_values,
                        },
                    ),
                    "ranges": json_values,
                    "versions": json_values,
                },
            ),
            max_size=2,
        ),
        "severity": json_values,
        "withdrawn": json_values,
    },
)


@given(osv_like)
def test_any_json_is_read_or_refused_with_invalid_advisory(record: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidAdvisoryError):
        parse_osv(record)
