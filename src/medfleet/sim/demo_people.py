"""The people of ``medfleet demo``: the manufacturer's staff, two hospitals, their sites.

``create_people`` creates, in the demo's fresh deployment, the manufacturer's engineer, QA/RA,
fleet operator and auditor, and two hospitals with sites in three time zones (each hospital
with a biomed engineer, an IT lead and an admin). ``signing_showcase`` shows Part 11 at work
on one change request: the author cannot approve it, and editing a signed record invalidates
its signatures until they are applied again. Everything goes through the services the API and
CLI use, so every step is in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medfleet.accounts import service as accounts
from medfleet.accounts.auth import authenticate
from medfleet.accounts.errors import SeparationOfDutiesError
from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.service import NewUser, principal_of
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.changes import service as changes
from medfleet.changes.render import render_text
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime

DEMO_PASSWORD = "medfleet-demo-password"  # noqa: S105 - printed for demo users
MANUFACTURER = "Acme Infusion Systems"
STAFF = (
    ("eng.erik", "Erik Engineer", Role.ENGINEER),
    ("qa.quinn", "Quinn Regulatory", Role.QA_RA),
    ("ops.olga", "Olga Operations", Role.FLEET_OPERATOR),
    ("audit.ann", "Ann Auditor", Role.AUDITOR),
)

Step = Callable[[str], None]


@dataclass
class People:
    """Who the demo created: users (for the summary), hospitals and sites by name."""

    users: list[dict[str, Any]] = field(default_factory=list)
    hospitals: list[dict[str, Any]] = field(default_factory=list)
    hospital_ids: dict[str, int] = field(default_factory=dict)
    site_ids: dict[str, int] = field(default_factory=dict)
    site_zones: dict[str, str] = field(default_factory=dict)
    site_hospital: dict[str, str] = field(default_factory=dict)
    biomeds: list[Principal] = field(default_factory=list)
    change_request: dict[str, Any] = field(default_factory=dict)
    separation_of_duties_enforced: bool = False
    rendering: str = ""


HOSPITALS: tuple[tuple[str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...] = (
    ("St. Anna Klinikum", (("Munich Campus", "Europe/Berlin", ("ICU", "Oncology")),)),
    (
        "Bayview Medical Center",
        (
            ("Boston Main", "America/New_York", ("ICU", "Radiology")),
            ("Seattle Clinic", "America/Los_Angeles", ("Outpatient Infusion",)),
        ),
    ),
)


def _create_hospitals(rt: Runtime, admin: Principal, summary: People, step: Step) -> None:
    with transaction(rt.sessions) as s:
        for index, (name, sites) in enumerate(HOSPITALS):
            org = accounts.create_organization(s, rt.audit, admin, name, OrgKind.HOSPITAL)
            summary.hospital_ids[name] = org.id
            site_rows = []
            for site_name, zone, departments in sites:
                site = accounts.create_site(s, rt.audit, admin, org.id, site_name, zone)
                summary.site_ids[site_name] = site.id
                summary.site_zones[site_name] = zone
                summary.site_hospital[site_name] = name
                for department in departments:
                    accounts.create_department(s, rt.audit, admin, site.id, department)
                site_rows.append(
                    {"name": site_name, "timezone": zone, "departments": list(departments)}
                )
            prefix = f"h{index + 1}"
            staff = [
                (f"{prefix}.biomed", f"Biomed Engineer {index + 1}", Role.HOSPITAL_BIOMED),
                (f"{prefix}.it", f"IT Lead {index + 1}", Role.HOSPITAL_IT),
                (f"{prefix}.admin", f"Hospital Admin {index + 1}", Role.ADMIN),
            ]
            for username, full_name, role in staff:
                user = accounts.create_user(
                    s,
                    rt.audit,
                    rt.passwords,
                    admin,
                    org.id,
                    NewUser(username, full_name, DEMO_PASSWORD, frozenset({role})),
                )
                summary.users.append({"username": username, "org": name, "role": role.value})
                if role is Role.HOSPITAL_BIOMED:
                    summary.biomeds.append(principal_of(user))
            summary.hospitals.append({"name": name, "sites": site_rows})
            step(
                f"hospital {name}: {len(sites)} site(s) in "
                f"{', '.join(zone for _, zone, _ in sites)}"
            )


def _sign_as(
    rt: Runtime, username: str, key: str, meaning: Meaning, comment: str | None = None
) -> None:
    """Re-authenticate ``username`` (as every e-signature requires) and sign in one step."""
    signer = authenticate(rt, username, DEMO_PASSWORD, "esignature")
    with transaction(rt.sessions) as s:
        changes.sign(s, rt.audit, signer, key, meaning, comment)


def signing_showcase(rt: Runtime, summary: People, step: Step) -> None:
    """One change request signed, refused to its author, invalidated by an edit, re-signed."""
    engineer = authenticate(rt, "eng.erik", DEMO_PASSWORD)
    with transaction(rt.sessions) as s:
        key = changes.create(
            s, rt.audit, engineer, "Fix occlusion alarm latency at low flow rates",
            "Complaint: occlusion alarm raised 40 s late below 1 ml/h. Tighten the pressure "
            "trend filter in the pump controller.",
        ).key  # fmt: skip
    step(f"{key} opened by {engineer.full_name}")
    _sign_as(rt, "eng.erik", key, Meaning.AUTHORED)
    try:
        _sign_as(rt, "eng.erik", key, Meaning.APPROVED)
    except SeparationOfDutiesError as refused:
        summary.separation_of_duties_enforced = True
        step(f"author's own approval refused: {refused}")
    _sign_as(rt, "qa.quinn", key, Meaning.APPROVED, "Risk file delta reviewed.")
    with transaction(rt.sessions) as s:
        change = changes.edit(
            s, rt.audit, engineer, key,
            description="Complaint: occlusion alarm raised 40 s late below 1 ml/h. "
            "Tighten the pressure trend filter; add a regression test at 0.5 ml/h.",
        )  # fmt: skip
        invalidated = sum(not v.valid for v in signatures_for(s, change, rt.trusted_keys()))
    step(f"{key} edited after signing: {invalidated} signature(s) now invalid")
    _sign_as(rt, "eng.erik", key, Meaning.AUTHORED)
    _sign_as(rt, "qa.quinn", key, Meaning.APPROVED, "Re-approved after the edit.")
    with transaction(rt.sessions) as s:
        change = changes.get(s, engineer, key)
        views = signatures_for(s, change, rt.trusted_keys())
        summary.rendering = render_text(change, views)
        summary.change_request = {
            "key": key,
            "title": change.title,
            "signatures": [v.as_dict() for v in views],
            "valid_signatures": sum(v.valid for v in views),
            "invalidated_by_edit": invalidated,
        }
    step(f"{key} signed again: {summary.change_request['valid_signatures']} valid signature(s)")


def create_people(rt: Runtime, summary: People, step: Step) -> Principal:
    """The manufacturer's staff and both hospitals with their staff; returns the admin."""
    admin = authenticate(rt, "admin", DEMO_PASSWORD)
    with transaction(rt.sessions) as s:
        for username, full_name, role in STAFF:
            accounts.create_user(
                s,
                rt.audit,
                rt.passwords,
                admin,
                admin.org_id,
                NewUser(username, full_name, DEMO_PASSWORD, frozenset({role})),
            )
            summary.users.append({"username": username, "org": MANUFACTURER, "role": role.value})
    step(f"manufacturer {MANUFACTURER}: {len(STAFF) + 1} users")
    _create_hospitals(rt, admin, summary, step)
    return admin
