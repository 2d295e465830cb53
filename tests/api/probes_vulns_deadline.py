"""Tenant-isolation probes for the assessment, deadline, patch-policy and campaign routes.

They are internal to the manufacturer: hospital A's staff get 403 for every one of them, never
the manufacturer's assessment (whose rationale is a secret here), and change nothing.
"""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI

from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns.tables import Vulnerability, VulnerabilityAlias
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Probes, denied, get, send
from tests.builders import World

V = "/api/v1/vulns"
VULN = "CVE-2099-42424"
ASSESSMENT = f"{V}/vulnerabilities/{VULN}/assessment"
RATIONALE = "Acme-internal deadline rationale"
SECRETS: tuple[str, ...] = (RATIONALE,)
BODY = {"risk": "controlled", "rationale": "moled"}
CAMPAIGN = f"{V}/vulnerabilities/{VULN}/campaign"
FORBIDDEN = denied(403)

PROBES: Probes = {
    ("PUT", f"{V}/vulnerabilities/{{vuln_id}}/assessment"): [
        (send("PUT", ASSESSMENT, BODY), FORBIDDEN)
    ],
    ("GET", f"{V}/vulnerabilities/{{vuln_id}}/assessment"): [(get(ASSESSMENT), FORBIDDEN)],
    ("GET", f"{V}/deadlines"): [(get(f"{V}/deadlines", overdue=True), FORBIDDEN)],
    ("GET", f"{V}/patch-policy"): [(get(f"{V}/patch-policy"), FORBIDDEN)],
    ("PUT", f"{V}/patch-policy"): [
        (send("PUT", f"{V}/patch-policy", {"routine_cycle_days": 700}), FORBIDDEN)
    ],
    ("POST", f"{V}/vulnerabilities/{{vuln_id}}/campaign"): [
        (send("POST", CAMPAIGN, {"model": "IP-100", "version": "4.2.0"}), FORBIDDEN)
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """The manufacturer assesses a vulnerability (its rationale is secret) and declares a policy."""
    del world
    runtime = cast(Runtime, cast(FastAPI, client.app).state.runtime)
    with transaction(runtime.sessions) as session:
        vulnerability = Vulnerability(key=VULN, summary="probe", first_seen_at=runtime.clock.now())
        session.add(vulnerability)
        session.flush()
        session.add(VulnerabilityAlias(alias=VULN, vulnerability_id=vulnerability.id))
    engineer = login(client, "eng")
    body = {"risk": "uncontrolled", "critical": True, "rationale": RATIONALE}
    assessed = client.put(ASSESSMENT, json=body, headers=engineer)
    assert assessed.status_code == 200, assessed.text
    policy = client.put(f"{V}/patch-policy", json={"routine_cycle_days": 30}, headers=engineer)
    assert policy.status_code == 200, policy.text
