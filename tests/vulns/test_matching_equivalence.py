"""The compiled ranges decide exactly as ``ranges.affected`` does (hypothesis).

Random OSV ranges (any mix of introduced, introduced-0, introduced_after, fixed, last_affected
and limit, in any order, several ranges, ties and missing starts included) and explicit version
lists, checked against random versions in SemVer and in OpenSSL's letter ordering: the engine
must hit exactly when ``affected`` matches, give the same reason, and skip exactly when
``affected`` refuses the range.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.vulns.errors import InvalidVersionRangeError
from medfleet.vulns.matching import MatchIndex
from medfleet.vulns.range_compile import (
    Ladder,
    VersionCache,
    compile_key,
    in_compiled_range,
    orderable,
)
from medfleet.vulns.ranges import affected, ranges_from_json, version_class
from tests.vulns.support_findings import component, rule

semver = st.builds("{}.{}.{}".format, st.integers(0, 2), st.integers(0, 2), st.integers(0, 3))
OPENSSL_RELEASES = (
    [
        f"{base}{letter}"
        for base in ("0.9.8", "1.0.0", "1.0.1", "1.0.2", "1.1.1")
        for letter in ("", "a", "f", "g", "z")
    ]
    + [f"3.0.{patch}" for patch in range(9)]
    + ["3.1.0", "3.1.2"]
)
openssl = st.sampled_from(OPENSSL_RELEASES)
KINDS = ["introduced", "introduced", "introduced_after", "fixed", "last_affected", "limit"]


def ranges_of(versions: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    event = st.one_of(
        st.tuples(st.sampled_from(KINDS), versions),
        st.just(("introduced", "0")),
    ).map(lambda pair: {pair[0]: pair[1]})
    return st.lists(
        st.fixed_dictionaries(
            {"type": st.just("ECOSYSTEM"), "events": st.lists(event, min_size=1, max_size=5)}
        ),
        max_size=3,
    )


@st.composite
def case_of(
    draw: st.DrawFn, key: str, name: str, versions: st.SearchStrategy[str]
) -> tuple[str, str, str, list[Any], list[str]]:
    """A package, ranges, a list, and a version: half the time one the events name."""
    raw_ranges = draw(ranges_of(versions))
    listed = draw(st.lists(versions, max_size=3))
    named = [v for r in raw_ranges for e in r["events"] for v in e.values() if v != "0"]
    on_a_bound = bool(named) and draw(st.booleans())
    version = draw(st.sampled_from(named) if on_a_bound else versions)
    return key, name, version, raw_ranges, listed


pep440 = st.builds(
    "{}.{}{}".format, st.integers(0, 2), st.integers(0, 2), st.sampled_from(["", "rc1", ".post1"])
)
debian = st.builds(
    "{}:{}.{}-{}".format,
    st.integers(0, 1),
    st.integers(1, 2),
    st.integers(0, 10),
    st.sampled_from(["1", "2", "1+deb11u2", "1+deb11u10", "1~bpo1"]),
)
CASES = st.one_of(
    case_of("pkg:npm/lib", "npm", semver),
    case_of("pkg:generic/openssl", "openssl", openssl),
    case_of("pkg:pypi/lib", "pypi", pep440),
    case_of("pkg:deb/debian/lib", "lib", debian),
    case_of("pkg:generic/busybox", "busybox", semver),
)


@settings(max_examples=400, deadline=None)
@given(CASES)
def test_engine_decides_as_ranges_affected(
    case: tuple[str, str, str, list[Any], list[str]],
) -> None:
    key, name, version, raw_ranges, listed = case
    ranges = ranges_from_json(raw_ranges)
    cls = version_class(purl_type=key[4 : key.index("/")], product=name)
    try:
        expected = affected(cls, version, ranges, listed)
        refused = False
    except InvalidVersionRangeError:
        expected, refused = None, True
    index = MatchIndex([rule("CVE-1", package=key, ranges=raw_ranges, versions=listed)])
    result = index.match([component(f"{key}@{version}")])
    assert bool(list(result.skips())) is refused
    assert bool(result.hit_count) is (expected is not None)
    if expected is not None:
        assert next(result.hits()).reason == (
            f"{key}@{version}: {expected.reason} (CVE-1 via advisory NVD CVE-1)"
        )


KINDS_OF_VERSIONS = st.one_of(
    st.tuples(st.just("npm"), st.lists(semver, min_size=1, max_size=8), semver),
    st.tuples(st.just("pypi"), st.lists(pep440, min_size=1, max_size=8), pep440),
    st.tuples(st.just("deb"), st.lists(debian, min_size=1, max_size=8), debian),
    st.tuples(st.just("openssl"), st.lists(openssl, min_size=1, max_size=8), openssl),
)


@settings(max_examples=300, deadline=None)
@given(KINDS_OF_VERSIONS)
def test_ladder_positions_order_like_the_versions(case: tuple[str, list[str], str]) -> None:
    kind, bounds, version = case
    cls = version_class(purl_type=kind, product=kind)
    ladder = Ladder(orderable(cls(text)) for text in bounds)
    probe = cls(version)
    position = ladder.position(orderable(probe))
    for bound in bounds:
        rank = ladder.position(orderable(cls(bound)))
        assert rank % 2 == 0
        assert (position >= rank) is (probe >= cls(bound))
        assert (position > rank) is (probe > cls(bound))


def test_compiled_events_keep_in_range_order_for_ties() -> None:
    cls = version_class(purl_type="npm")
    raw = [{"events": [{"fixed": "1.0.0"}, {"introduced": "1.0.0"}]}]
    _, ((compiled,),) = compile_key([(cls, ranges_from_json(raw))], VersionCache())
    assert not isinstance(compiled, str)
    events, described = compiled
    assert described == "fixed 1.0.0, introduced 1.0.0"
    at_bound = 0  # the only bound's rank
    assert in_compiled_range(at_bound, events) is (
        affected(cls, "1.0.0", ranges_from_json(raw)) is not None
    )
