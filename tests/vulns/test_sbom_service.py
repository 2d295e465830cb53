"""Importing a release's SBOM: replace, attach to the release record, permissions, nothing
written on refusal; reading and exporting it (manufacturer and hospitals)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.db.engine import transaction
from medfleet.releases import records
from medfleet.releases.errors import ReleaseNotFoundError
from medfleet.releases.model import ReleaseState
from medfleet.vulns import findings, sboms
from medfleet.vulns.errors import (
    InvalidSbomError,
    SbomConflictError,
    SbomNotFoundError,
    VulnsPermissionError,
)
from medfleet.vulns.sbom_read import read_document
from medfleet.vulns.tables import Finding, Sbom, SbomComponent, Vulnerability
from tests.api.helpers import audit_count, audit_events
from tests.vulns.support_sbom import (
    MODEL,
    NAMES,
    SbomEnv,
    create_release,
    fixture,
    import_as,
    move_to,
    release_row,
    row_counts,
    sbom_env,
    stored,
    without_refs,
)

__all__ = ["sbom_env"]
CDX = fixture("ip100-cyclonedx-1.6.json")
SPDX = fixture("ip100-spdx-2.3.json")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attach(env: SbomEnv, data: bytes, sbom_format: str, version: str = "4.2.0") -> None:
    """Attach a document to a draft the way ``medfleet release attach-sbom`` does."""
    blobs = env.rt.distribution.blobs
    with transaction(env.rt.sessions) as session:
        records.attach_sbom(
            session,
            env.rt.audit,
            blobs,
            env.world.engineer,
            MODEL,
            version,
            sbom_format,
            blobs.put_bytes(data),
        )


def test_an_import_into_a_draft_keeps_every_component_and_attaches_the_document(
    sbom_env: SbomEnv,
) -> None:
    create_release(sbom_env)
    summary = import_as(sbom_env, sbom_env.world.engineer, CDX)
    assert summary == {
        "model": MODEL,
        "version": "4.2.0",
        "format": "cyclonedx",
        "spec_version": "1.6",
        "document_sha256": sha(CDX),
        "components": 6,
        "unmatchable": 1,
        "replaced_components": None,
        "attached": True,
    }
    assert stored(sbom_env) == sorted(read_document(CDX).components, key=lambda c: c.name)
    release = release_row(sbom_env)
    assert (release.sbom_sha256, release.sbom_format) == (sha(CDX), "cyclonedx-json")
    assert sbom_env.rt.distribution.blobs.contains(sha(CDX))
    events = audit_events(sbom_env.rt, "vulns.sbom_imported")
    assert [e["payload"]["components"] for e in events] == [6]
    assert events[0]["actor"] == "user:eng"
    assert len(audit_events(sbom_env.rt, "release.sbom_attached")) == 1


def _finding_on(env: SbomEnv, name: str) -> None:
    with transaction(env.rt.sessions) as session:
        component = session.scalar(select(SbomComponent).where(SbomComponent.name == name))
        assert component is not None
        now = env.rt.clock.now()
        vulnerability = Vulnerability(key="CVE-2014-0160", summary="Heartbleed", first_seen_at=now)
        session.add(vulnerability)
        session.flush()
        session.add(
            Finding(
                release_pk=component.release_pk,
                component_id=component.id,
                vulnerability_id=vulnerability.id,
                matched_by="purl",
                reason="openssl 1.0.1f in [1.0.1, 1.0.1g)",
                active=True,
                first_matched_at=now,
                updated_at=now,
            )
        )


def _count(env: SbomEnv, table: type[Finding] | type[Sbom]) -> int:
    with transaction(env.rt.sessions) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_a_reimport_replaces_the_sbom_its_components_and_their_findings(
    sbom_env: SbomEnv,
) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    _finding_on(sbom_env, "openssl")
    assert _count(sbom_env, Finding) == 1
    summary = import_as(sbom_env, sbom_env.world.qa, SPDX)
    assert (summary["format"], summary["replaced_components"]) == ("spdx", 6)
    assert _count(sbom_env, Finding) == 0
    assert _count(sbom_env, Sbom) == 1
    assert [c.bom_ref for c in stored(sbom_env)][:2] == ["SPDXRef-busybox", "SPDXRef-libc6"]
    assert without_refs(stored(sbom_env)) == without_refs(read_document(CDX).components)
    assert release_row(sbom_env).sbom_format == "spdx-json"


def test_findings_are_recomputed_once_the_components_are_written(
    sbom_env: SbomEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    release_pk = create_release(sbom_env)
    seen: list[tuple[list[int], int, str]] = []

    def match_releases(
        session: Session, release_pks: Collection[int], now: datetime, **audited: Any
    ) -> None:
        written = session.scalar(select(func.count()).select_from(SbomComponent))
        seen.append((list(release_pks), written or 0, audited["principal"].username))

    monkeypatch.setattr(findings, "match_releases", match_releases)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    assert seen == [([release_pk], 6, "eng")]  # audited as the importer


@pytest.mark.parametrize(
    "name",
    [
        "invalid-cyclonedx-schema.json",
        "invalid-cyclonedx-1.3.json",
        "invalid-cyclonedx-duplicate-refs.json",
        "invalid-cyclonedx-bad-purl.json",
        "invalid-cyclonedx-bad-cpe.json",
        "invalid-cyclonedx-bad-end-of-support.json",
        "invalid-spdx-duplicate-ids.json",
        "invalid-spdx-schema.json",
    ],
)
def test_a_refused_document_changes_nothing(sbom_env: SbomEnv, name: str) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    before = (row_counts(sbom_env), audit_count(sbom_env.rt), stored(sbom_env))
    with pytest.raises(InvalidSbomError):
        import_as(sbom_env, sbom_env.world.engineer, fixture(name))
    assert (row_counts(sbom_env), audit_count(sbom_env.rt), stored(sbom_env)) == before
    assert release_row(sbom_env).sbom_sha256 == sha(CDX)


def test_only_manufacturer_engineers_qa_and_admins_import(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    world = sbom_env.world
    for who in (world.admin_a, world.biomed_b, world.auditor):
        with pytest.raises(VulnsPermissionError):
            import_as(sbom_env, who, CDX)
    with pytest.raises(VulnsPermissionError, match="not by hospitals"):
        import_as(sbom_env, world.admin_a, CDX, version="9.9.9")  # 403 before any lookup
    assert row_counts(sbom_env) == {"sboms": 0, "components": 0}
    for who in (world.engineer, world.qa, world.admin):
        assert import_as(sbom_env, who, CDX)["components"] == 6
    with pytest.raises(ReleaseNotFoundError):
        import_as(sbom_env, world.engineer, CDX, version="9.9.9")


def test_past_draft_only_the_attached_document_is_imported(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    move_to(sbom_env, "4.2.0", ReleaseState.RELEASED)
    with pytest.raises(SbomConflictError, match="signed record covers another SBOM"):
        import_as(sbom_env, sbom_env.world.engineer, SPDX)
    assert stored(sbom_env)[0].bom_ref == "busybox"
    again = import_as(sbom_env, sbom_env.world.engineer, CDX)
    assert (again["attached"], again["replaced_components"]) == (False, 6)
    from_blob = import_as(sbom_env, sbom_env.world.engineer, None)
    assert (from_blob["document_sha256"], from_blob["components"]) == (sha(CDX), 6)
    assert release_row(sbom_env).sbom_sha256 == sha(CDX)


def test_the_attached_sbom_is_imported_when_no_document_is_given(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    with pytest.raises(SbomNotFoundError, match="no attached SBOM"):
        import_as(sbom_env, sbom_env.world.engineer, None)
    attach(sbom_env, SPDX, "spdx-json")
    summary = import_as(sbom_env, sbom_env.world.engineer, None)
    assert (summary["format"], summary["attached"], summary["components"]) == ("spdx", False, 6)
    assert len(audit_events(sbom_env.rt, "release.sbom_attached")) == 1


def test_a_draft_with_a_mislabelled_attachment_is_reattached(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    attach(sbom_env, SPDX, "cyclonedx-json")
    assert import_as(sbom_env, sbom_env.world.engineer, None)["attached"] is True
    assert release_row(sbom_env).sbom_format == "spdx-json"


def test_only_json_attachments_are_imported(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    attach(sbom_env, b"<bom/>", "cyclonedx-xml")
    with pytest.raises(InvalidSbomError, match="the attached SBOM is cyclonedx-xml"):
        import_as(sbom_env, sbom_env.world.engineer, None)


def test_a_release_from_before_sbom_attachments_imports_without_attaching(
    sbom_env: SbomEnv,
) -> None:
    create_release(sbom_env, state=ReleaseState.RELEASED)
    summary = import_as(sbom_env, sbom_env.world.engineer, CDX)
    assert (summary["attached"], summary["components"]) == (False, 6)
    assert release_row(sbom_env).sbom_sha256 is None
    assert import_as(sbom_env, sbom_env.world.engineer, SPDX)["format"] == "spdx"


def test_readers_and_what_hospitals_may_see(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    world = sbom_env.world
    with transaction(sbom_env.rt.sessions) as session:
        view = sboms.get_sbom(session, world.auditor, MODEL, "4.2.0")
        assert view.as_dict()["imported_by"] == "eng"
        assert (view.as_dict()["components"], view.unmatchable) == (6, 1)
        with pytest.raises(ReleaseNotFoundError):
            sboms.get_sbom(session, world.biomed_a, MODEL, "4.2.0")  # a draft
    for state in (ReleaseState.VERIFIED, ReleaseState.APPROVED):
        move_to(sbom_env, "4.2.0", state)
        with transaction(sbom_env.rt.sessions) as session, pytest.raises(ReleaseNotFoundError):
            sboms.get_sbom(session, world.biomed_a, MODEL, "4.2.0")
    for state in (ReleaseState.RELEASED, ReleaseState.WITHDRAWN):
        move_to(sbom_env, "4.2.0", state)
        with transaction(sbom_env.rt.sessions) as session:
            summary = sboms.get_sbom(session, world.biomed_b, MODEL, "4.2.0").as_dict()
            assert summary["release_state"] == state.value
            assert "imported_by" not in summary
            assert sboms.export_sbom(session, world.admin_a, MODEL, "4.2.0")


def test_components_are_searched_by_name_or_purl(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, CDX)
    with transaction(sbom_env.rt.sessions) as session:
        view = sboms.get_sbom(session, sbom_env.world.engineer, MODEL, "4.2.0")

        def names(search: str | None) -> list[str]:
            return [row.name for row in sboms.components(session, view, search)]

        assert names(None) == NAMES
        assert names("SSL") == ["openssl"]
        assert names("pkg:pypi/") == ["pyserial"]
        assert names("%") == ["libc6"]  # a literal "%" (its purl has "%2B"), not a wildcard
        assert names("_") == []


def test_a_release_without_an_imported_sbom(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    with transaction(sbom_env.rt.sessions) as session:
        with pytest.raises(SbomNotFoundError):
            sboms.get_sbom(session, sbom_env.world.engineer, MODEL, "4.2.0")
        with pytest.raises(SbomNotFoundError):
            sboms.export_sbom(session, sbom_env.world.engineer, MODEL, "4.2.0")


def test_the_export_of_a_stored_sbom_reimports_to_the_same_components(
    sbom_env: SbomEnv,
) -> None:
    create_release(sbom_env)
    import_as(sbom_env, sbom_env.world.engineer, SPDX)
    with transaction(sbom_env.rt.sessions) as session:
        exported = sboms.export_sbom(session, sbom_env.world.engineer, MODEL, "4.2.0")
        assert exported == sboms.export_sbom(session, sbom_env.world.qa, MODEL, "4.2.0")
    before = stored(sbom_env)
    summary = import_as(sbom_env, sbom_env.world.engineer, exported.encode())
    assert (summary["spec_version"], summary["components"]) == ("1.6", 6)
    assert stored(sbom_env) == before
