"""Builders for a small world of organizations and users, used across test modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medfleet.accounts import service as accounts
from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.service import NewUser, principal_of
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.fleet import catalog
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.setup import create_signing

PASSWORD = "correct horse battery"
MODEL = "IP-100"
MODEL_GTIN = "09506000134352"  # GS1's example GTIN; its check digit (2) is right
MODEL_REVISIONS = ("A", "B", "C")


@dataclass(frozen=True)
class World:
    """A manufacturer with staff, and two hospitals each with a site and staff."""

    admin: Principal
    engineer: Principal
    qa: Principal
    auditor: Principal
    hospital_a: int
    hospital_b: int
    site_a: int
    site_b: int
    biomed_a: Principal
    admin_a: Principal
    biomed_b: Principal
    admin_b: Principal


def build_world(rt: Runtime) -> World:
    """Create the world in one transaction and return the principals.

    The manufacturer's catalogue has device model ``IP-100`` (firmware images, GTIN
    ``09506000134352``) with hardware revisions A, B and C.
    """
    with transaction(rt.sessions) as s:
        admin_user = accounts.bootstrap_manufacturer(
            s,
            rt.audit,
            rt.passwords,
            "Acme Medical",
            NewUser("root", "Ada Root", PASSWORD, frozenset({Role.ADMIN})),
        )
        admin = principal_of(admin_user)
        catalog.register_model(
            s,
            rt.audit,
            admin,
            name=MODEL,
            display_name="Infusion pump IP-100",
            gtin=MODEL_GTIN,
            image_kind=catalog.FIRMWARE,
        )
        for revision in MODEL_REVISIONS:
            catalog.add_hardware_revision(s, rt.audit, admin, MODEL, revision)

        def user(org_id: int, name: str, full: str, *roles: Role) -> Principal:
            created = accounts.create_user(
                s,
                rt.audit,
                rt.passwords,
                admin,
                org_id,
                NewUser(name, full, PASSWORD, frozenset(roles)),
            )
            return principal_of(created)

        engineer = user(admin.org_id, "eng", "Eve Engineer", Role.ENGINEER)
        qa = user(admin.org_id, "qa", "Quinn Quality", Role.QA_RA)
        auditor = user(admin.org_id, "aud", "Abe Auditor", Role.AUDITOR)
        a = accounts.create_organization(s, rt.audit, admin, "St. Anna Hospital", OrgKind.HOSPITAL)
        b = accounts.create_organization(
            s, rt.audit, admin, "Bayview Medical Center", OrgKind.HOSPITAL
        )
        site_a = accounts.create_site(s, rt.audit, admin, a.id, "Main Campus", "Europe/Berlin")
        site_b = accounts.create_site(s, rt.audit, admin, b.id, "North", "America/New_York")
        return World(
            admin=admin,
            engineer=engineer,
            qa=qa,
            auditor=auditor,
            hospital_a=a.id,
            hospital_b=b.id,
            site_a=site_a.id,
            site_b=site_b.id,
            biomed_a=user(a.id, "biomed.a", "Bo Biomed", Role.HOSPITAL_BIOMED),
            admin_a=user(a.id, "admin.a", "Al Admin", Role.ADMIN),
            biomed_b=user(b.id, "biomed.b", "Bea Biomed", Role.HOSPITAL_BIOMED),
            admin_b=user(b.id, "admin.b", "Ben Admin", Role.ADMIN),
        )


ROOT_PASSWORD = "root holder one"


def register_model(
    rt: Runtime, admin: Principal, name: str, revisions: tuple[str, ...] = ("A",), **kw: Any
) -> None:
    """Put another device model (with ``revisions``) into the catalogue, as ``admin``."""
    with transaction(rt.sessions) as s:
        catalog.register_model(
            s, rt.audit, admin, name=name, display_name=kw.pop("display_name", name), **kw
        )
        for revision in revisions:
            catalog.add_hardware_revision(s, rt.audit, admin, name, revision)


def create_distribution(rt: Runtime) -> Distribution:
    """Demo-style update signing on ``rt``'s data directory (one root holder, admin's targets key).

    Needs no database: the image repository and director are files under the blob directory.
    """
    created = create_signing(
        rt.distribution.public_dir,
        rt.distribution.keys,
        rt.clock,
        root_passwords=[ROOT_PASSWORD],
        root_threshold=1,
        targets_username="admin",
        targets_password=PASSWORD,
        production=False,
    )
    assert created.image.exists()
    return rt.distribution


def clock_at_real_time() -> FrozenClock:
    """A frozen clock starting now: for metadata a real TUF client checks against real time."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))
