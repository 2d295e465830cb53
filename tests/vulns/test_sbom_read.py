"""Reading SBOM documents: CycloneDX 1.4-1.6 and SPDX 2.3 fixtures, and every refusal."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from medfleet.errors import InvalidInput
from medfleet.vulns import sbom_read
from medfleet.vulns.errors import (
    DuplicateSbomRefError,
    InvalidSbomComponentError,
    InvalidSbomError,
    SbomSchemaError,
    SbomTooLargeError,
    UnsupportedSbomVersionError,
)
from medfleet.vulns.sbom_model import SupportLevel
from medfleet.vulns.sbom_read import read_document
from tests.vulns.support_sbom import NAMES, VALID, encode, fixture, fixture_json, without_refs


@pytest.mark.parametrize("name", VALID)
def test_each_fixture_reads_to_the_same_components(name: str) -> None:
    parsed = read_document(fixture(name))
    reference = read_document(fixture("ip100-cyclonedx-1.6.json"))
    assert sorted(c.name for c in parsed.components) == NAMES
    assert without_refs(parsed.components) == without_refs(reference.components)
    assert parsed.unmatchable == 1  # pump-control: neither purl nor CPE


def test_what_is_kept_of_a_component() -> None:
    parsed = read_document(fixture("ip100-cyclonedx-1.5.json"))
    assert (parsed.format, parsed.spec_version, parsed.label) == (
        "cyclonedx",
        "1.5",
        "CycloneDX 1.5",
    )
    by_name = {c.name: c for c in parsed.components}
    openssl = by_name["openssl"]
    assert openssl.bom_ref == "openssl"
    assert (openssl.kind, openssl.version) == ("library", "1.0.1f")
    assert (openssl.purl, openssl.package_key) == (
        "pkg:generic/openssl@1.0.1f",
        "pkg:generic/openssl",
    )
    assert (openssl.cpe, openssl.cpe_key) == (
        "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*",
        "openssl:openssl",
    )
    assert openssl.supplier == "OpenSSL Software Foundation"
    assert [h.alg for h in openssl.hashes] == ["SHA-256"]
    # cdx:fda:level-of-support "no longer maintained", cdx:fda:end-of-support-date
    assert (openssl.support_level, openssl.end_of_support) == (
        SupportLevel.NONE,
        date(2016, 12, 31),
    )
    busybox = by_name["busybox"]
    assert (busybox.purl, busybox.cpe_key) == (None, "busybox:busybox")
    assert by_name["libc6"].package_key == "pkg:deb/debian/libc6"
    assert by_name["pyserial"].package_key == "pkg:pypi/pyserial"
    assert not by_name["pump-control"].matchable


def test_nested_components_are_included() -> None:
    document = fixture_json("ip100-cyclonedx-1.6.json")
    assert [c["name"] for c in document["components"][1]["components"]] == ["zlib"]
    document["metadata"]["component"]["components"] = [
        {"type": "library", "name": "lwip", "version": "2.1.3", "bom-ref": "lwip"}
    ]
    parsed = read_document(encode(document))
    assert {"zlib", "lwip"} <= {c.name for c in parsed.components}
    assert "IP-100 firmware" not in {c.name for c in parsed.components}


def test_components_without_bom_ref_get_a_unique_one() -> None:
    document = fixture_json("ip100-cyclonedx-1.6.json")
    extra = {"type": "library", "name": "lwip", "version": "2.1.3"}
    document["components"] += [
        dict(extra),
        {**extra, "description": "a second copy"},
        {**extra, "purl": "pkg:generic/lwip@2.1.3"},
    ]
    refs = [c.bom_ref for c in read_document(encode(document)).components if c.name == "lwip"]
    assert refs == ["lwip@2.1.3", "components[6]", "pkg:generic/lwip@2.1.3"]


def test_spdx_reads_support_level_from_annotations_and_comments() -> None:
    parsed = read_document(fixture("ip100-spdx-2.3.json"))
    by_name = {c.name: c for c in parsed.components}
    assert by_name["openssl"].bom_ref == "SPDXRef-openssl"
    assert by_name["openssl"].support_level is SupportLevel.NONE  # annotation
    assert by_name["pyserial"].support_level is SupportLevel.UNKNOWN  # comment
    assert by_name["libc6"].end_of_support == date(2028, 6, 30)  # validUntilDate
    assert parsed.serial_number == "https://acme-medical.example/spdx/ip100-firmware-4.2.0-7c1e"


def test_spdx_keeps_the_described_package_when_it_is_the_only_one() -> None:
    document = fixture_json("ip100-spdx-2.3.json")
    document["packages"] = document["packages"][:1]
    document["relationships"] = document["relationships"][:1]
    parsed = read_document(encode(document))
    assert [c.name for c in parsed.components] == ["IP-100 firmware"]
    assert parsed.components[0].kind == "firmware"


def _refused(data: bytes) -> InvalidSbomError:
    with pytest.raises(InvalidSbomError) as caught:
        read_document(data)
    assert isinstance(caught.value, InvalidInput)
    return caught.value


@pytest.mark.parametrize(
    ("name", "error", "fragments"),
    [
        (
            "invalid-cyclonedx-schema.json",
            SbomSchemaError,
            [
                "components[0].type: 'librar' is not one of",
                "components[1].hashes[0].content: 'xyz' does not match",
                "components[2]: 'name' is a required property",
            ],
        ),
        (
            "invalid-cyclonedx-1.3.json",
            UnsupportedSbomVersionError,
            ["CycloneDX 1.3 is not supported; 1.4-1.6 are"],
        ),
        (
            "invalid-cyclonedx-duplicate-refs.json",
            DuplicateSbomRefError,
            ["components[2]: bom-ref 'openssl' is also used by components[1]"],
        ),
        (
            "invalid-cyclonedx-bad-purl.json",
            InvalidSbomComponentError,
            ["components[1].purl: 'pkg:openssl@1.0.1f' is not a valid purl"],
        ),
        (
            "invalid-cyclonedx-bad-cpe.json",
            InvalidSbomComponentError,
            ["components[2].cpe: 'cpe:2.3:x:busybox:busybox:1.36.1:*:*:*:*:*:*:*' needs a part"],
        ),
        (
            "invalid-cyclonedx-bad-end-of-support.json",
            InvalidSbomComponentError,
            ["components[4].properties[medfleet:end-of-support]: '2028-02-30' is not an ISO"],
        ),
        (
            "invalid-cyclonedx-bad-support-level.json",
            InvalidSbomComponentError,
            ["'sometimes' is not a level of support"],
        ),
        ("invalid-spdx-2.2.json", UnsupportedSbomVersionError, ["SPDX-2.2 is not supported"]),
        (
            "invalid-spdx-duplicate-ids.json",
            DuplicateSbomRefError,
            ["packages[3]: SPDXID 'SPDXRef-openssl' is also used by packages[2]"],
        ),
        (
            "invalid-spdx-schema.json",
            SbomSchemaError,
            [
                "SPDXRef-openssl: value of ChecksumAlgorithm.SHA256 must consist of 64",
                'SPDXRef-openssl: externalPackageRef locator of type "purl" must conform',
            ],
        ),
        (
            "invalid-spdx-bad-purl.json",
            SbomSchemaError,
            ['SPDXRef-openssl: externalPackageRef locator of type "purl"'],
        ),
    ],
)
def test_invalid_documents_are_refused_with_every_problem(
    name: str, error: type[InvalidSbomError], fragments: list[str]
) -> None:
    refused = _refused(fixture(name))
    assert type(refused) is error
    message = str(refused)
    for fragment in fragments:
        assert fragment in message
    members: dict[str, Any] = refused.problem_members()
    if isinstance(refused, UnsupportedSbomVersionError):
        assert members == {}
        return
    listed = [f"{p['where']}: {p['message']}" for p in members["problems"]]
    for fragment, line in zip(fragments, listed, strict=True):
        assert fragment in line


def test_documents_that_are_no_sbom_at_all() -> None:
    assert "not JSON" in str(_refused(b"<bom/>"))
    assert "UTF-8" in str(_refused("{}".encode("utf-16")))
    assert "a JSON object" in str(_refused(b"[1, 2]"))
    assert "neither CycloneDX" in str(_refused(b'{"bomFormat": "SWID"}'))
    spdx3 = _refused(b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}')
    assert isinstance(spdx3, UnsupportedSbomVersionError)
    assert "SPDX 3" in str(spdx3)


def _nested(depth: int) -> bytes:
    component: dict[str, Any] = {"type": "library", "name": "leaf"}
    for level in range(depth):
        component = {"type": "library", "name": f"n{level}", "components": [component]}
    return encode({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [component]})


def test_nesting_is_read_to_any_depth_the_schema_check_can_follow() -> None:
    assert len(read_document(_nested(100)).components) == 101
    assert "nested too deeply to be read" in str(_refused(_nested(400)))
    assert "not JSON" in str(_refused(b"[" * 100_000 + b"]" * 100_000))


def test_cyclonedx_without_spec_version() -> None:
    refused = _refused(b'{"bomFormat": "CycloneDX"}')
    assert str(refused) == "CycloneDX without a specVersion is not supported; 1.4-1.6 are"


def test_spdx_of_the_wrong_shape_is_a_schema_error() -> None:
    document = fixture_json("ip100-spdx-2.3.json")
    document["packages"][1]["externalRefs"] = "pkg:generic/openssl@1.0.1f"
    assert isinstance(_refused(encode(document)), SbomSchemaError)


def test_a_document_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = fixture("ip100-cyclonedx-1.6.json")
    monkeypatch.setattr(sbom_read, "MAX_DOCUMENT_BYTES", len(data) - 1)
    refused = _refused(data)
    assert isinstance(refused, SbomTooLargeError)
    assert f"at most {len(data) - 1} are imported" in str(refused)
    monkeypatch.setattr(sbom_read, "MAX_DOCUMENT_BYTES", len(data))
    assert len(read_document(data).components) == 6
