"""Helpers for the advisory tests (no tests here): fixture records, a world, imports, rows.

The fixtures under ``fixtures/advisories`` are real advisories (see its README.md).
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns.advisories import ImportSummary, import_advisories
from medfleet.vulns.advisory_model import ParsedAdvisory
from medfleet.vulns.advisory_sources import parse_document, read_advisories
from medfleet.vulns.tables import Advisory, Sbom, SbomComponent, Vulnerability, VulnerabilityAlias
from tests.builders import World, build_world

FIXTURES = Path(__file__).parent / "fixtures" / "advisories"
OSV_DIR = FIXTURES / "osv"
NVD_DIR = FIXTURES / "nvd"


def document(name: str) -> Any:
    """A fixture document as JSON data (a fresh copy): ``osv/GHSA-….json`` or ``nvd/….json``."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text()))


def parsed(name: str) -> list[ParsedAdvisory]:
    """The records of one fixture file."""
    return read_advisories([FIXTURES / name])


def parse(data: Any, fmt: str = "auto") -> list[ParsedAdvisory]:
    """Records from inline JSON data."""
    assert fmt in {"auto", "osv", "nvd"}
    return parse_document(data, fmt, "inline")  # type: ignore[arg-type]


def osv_zip(directory: Path) -> Path:
    """The OSV fixtures packed like OSV's ``all.zip``: one record per ``<id>.json`` member."""
    path = directory / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(OSV_DIR.glob("*.json")):
            archive.write(file, file.name)
    return path


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The manufacturer, two hospitals and their staff."""
    return build_world(runtime)


def run_import(
    runtime: Runtime, principal: Principal, advisories: Sequence[ParsedAdvisory]
) -> ImportSummary:
    """One import in its own transaction, at the runtime's clock."""
    with transaction(runtime.sessions) as session:
        return import_advisories(session, runtime.audit, principal, advisories, runtime.clock.now())


def vulnerability(runtime: Runtime, alias: str) -> dict[str, Any]:
    """A vulnerability's row, aliases and advisories, read fresh."""
    with transaction(runtime.sessions) as session:
        vuln_id = session.scalar(
            select(VulnerabilityAlias.vulnerability_id).where(VulnerabilityAlias.alias == alias)
        )
        assert vuln_id is not None, f"no vulnerability goes by {alias}"
        row = session.get_one(Vulnerability, vuln_id)
        aliases = set(
            session.scalars(
                select(VulnerabilityAlias.alias).where(
                    VulnerabilityAlias.vulnerability_id == vuln_id
                )
            )
        )
        advisories = {
            (a.source, a.source_id): a
            for a in session.scalars(select(Advisory).where(Advisory.vulnerability_id == vuln_id))
        }
        return {"row": row, "aliases": aliases, "advisories": advisories}


def count_vulnerabilities(runtime: Runtime) -> int:
    """How many vulnerabilities there are."""
    with transaction(runtime.sessions) as session:
        return len(session.scalars(select(Vulnerability.id)).all())


def add_release(runtime: Runtime, world: World, version: str, now: datetime) -> int:
    """A draft release row of IP-100 (inserted directly), for findings and VEX to refer to."""
    with transaction(runtime.sessions) as session:
        number = int(version.replace(".", ""))
        release = Release(
            org_id=world.engineer.org_id, model="IP-100", version=version,
            version_number=number, build_id=f"build-{version}", hardware_revisions=["A"],
            notes_what_changed="", notes_risk_summary="", notes_compatibility="",
            author_id=world.engineer.user_id, state="draft", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(release)
        session.flush()
        return release.id


def add_component(runtime: Runtime, world: World, release_pk: int, now: datetime) -> int:
    """An SBOM with one openssl component in the release (inserted directly)."""
    with transaction(runtime.sessions) as session:
        sbom = Sbom(
            release_pk=release_pk, format="cyclonedx", spec_version="1.6",
            document_sha256="0" * 64, serial_number=None, component_count=1,
            imported_by=world.engineer.user_id, imported_at=now,
        )  # fmt: skip
        session.add(sbom)
        session.flush()
        component = SbomComponent(
            sbom_id=sbom.id, release_pk=release_pk, bom_ref="openssl", kind="library",
            name="openssl", version="1.0.1f", purl="pkg:generic/openssl@1.0.1f",
            package_key="pkg:generic/openssl", cpe=None, cpe_key=None, supplier=None,
            hashes=[], support_level=None, end_of_support=None,
        )  # fmt: skip
        session.add(component)
        session.flush()
        return component.id
