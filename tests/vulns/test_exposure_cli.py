"""``medfleet vulns exposure`` and ``medfleet vulns notices``, run in-process on the scene."""

from __future__ import annotations

import json
from typing import Any

from medfleet.cli.output import EXIT_CONFLICT, EXIT_DENIED, EXIT_INVALID, EXIT_NOT_FOUND
from tests.user_cli import run_as_user
from tests.vulns.support_exposure import HEARTBLEED, Scene, scene

__all__ = ["scene"]


def run(scene: Scene, *args: str) -> tuple[int, Any, str]:
    return run_as_user(scene.rt.settings, *args)


def test_exposure_json_lists_hospitals_sites_and_devices(scene: Scene) -> None:
    code, body, out = run(scene, "vulns", "exposure", HEARTBLEED, "--user", "eng", "--json")
    assert code == 0, out
    assert set(body) >= {"vulnerability", "releases", "fixed_releases", "hospitals", "device_count"}
    assert body["vulnerability"]["key"] == HEARTBLEED
    assert body["device_count"] == 7
    assert [r["release_id"] for r in body["releases"]] == [
        "IP-100-4.0.0",
        "IP-100-4.1.0",
        "VM-7-1.0.0",
    ]
    assert body["releases"][0]["components"][0]["purl"] == "pkg:generic/openssl@1.0.1f"
    assert [(f["model"], f["release_id"]) for f in body["fixed_releases"]] == [
        ("IP-100", "IP-100-4.2.0"),
        ("VM-7", None),
    ]
    [bayview, anna] = body["hospitals"]
    assert (bayview["name"], bayview["id"], bayview["device_count"]) == (
        "Bayview Medical Center",
        scene.world.hospital_b,
        2,
    )
    assert [(s["name"], s["device_count"]) for s in anna["sites"]] == [
        ("East Wing", 2),
        ("Main Campus", 2),
        (None, 1),
    ]
    device = anna["sites"][1]["devices"][0]
    assert device == {
        "device_id": scene.devices["A-1"],
        "serial": "A-1",
        "model": "IP-100",
        "installed_version": "4.0.0",
        "department": "ICU",
        "is_test_device": False,
    }


def test_exposure_for_a_hospital_user_shows_only_its_hospital(scene: Scene) -> None:
    code, body, out = run(scene, "vulns", "exposure", HEARTBLEED, "--user", "biomed.b", "--json")
    assert code == 0, out
    assert [h["name"] for h in body["hospitals"]] == ["Bayview Medical Center"]
    assert body["device_count"] == 2
    assert "St. Anna" not in out
    assert "A-1" not in json.dumps(body)


def test_exposure_table_and_device_limit(scene: Scene) -> None:
    code, _, out = run(scene, "vulns", "exposure", "DSA-2896-1", "--user", "eng")
    assert code == 0, out
    for text in (HEARTBLEED, "IP-100-4.1.0", "no fix yet", "Bayview", "East Wing", "A-5"):
        assert text in out
    code, body, out = run(
        scene, "vulns", "exposure", HEARTBLEED, "--device-limit", "1", "--user", "eng", "--json"
    )
    assert code == 0, out
    assert (body["device_count"], body["devices_listed"]) == (7, 1)
    code, _, out = run(scene, "vulns", "exposure", "CVE-2099-0001", "--user", "eng")
    assert code == EXIT_NOT_FOUND, out
    code, _, out = run(scene, "vulns", "exposure", "not an id", "--user", "eng")
    assert code == EXIT_INVALID, out


def test_notices_issue_list_show_and_acknowledge(scene: Scene) -> None:
    code, _, out = run(scene, "vulns", "notices", "issue", HEARTBLEED, "--user", "eng")
    assert code == EXIT_CONFLICT, out
    assert "assess" in out
    scene.assess()
    code, issued, out = run(scene, "vulns", "notices", "issue", HEARTBLEED, "--user", "biomed.a")
    assert code == EXIT_DENIED, out
    code, issued, out = run(
        scene, "vulns", "notices", "issue", HEARTBLEED, "--user", "eng", "--json"
    )
    assert code == 0, out
    ids = {n["hospital"]: n["id"] for n in issued["issued"]}
    assert set(ids) == {"St. Anna Hospital", "Bayview Medical Center"}
    code, _, out = run(scene, "vulns", "notices", "issue", HEARTBLEED, "--user", "eng")
    assert code == 0, out
    assert "0 notice(s) issued; 2 unchanged" in out

    code, mine, out = run(scene, "vulns", "notices", "list", "--user", "biomed.a", "--json")
    assert code == 0, out
    assert [n["id"] for n in mine["notices"]] == [ids["St. Anna Hospital"]]
    a_id, b_id = str(ids["St. Anna Hospital"]), str(ids["Bayview Medical Center"])
    code, shown, out = run(scene, "vulns", "notices", "show", a_id, "--user", "biomed.a", "--json")
    assert code == 0, out
    assert shown["content"]["device_count"] == 5
    code, _, out = run(scene, "vulns", "notices", "show", a_id, "--user", "biomed.a")
    assert code == 0, out
    assert "Block TCP 443" in out
    assert "A-5" in out
    code, _, out = run(scene, "vulns", "notices", "show", b_id, "--user", "biomed.a")
    assert code == EXIT_NOT_FOUND, out

    code, acked, out = run(scene, "vulns", "notices", "ack", a_id, "--user", "biomed.a", "--json")
    assert code == 0, out
    assert acked["acknowledged_by"] == "biomed.a"
    code, _, out = run(scene, "vulns", "notices", "list", "--user", "eng")
    assert code == 0, out
    assert "biomed.a" in out
    assert "Bayview" in out
