"""The SBOM routes: import with a raw body, summary and components, CycloneDX export."""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from medfleet.releases.model import ReleaseState
from medfleet.vulns import sbom_read
from medfleet.vulns.sbom_model import SupportLevel
from medfleet.vulns.sbom_read import read_document
from tests.api.helpers import TestClient, assert_problem, login
from tests.vulns.support_sbom import (
    NAMES,
    SbomEnv,
    create_release,
    fixture,
    move_to,
    row_counts,
    sbom_app,
    sbom_client,
    sbom_env,
)

__all__ = ["sbom_app", "sbom_client", "sbom_env"]
SBOM = "/api/v1/vulns/releases/IP-100/4.2.0/sbom"
CDX = fixture("ip100-cyclonedx-1.5.json")


def test_import_read_and_export(sbom_client: TestClient, sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    engineer = login(sbom_client, "eng")
    imported = sbom_client.post(
        SBOM, content=CDX, headers={**engineer, "content-type": "application/json"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["components"] == 6
    assert imported.json()["unmatchable"] == 1

    listed = sbom_client.get(SBOM, headers=engineer)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["sbom"]["format"], body["sbom"]["spec_version"]) == ("cyclonedx", "1.5")
    assert [c["name"] for c in body["components"]] == NAMES
    openssl = next(c for c in body["components"] if c["name"] == "openssl")
    assert openssl["support_level"] == SupportLevel.NONE.value
    assert openssl["end_of_support"] == "2016-12-31"
    assert openssl["cpe_key"] == "openssl:openssl"
    busybox = sbom_client.get(SBOM, params={"search": "busy"}, headers=engineer).json()
    assert [(c["name"], c["matchable"]) for c in busybox["components"]] == [("busybox", True)]

    exported = sbom_client.get(f"{SBOM}/cyclonedx", headers=engineer)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(exported.text) is None
    assert len(read_document(exported.content).components) == 6


def test_an_empty_body_imports_the_attached_sbom(
    sbom_client: TestClient, sbom_env: SbomEnv
) -> None:
    create_release(sbom_env)
    engineer = login(sbom_client, "eng")
    attached = sbom_client.put(
        "/api/v1/releases/IP-100/4.2.0/sbom",
        content=fixture("ip100-spdx-2.3.json"),
        params={"format": "spdx-json"},
        headers=engineer,
    )
    assert attached.status_code == 200, attached.text
    imported = sbom_client.post(SBOM, headers=engineer)
    assert imported.status_code == 201, imported.text
    assert (imported.json()["format"], imported.json()["attached"]) == ("spdx", False)


def test_an_invalid_document_is_422_with_every_problem(
    sbom_client: TestClient, sbom_env: SbomEnv
) -> None:
    create_release(sbom_env)
    engineer = login(sbom_client, "eng")
    refused = sbom_client.post(
        SBOM, content=fixture("invalid-cyclonedx-schema.json"), headers=engineer
    )
    problem = assert_problem(refused, 422)
    assert [p["where"] for p in problem["problems"]] == [
        "components[0].type",
        "components[1].hashes[0].content",
        "components[2]",
    ]
    assert "nothing was imported" in problem["detail"]
    assert row_counts(sbom_env) == {"sboms": 0, "components": 0}
    wrong = sbom_client.post(SBOM, content=fixture("invalid-cyclonedx-1.3.json"), headers=engineer)
    assert "CycloneDX 1.3 is not supported; 1.4-1.6 are" in assert_problem(wrong, 422)["detail"]


def test_hospitals_read_released_sboms_only_and_never_import(
    sbom_client: TestClient, sbom_env: SbomEnv
) -> None:
    create_release(sbom_env)
    engineer = login(sbom_client, "eng")
    assert sbom_client.post(SBOM, content=CDX, headers=engineer).status_code == 201
    biomed = login(sbom_client, "biomed.a")
    assert_problem(sbom_client.get(SBOM, headers=biomed), 404)
    assert_problem(sbom_client.get(f"{SBOM}/cyclonedx", headers=biomed), 404)
    assert_problem(sbom_client.post(SBOM, content=CDX, headers=biomed), 403)
    move_to(sbom_env, "4.2.0", ReleaseState.RELEASED)
    seen = sbom_client.get(SBOM, headers=biomed)
    assert seen.status_code == 200, seen.text
    assert "imported_by" not in seen.json()["sbom"]
    assert "eng" not in json.dumps(seen.json()["sbom"])
    assert sbom_client.get(f"{SBOM}/cyclonedx", headers=biomed).status_code == 200
    assert_problem(sbom_client.post(SBOM, content=CDX, headers=biomed), 403)
    auditor = login(sbom_client, "aud")
    assert_problem(sbom_client.post(SBOM, content=CDX, headers=auditor), 403)
    assert sbom_client.get(SBOM, headers=auditor).status_code == 200


def test_a_body_over_the_limit_is_refused_unread(
    sbom_client: TestClient, sbom_env: SbomEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_release(sbom_env)
    monkeypatch.setattr(sbom_read, "MAX_DOCUMENT_BYTES", 1000)
    refused = sbom_client.post(SBOM, content=CDX, headers=login(sbom_client, "eng"))
    assert "at most 1000 are imported" in assert_problem(refused, 422)["detail"]
    assert row_counts(sbom_env) == {"sboms": 0, "components": 0}
