"""Helpers for the release-record tests (no tests here): a world, signing, complete drafts.

The signing is created like ``medfleet init`` does it for this world: the first admin ("root")
holds the top-level targets key, encrypted with the admin's password.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import Meaning
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.tables import AuditEventRow
from medfleet.changes.model import SafetyClass
from medfleet.db.engine import transaction
from medfleet.releases import approval, publishing, records
from medfleet.releases.records import ReleaseFields
from medfleet.releases.tables import Release, release_change
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.setup import create_signing
from tests.builders import PASSWORD, ROOT_PASSWORD, World, build_world
from tests.change_flow import passing_run, ready_change

MODEL = "IP-100"


def firmware(number: int) -> bytes:
    """An image that changes a little from one version to the next."""
    body = bytearray(hashlib.shake_256(b"IP-100 firmware").digest(120_000))
    body[number * 5000 : number * 5000 + 16] = b"release %8d" % number
    return bytes(body)


def create_release_signing(rt: Runtime) -> Distribution:
    """Image repository and director, the top-level targets key held by the admin "root"."""
    create_signing(
        rt.distribution.public_dir,
        rt.distribution.keys,
        rt.clock,
        root_passwords=[ROOT_PASSWORD],
        root_threshold=1,
        targets_username="root",
        targets_password=PASSWORD,
        production=False,
    )
    return rt.distribution


@dataclass(frozen=True)
class Env:
    """A runtime with the world and signing in place."""

    rt: Runtime
    world: World

    @property
    def distribution(self) -> Distribution:
        """The runtime's distribution."""
        return self.rt.distribution


@pytest.fixture
def env(runtime: Runtime) -> Env:
    """The world, and signing with "root" holding the top-level targets key."""
    world = build_world(runtime)
    create_release_signing(runtime)
    return Env(runtime, world)


def change_request(
    env: Env,
    author: Principal,
    title: str = "Fix late occlusion alarm",
    safety: SafetyClass = SafetyClass.B,
) -> str:
    """A change request authored by ``author`` that is ready to be released; its key.

    Classified (class ``safety``), one requirement added under it, assessed and approved by
    QA/RA, and in ``approval`` (``tests.change_flow.ready_change``).
    """
    return ready_change(env.rt, env.world, author, title, safety)[0]


def complete_fields(cr_keys: list[str], number: int = 420) -> ReleaseFields:
    """Everything verification asks for except the image."""
    return ReleaseFields(
        version_number=number,
        build_id=f"build-{number}",
        hardware_revisions=["B"],
        what_changed="Occlusion alarm now within 5 s (CR-1).",
        risk_summary="No new hazards; HS-3 residual risk reduced.",
        downtime_minutes=12,
        compatibility="Hardware revision B; from 4.0.0 on.",
        change_requests=cr_keys,
    )


def draft(
    env: Env,
    version: str = "4.2.0",
    number: int = 420,
    author: Principal | None = None,
    cr_keys: list[str] | None = None,
    image: bytes | None = None,
) -> None:
    """A complete draft by the engineer (or ``author``) with its image uploaded."""
    author = author or env.world.engineer
    keys = cr_keys if cr_keys is not None else [change_request(env, env.world.engineer)]
    blob = env.distribution.blobs.put_bytes(image if image is not None else firmware(number))
    passing_run(env.rt, env.world, f"build-{number}")
    with transaction(env.rt.sessions) as session:
        records.create(session, env.rt.audit, author, MODEL, version, complete_fields(keys, number))
        records.attach_artifact(
            session,
            env.rt.audit,
            env.distribution.blobs,
            author,
            MODEL,
            version,
            f"ip100-{version}.img",
            blob,
        )


def sign(env: Env, who: Principal, version: str, meaning: Meaning) -> None:
    """``who`` e-signs the release."""
    with transaction(env.rt.sessions) as session:
        approval.sign(session, env.rt.audit, who, MODEL, version, meaning)


def verify(env: Env, version: str = "4.2.0", who: Principal | None = None) -> None:
    """Verify the release (as the engineer by default)."""
    with transaction(env.rt.sessions) as session:
        approval.verify(
            session, env.rt.audit, env.distribution.blobs, who or env.world.engineer, MODEL, version
        )


def approve(env: Env, version: str = "4.2.0", who: Principal | None = None) -> None:
    """Approve the release (as QA by default)."""
    with transaction(env.rt.sessions) as session:
        approval.approve(
            session,
            env.rt.audit,
            who or env.world.qa,
            MODEL,
            version,
            trusted_keys=env.rt.trusted_keys(),
            blobs=env.distribution.blobs,
        )


def ready_for_approval(env: Env, version: str = "4.2.0", number: int = 420) -> None:
    """A verified release, signed as authored by its author (the engineer)."""
    draft(env, version, number)
    sign(env, env.world.engineer, version, Meaning.AUTHORED)
    verify(env, version)


def qa_holds_model(env: Env) -> None:
    """QA gets a targets key and holds the model role (threshold 1), delegated by root."""
    with transaction(env.rt.sessions) as session:
        publishing.create_signing_key(
            session, env.rt.audit, env.distribution.keys, env.world.qa, PASSWORD
        )
        publishing.delegate_model(
            session,
            env.rt.audit,
            env.distribution,
            env.world.admin,
            PASSWORD,
            MODEL,
            ["qa"],
            1,
            {"qa": PASSWORD},
        )


def publish(env: Env, version: str = "4.2.0") -> None:
    """QA releases the release (signs it into the image repository)."""
    with transaction(env.rt.sessions) as session:
        publishing.publish(
            session, env.rt.audit, env.distribution, env.world.qa, PASSWORD, MODEL, version
        )


def state(env: Env, version: str = "4.2.0") -> str:
    """The release's state."""
    with transaction(env.rt.sessions) as session:
        return records.get(session, env.world.qa, MODEL, version).state


def counts(env: Env) -> dict[str, int]:
    """Rows a refused step must leave as they were."""
    with transaction(env.rt.sessions) as session:

        def rows(column: object) -> int:
            return session.scalar(select(func.count()).select_from(column)) or 0  # type: ignore[arg-type]

        return {
            "releases": rows(Release),
            "links": rows(release_change),
            "signatures": rows(ElectronicSignature),
            "audit": rows(AuditEventRow),
        }


def audit_actions(env: Env, object_type: str, object_id: str) -> list[str]:
    """The actions of the audit events about one object, in order."""
    with transaction(env.rt.sessions) as session:
        rows = session.execute(
            select(AuditEventRow.action)
            .where(AuditEventRow.object_type == object_type, AuditEventRow.object_id == object_id)
            .order_by(AuditEventRow.seq)
        )
        return [row.action for row in rows]
