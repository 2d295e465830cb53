"""Tenant-isolation probes for the VEX routes (merged into ``test_isolation.PROBES``).

VEX belongs to the manufacturer; customers receive the VEX of released releases only. The
manufacturer's engineer records a statement on a draft release (IP-100 6.6.6) whose detail
hospitals must never see: for hospital staff the draft's VEX and its exports are "not found",
and every write (a statement, a VEX document) is refused with 403 before anything is read.
"""

from __future__ import annotations

from medfleet.db.engine import transaction
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from medfleet.vulns.tables import Vulnerability, VulnerabilityAlias
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, get, send
from tests.builders import World

VULNS = "/api/v1/vulns"
ROUTE = f"{VULNS}/releases/{{model}}/{{version}}/vex"
DRAFT = f"{VULNS}/releases/IP-100/6.6.6/vex"
DOCUMENTS = f"{VULNS}/vex-documents"
VULNERABILITY = "CVE-2099-0666"
SECRET_DETAIL = "Manufacturer-internal VEX analysis of 6.6.6"
SECRETS: tuple[str, ...] = (SECRET_DETAIL,)
STATEMENT = {
    "vulnerability": VULNERABILITY,
    "state": "not_affected",
    "justification": "code_not_present",
    "detail": SECRET_DETAIL,
}
OPENVEX = {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://hospital-a.example/vex/1",
    "author": "Mole",
    "timestamp": "2026-01-15T09:00:00Z",
    "version": 1,
    "statements": [
        {
            "vulnerability": {"name": VULNERABILITY},
            "products": [{"@id": "pkg:generic/IP-100@6.6.6"}],
            "status": "fixed",
        }
    ],
}
GONE = denied(404)
REFUSED = denied(403)

PROBES: Probes = {
    ("GET", ROUTE): [(get(DRAFT), GONE), (get(DRAFT, history=True), GONE)],
    ("POST", ROUTE): [
        (send("POST", DRAFT, STATEMENT), REFUSED),
        (send("POST", f"{VULNS}/releases/IP-100/4.2.0/vex", STATEMENT), REFUSED),
    ],
    ("GET", f"{ROUTE}/cyclonedx"): [(get(f"{DRAFT}/cyclonedx"), GONE)],
    ("GET", f"{ROUTE}/openvex"): [(get(f"{DRAFT}/openvex"), GONE)],
    ("POST", f"{VULNS}/vex-documents"): [
        (send("POST", f"{VULNS}/vex-documents", OPENVEX), REFUSED)
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A draft IP-100 6.6.6 (inserted directly) and the engineer's VEX statement about it."""
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        session.add(
            Release(
                org_id=world.admin.org_id, model="IP-100", version="6.6.6", version_number=666,
                build_id="build-666", hardware_revisions=["B"], notes_what_changed="",
                notes_risk_summary="", notes_compatibility="", author_id=world.engineer.user_id,
                state="draft", created_at=now, updated_at=now,
            )
        )  # fmt: skip
        vulnerability = Vulnerability(key=VULNERABILITY, summary="probe", first_seen_at=now)
        session.add(vulnerability)
        session.flush()
        session.add(VulnerabilityAlias(alias=VULNERABILITY, vulnerability_id=vulnerability.id))
    response = client.post(DRAFT, json=STATEMENT, headers=login(client, "eng"))
    assert response.status_code == 201, response.text
