"""Helpers for the SBOM tests (no tests here): fixture documents, releases in any state, rows.

The fixtures under ``fixtures/sbom`` describe one small infusion-pump firmware (IP-100 4.2.0):
pump-control (the maker's own code: no purl, no CPE), openssl 1.0.1f (purl and CPE) with zlib
nested in it, busybox (CPE only), pyserial (PyPI) and libc6 (Debian). The CycloneDX 1.4, 1.5
and 1.6 and SPDX 2.3 documents carry the same data, each spelling the FDA support properties
differently. ``invalid-*.json`` are each refused for one reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from medfleet.accounts.model import Principal
from medfleet.api.app import create_app
from medfleet.db.engine import transaction
from medfleet.releases import records
from medfleet.releases.model import ReleaseState
from medfleet.releases.records import ReleaseFields
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns import sboms
from medfleet.vulns.sbom_model import Component
from medfleet.vulns.tables import Sbom, SbomComponent
from tests.api.helpers import TestClient
from tests.builders import World, build_world

FIXTURES = Path(__file__).parent / "fixtures" / "sbom"
MODEL = "IP-100"
VALID = (
    "ip100-cyclonedx-1.4.json",
    "ip100-cyclonedx-1.5.json",
    "ip100-cyclonedx-1.6.json",
    "ip100-spdx-2.3.json",
)
NAMES = ["busybox", "libc6", "openssl", "pump-control", "pyserial", "zlib"]


def fixture(name: str) -> bytes:
    """The bytes of a fixture document."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    """A fixture document, parsed (to be changed by a test)."""
    document: dict[str, Any] = json.loads(fixture(name))
    return document


def encode(document: dict[str, Any]) -> bytes:
    """A document as bytes."""
    return json.dumps(document).encode()


def without_refs(components: Iterable[Component]) -> list[Component]:
    """Components sorted by name with their bom-refs blanked (they differ between formats)."""
    return sorted((replace(c, bom_ref="") for c in components), key=lambda c: c.name)


@dataclass(frozen=True)
class SbomEnv:
    """A runtime with the world of ``tests.builders``."""

    rt: Runtime
    world: World


@pytest.fixture
def sbom_env(runtime: Runtime) -> SbomEnv:
    """The manufacturer, two hospitals and their staff; no release yet."""
    return SbomEnv(runtime, build_world(runtime))


@pytest.fixture
def sbom_app(runtime: Runtime) -> FastAPI:
    """An app on the test runtime."""
    return create_app(runtime)


@pytest.fixture
def sbom_client(sbom_app: FastAPI, sbom_env: SbomEnv) -> Iterator[TestClient]:
    """A client for the app; the world is built first."""
    with TestClient(sbom_app) as client:
        yield client


def create_release(
    env: SbomEnv, version: str = "4.2.0", state: ReleaseState = ReleaseState.DRAFT
) -> int:
    """A release of IP-100 by the engineer, put into ``state`` directly (no review steps)."""
    number = int(version.replace(".", ""))
    with transaction(env.rt.sessions) as session:
        release = records.create(
            session,
            env.rt.audit,
            env.world.engineer,
            MODEL,
            version,
            ReleaseFields(version_number=number),
        )
        set_state(env, release, state)
        return release.id


def set_state(env: SbomEnv, release: Release, state: ReleaseState) -> None:
    """Move a release to ``state`` without its workflow (released ones get ``released_at``)."""
    release.state = state.value
    if state in (ReleaseState.RELEASED, ReleaseState.WITHDRAWN):
        release.released_at = env.rt.clock.now()


def move_to(env: SbomEnv, version: str, state: ReleaseState) -> None:
    """Move an existing release to ``state`` directly."""
    with transaction(env.rt.sessions) as session:
        release = session.scalar(select(Release).where(Release.version == version))
        assert release is not None
        set_state(env, release, state)


def import_as(
    env: SbomEnv, who: Principal, document: bytes | None, version: str = "4.2.0"
) -> dict[str, Any]:
    """Import as ``who`` in one transaction; the summary."""
    with transaction(env.rt.sessions) as session:
        done = sboms.import_sbom(
            session,
            env.rt.audit,
            who,
            env.rt.distribution.blobs,
            MODEL,
            version,
            document,
            env.rt.clock.now(),
        )
        return done.as_dict()


def stored(env: SbomEnv, version: str = "4.2.0") -> list[Component]:
    """The release's stored components, as the model's ``Component``, sorted by name."""
    with transaction(env.rt.sessions) as session:
        rows = session.scalars(
            select(SbomComponent)
            .join(Release, Release.id == SbomComponent.release_pk)
            .where(Release.version == version)
            .order_by(SbomComponent.name)
        )
        return [sboms.component_of(row) for row in rows]


def release_row(env: SbomEnv, version: str = "4.2.0") -> Release:
    """The release record (detached, read in its own transaction)."""
    with transaction(env.rt.sessions) as session:
        release = session.scalar(select(Release).where(Release.version == version))
        assert release is not None
        session.expunge(release)
        return release


def row_counts(env: SbomEnv) -> dict[str, int]:
    """SBOM and component rows: what a refused import must leave as it was."""
    with transaction(env.rt.sessions) as session:
        return {
            "sboms": session.scalar(select(func.count()).select_from(Sbom)) or 0,
            "components": session.scalar(select(func.count()).select_from(SbomComponent)) or 0,
        }
