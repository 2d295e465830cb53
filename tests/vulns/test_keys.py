"""The keys components and advisories meet on: normalised purls and CPE vendor:product."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.vulns.errors import InvalidIdentifierError
from medfleet.vulns.keys import cpe_key, package_key, parse_cpe, parse_purl


@pytest.mark.parametrize(
    ("purl", "key"),
    [
        ("pkg:generic/openssl@1.0.1f", "pkg:generic/openssl"),
        ("pkg:PyPI/Django_Rest-Framework@3.14.0", "pkg:pypi/django-rest-framework"),
        ("pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=amd64&distro=bullseye",
         "pkg:deb/debian/openssl"),
        ("pkg:npm/%40angular/core@16.0.0", "pkg:npm/%40angular/core"),
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
         "pkg:maven/org.apache.logging.log4j/log4j-core"),
        ("pkg:golang/github.com/gorilla/websocket@v1.5.0#examples",
         "pkg:golang/github.com/gorilla/websocket"),
        ("  pkg:generic/busybox@1.36.1  ", "pkg:generic/busybox"),
    ],
)  # fmt: skip
def test_package_keys_drop_version_qualifiers_and_subpath(purl: str, key: str) -> None:
    assert package_key(purl) == key


def test_pypi_names_are_normalised_as_pep_503_says() -> None:
    assert package_key("pkg:pypi/Zope.Interface@6.0") == package_key("pkg:pypi/zope-interface")


def test_a_purl_read_apart() -> None:
    name = parse_purl("pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=amd64")
    assert (name.type, name.name, name.version) == ("deb", "openssl", "1.1.1n-0+deb11u3")
    assert parse_purl("pkg:generic/zlib").version is None


@pytest.mark.parametrize("bad", ["", "openssl", "pkg:", "pkg:generic", "https://x/y"])
def test_unreadable_purls_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="not a valid purl"):
        package_key(bad)


def test_cpe_23_names_with_escaped_characters() -> None:
    name = parse_cpe(r"cpe:2.3:a:lwip_project:lwip\:stack:2.1.2:rc1:*:*:*:*:*:*")
    assert (name.vendor, name.product, name.version, name.update) == (
        "lwip_project",
        "lwip:stack",
        "2.1.2",
        "rc1",
    )
    assert name.key == "lwip_project:lwip:stack"
    assert parse_cpe(r"cpe:2.3:a:busybox:busybox:1\.36\.1:*:*:*:*:*:*:*").version == "1.36.1"


def test_cpe_versions_left_open_and_case() -> None:
    assert parse_cpe("cpe:2.3:a:OpenSSL:OpenSSL:*:*:*:*:*:*:*:*").version is None
    assert parse_cpe("cpe:2.3:h:cisco:router:-:*:*:*:*:*:*:*").version is None
    assert cpe_key("cpe:2.3:o:Linux:Linux_Kernel:5.10.1:*:*:*:*:*:*:*") == "linux:linux_kernel"


def test_cpe_22_uris() -> None:
    name = parse_cpe("cpe:/a:OpenSSL:OpenSSL:1.0.1f")
    assert (name.part, name.key, name.version, name.update) == (
        "a",
        "openssl:openssl",
        "1.0.1f",
        None,
    )
    short = parse_cpe("cpe:/o:linux:linux_kernel")
    assert (short.key, short.version) == ("linux:linux_kernel", None)
    assert parse_cpe("cpe:/a:openssl:openssl:1.0.1:beta1").update == "beta1"


@pytest.mark.parametrize(
    "bad",
    [
        "openssl:openssl",
        "cpe:2.3:x:openssl:openssl:1.0",
        "cpe:2.3:a:openssl",
        "cpe:/a:*:openssl:1.0",
        "cpe:2.3:a:vendor:-:1.0",
        "cpe:3.0:a:openssl:openssl",
    ],
)
def test_unreadable_cpes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        cpe_key(bad)


words = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@given(words, words, st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,2}){0,2}[a-z]?", fullmatch=True))
def test_both_cpe_forms_give_the_same_key_and_version(
    vendor: str, product: str, version: str
) -> None:
    formatted = parse_cpe(f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*")
    uri = parse_cpe(f"cpe:/a:{vendor}:{product}:{version}")
    assert formatted.key == uri.key == f"{vendor}:{product}"
    assert formatted.version == uri.version == version
