"""Tenant-isolation probes for exposure and hospital notices (merged into ``PROBES``).

A vulnerability exposes one device of each hospital and the manufacturer has issued both
notices. Hospital A's staff see only A in the exposure, list only A's notice, cannot issue
notices, and get "not found" for B's notice, to read it or to acknowledge it.

A's exposed device is the one ``probes_fleet`` gives A (its probes expect A to own exactly that
one device, so no other is registered for A here); B gets a device of its own.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, login
from tests.api.isolation_support import Ctx, Probes, denied, get, send
from tests.api.probes_fleet import A_SERIAL
from tests.builders import World
from tests.vulns.support_exposure import (
    VULNERABLE_OPENSSL,
    add_assessment,
    add_finding,
    add_release,
    add_sbom,
    add_vulnerability,
)

V = "/api/v1/vulns"
VULNERABILITY = "CVE-2099-7001"
VERSION = "7.7.1"
B_SERIAL = "BAYVIEW-EXPOSED-9"
SECRETS: tuple[str, ...] = (B_SERIAL,)
_B: dict[str, Any] = {}
GONE = denied(404)


def _only_a_exposed(ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert [hospital["id"] for hospital in body["hospitals"]] == [ctx.world.hospital_a]
    serials = [d["serial"] for h in body["hospitals"] for s in h["sites"] for d in s["devices"]]
    assert serials == [A_SERIAL]
    assert body["device_count"] == 1


def _only_a_notices(ctx: Ctx, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    notices = response.json()
    assert notices
    assert {notice["org_id"] for notice in notices} == {ctx.world.hospital_a}


def _b_notice(_c: Ctx) -> str:
    return f"{V}/notices/{_B['notice']}"


PROBES: Probes = {
    ("GET", f"{V}/vulnerabilities/{{vuln_id}}/exposure"): [
        (get(f"{V}/vulnerabilities/{VULNERABILITY}/exposure"), _only_a_exposed)
    ],
    ("POST", f"{V}/vulnerabilities/{{vuln_id}}/notices"): [
        (send("POST", f"{V}/vulnerabilities/{VULNERABILITY}/notices", {}), denied(403))
    ],
    ("GET", f"{V}/notices"): [(get(f"{V}/notices"), _only_a_notices)],
    ("GET", f"{V}/notices/{{notice_id}}"): [(get(_b_notice), GONE)],
    ("POST", f"{V}/notices/{{notice_id}}/acknowledge"): [
        (send("POST", lambda c: f"{_b_notice(c)}/acknowledge", {}), GONE)
    ],
}


def create_objects(client: TestClient, world: World) -> None:
    """A release exposing one device per hospital, assessed; the manufacturer issues notices."""
    runtime: Runtime = cast(FastAPI, client.app).state.runtime
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        vulnerability = add_vulnerability(session, VULNERABILITY, now=now)
        release = add_release(session, world, VERSION, 70701, now)
        [openssl] = add_sbom(session, world, release, VULNERABLE_OPENSSL)
        add_finding(session, openssl, vulnerability, now)
        add_assessment(session, world, vulnerability.id, now)
        a_device = session.scalar(
            select(Device).where(Device.org_id == world.hospital_a, Device.serial == A_SERIAL)
        )
        assert a_device is not None, "probes_fleet.create_objects gives A its device first"
        b_device = enrollment.register_device(
            session, runtime.audit, world.admin, org_id=world.hospital_b, model="IP-100",
            hardware_revision="B", serial=B_SERIAL, site_id=world.site_b,
        ).device  # fmt: skip
        a_device.installed_version = b_device.installed_version = VERSION
    response = client.post(
        f"{V}/vulnerabilities/{VULNERABILITY}/notices", headers=login(client, "eng")
    )
    assert response.status_code == 200, response.text
    notices = {notice["org_id"]: notice["id"] for notice in response.json()["issued"]}
    assert set(notices) == {world.hospital_a, world.hospital_b}
    _B["notice"] = notices[world.hospital_b]
