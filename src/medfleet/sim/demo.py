"""The ``medfleet demo`` scenario, run through the same services the API and CLI use.

On a fresh data directory it creates a manufacturer with its staff, two hospitals with sites in
different time zones and their staff, opens a change request, e-signs it (showing that the
author cannot approve it and that editing a signed record invalidates its signatures), checks
that a hospital sees only itself, and verifies the audit trail. Later issues grow it into the
whole release-to-device scenario.
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
from medfleet.audit import service as audit_service
from medfleet.bootstrap import RootSetup, initialise
from medfleet.changes import service as changes
from medfleet.changes.render import render_text
from medfleet.db.engine import transaction
from medfleet.errors import Conflict
from medfleet.runtime import Runtime

DEMO_PASSWORD = "medfleet-demo-password"  # noqa: S105 - printed for demo users
# The demo has one root key holder; a production deployment has at least two.
DEMO_ROOT_PASSWORD = "medfleet-demo-root-password"  # noqa: S105
MANUFACTURER = "Acme Infusion Systems"

Step = Callable[[str], None]


class DemoDataDirInUseError(Conflict):
    """The demo needs a fresh data directory and this one already holds a deployment."""


@dataclass
class DemoSummary:
    """What the demo did, for people and for ``--json``."""

    data_dir: str
    manufacturer: str
    users: list[dict[str, Any]] = field(default_factory=list)
    hospitals: list[dict[str, Any]] = field(default_factory=list)
    change_request: dict[str, Any] = field(default_factory=dict)
    separation_of_duties_enforced: bool = False
    hospital_isolation: dict[str, list[str]] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    rendering: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "data_dir": self.data_dir,
            "manufacturer": self.manufacturer,
            "users": self.users,
            "hospitals": self.hospitals,
            "change_request": self.change_request,
            "separation_of_duties_enforced": self.separation_of_duties_enforced,
            "hospital_isolation": self.hospital_isolation,
            "audit": self.audit,
            "demo_password": DEMO_PASSWORD,
        }


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


def _create_hospitals(
    rt: Runtime, admin: Principal, summary: DemoSummary, step: Step
) -> list[Principal]:
    biomeds = []
    with transaction(rt.sessions) as s:
        for index, (name, sites) in enumerate(HOSPITALS):
            org = accounts.create_organization(s, rt.audit, admin, name, OrgKind.HOSPITAL)
            site_rows = []
            for site_name, zone, departments in sites:
                site = accounts.create_site(s, rt.audit, admin, org.id, site_name, zone)
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
                    biomeds.append(principal_of(user))
            summary.hospitals.append({"name": name, "sites": site_rows})
            step(
                f"hospital {name}: {len(sites)} site(s) in "
                f"{', '.join(zone for _, zone, _ in sites)}"
            )
    return biomeds


def _sign_as(
    rt: Runtime, username: str, key: str, meaning: Meaning, comment: str | None = None
) -> None:
    """Re-authenticate ``username`` (as every e-signature requires) and sign in one step."""
    signer = authenticate(rt, username, DEMO_PASSWORD, "esignature")
    with transaction(rt.sessions) as s:
        changes.sign(s, rt.audit, signer, key, meaning, comment)


def _signing(rt: Runtime, summary: DemoSummary, step: Step) -> None:
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


def run_demo(rt: Runtime, step: Step) -> DemoSummary:
    """Run the scenario on ``rt``'s (fresh) data directory; ``step`` hears each milestone.

    Raises:
        DemoDataDirInUseError: the data directory already holds a deployment.
    """
    summary = DemoSummary(str(rt.settings.data_dir), MANUFACTURER)
    try:
        initialise(
            rt,
            MANUFACTURER,
            "admin",
            "Demo Administrator",
            DEMO_PASSWORD,
            RootSetup([DEMO_ROOT_PASSWORD], 1, production=False),
        )
    except Conflict as exc:
        raise DemoDataDirInUseError(
            f"{rt.settings.data_dir} already holds a deployment ({exc}); "
            "run the demo with a fresh --data-dir"
        ) from exc
    step(f"initialised {rt.settings.data_dir}")
    admin = authenticate(rt, "admin", DEMO_PASSWORD)
    staff = [
        ("eng.erik", "Erik Engineer", Role.ENGINEER),
        ("qa.quinn", "Quinn Regulatory", Role.QA_RA),
        ("ops.olga", "Olga Operations", Role.FLEET_OPERATOR),
        ("audit.ann", "Ann Auditor", Role.AUDITOR),
    ]
    with transaction(rt.sessions) as s:
        for username, full_name, role in staff:
            accounts.create_user(
                s,
                rt.audit,
                rt.passwords,
                admin,
                admin.org_id,
                NewUser(username, full_name, DEMO_PASSWORD, frozenset({role})),
            )
            summary.users.append({"username": username, "org": MANUFACTURER, "role": role.value})
    step(f"manufacturer {MANUFACTURER}: {len(staff) + 1} users")
    biomeds = _create_hospitals(rt, admin, summary, step)
    _signing(rt, summary, step)
    with transaction(rt.sessions) as s:
        for biomed in biomeds:
            visible = [o.name for o in accounts.list_organizations(s, biomed)]
            summary.hospital_isolation[biomed.username] = visible
    step(
        "each hospital sees only itself: "
        + "; ".join(f"{u} -> {v}" for u, v in summary.hospital_isolation.items())
    )
    with transaction(rt.sessions) as s:
        result = audit_service.verify(s, rt.trusted_keys())
    summary.audit = result.as_dict()
    step(f"audit trail verified: ok={result.ok}, {result.events_checked} events")
    return summary
