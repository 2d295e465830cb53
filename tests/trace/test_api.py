"""The /api/v1/trace endpoints: requirements, links, JUnit upload, gaps, regression, matrix."""

from __future__ import annotations

from collections.abc import Callable

from medfleet.runtime import Runtime
from tests.api.helpers import TestClient, assert_problem, audit_count
from tests.trace.samples import BILLION_LAUGHS, PYTEST, case, suite

T = "/api/v1/trace"
Auth = Callable[[str], dict[str, str]]
XML = {"Content-Type": "application/xml"}


def add(client: TestClient, auth: Auth, key: str, **extra: str) -> dict[str, object]:
    body = {"key": key, "title": f"T {key}", "text": "shall", "kind": "safety", **extra}
    response = client.post(
        f"{T}/requirements", json={"software_item": "pump", **body}, headers=auth("eng")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_requirement_life_cycle(client: TestClient, auth: Auth) -> None:
    cr = client.post("/api/v1/change-requests", json={"title": "c"}, headers=auth("eng")).json()
    created = add(client, auth, "srs-1", change_request=cr["key"])
    assert (created["key"], created["version"], created["change_request"]) == ("SRS-1", 1, "CR-1")
    revised = client.patch(
        f"{T}/requirements/SRS-1", json={"text": "shall now"}, headers=auth("qa")
    ).json()
    assert (revised["version"], revised["text"], len(revised["history"])) == (2, "shall now", 2)
    assert_problem(
        client.patch(f"{T}/requirements/SRS-1", json={"text": "shall now"}, headers=auth("qa")),
        422,
    )
    assert_problem(client.post(f"{T}/requirements", json={}, headers=auth("eng")), 422)
    assert_problem(
        client.post(
            f"{T}/requirements",
            json={
                "key": "SRS-1",
                "title": "t",
                "text": "x",
                "kind": "safety",
                "software_item": "p",
            },
            headers=auth("eng"),
        ),
        409,
    )
    assert_problem(client.get(f"{T}/requirements/SRS-404", headers=auth("aud")), 404)
    retired = client.post(
        f"{T}/requirements/SRS-1/retire", json={"change_request": "CR-1"}, headers=auth("qa")
    ).json()
    assert retired["retired"] is True
    assert client.get(f"{T}/requirements", headers=auth("aud")).json() == []
    listed = client.get(f"{T}/requirements?include_retired=true", headers=auth("aud")).json()
    assert [r["key"] for r in listed] == ["SRS-1"]
    assert_problem(client.post(f"{T}/requirements/SRS-1/retire", json={}, headers=auth("qa")), 409)


def test_upload_links_gaps_matrix(client: TestClient, auth: Auth, runtime: Runtime) -> None:
    for key in ("SRS-1", "SRS-2"):
        add(client, auth, key)
    add(client, auth, "SRS-3", title='=HYPERLINK("http://evil")', text="<script>x</script>")
    url = f"{T}/runs?build_id=4.2.0%2B7&file_name=../../report.xml"
    first = client.post(url, content=PYTEST, headers={**XML, **auth("eng")})
    assert first.status_code == 201, first.text
    run = first.json()
    assert (run["file_name"], run["total"], run["links_added"]) == ("report.xml", 5, 3)
    again = client.post(url, content=PYTEST, headers={**XML, **auth("eng")})
    assert (again.status_code, again.json()["id"]) == (200, run["id"])
    before = audit_count(runtime)
    body = assert_problem(
        client.post(url, content=BILLION_LAUGHS, headers={**XML, **auth("eng")}), 422
    )
    assert "DTD" in body["detail"]
    assert audit_count(runtime) == before
    assert [r["id"] for r in client.get(f"{T}/runs", headers=auth("aud")).json()] == [run["id"]]

    link = {"requirement": "SRS-3", "test": "tests.test_ui::test_banner"}
    made = client.post(f"{T}/links/tests", json=link, headers=auth("eng"))
    assert (made.status_code, made.json()["created"]) == (201, True)
    assert (
        client.post(f"{T}/links/tests", json=link, headers=auth("eng")).json()["created"] is False
    )
    level = client.put(
        f"{T}/tests/tests.test_ui::test_banner/level", json={"level": "system"}, headers=auth("qa")
    )
    assert level.json() == {"test": link["test"], "level": "system", "requirements": ["SRS-3"]}
    assert_problem(
        client.put(f"{T}/tests/nope/level", json={"level": "unit"}, headers=auth("qa")), 404
    )
    tests = client.get(f"{T}/tests", headers=auth("aud")).json()
    assert len(tests) == 5

    gaps = client.get(f"{T}/gaps", params={"build_id": "4.2.0+7"}, headers=auth("aud")).json()
    assert gaps["ok"] is False
    assert [(g["kind"], g["subject"]) for g in gaps["gaps"]] == [
        ("test_untraced", "tests.test_dose::test_bolus"),
        ("test_untraced", "tests.test_dose::test_dose_limit"),
    ]
    scoped = client.get(
        f"{T}/gaps",
        params={"build_id": "4.2.0+7", "requirement": ["SRS-1", "SRS-3"]},
        headers=auth("aud"),
    ).json()
    assert scoped == {"build_id": "4.2.0+7", "ok": True, "gaps": []}
    assert_problem(client.get(f"{T}/gaps", params={"build_id": "bad id"}, headers=auth("aud")), 422)

    csv = client.get(
        f"{T}/matrix", params={"build_id": "4.2.0+7", "format": "csv"}, headers=auth("aud")
    )
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert (
        lines[0] == "requirement,version,kind,title,software_item,controls,test,level,result,gaps"
    )
    assert (
        "SRS-2,1,safety,T SRS-2,pump,,tests.test_alarm::test_alarm_volume[80-dB],,failed," in lines
    )
    assert any(line.startswith("SRS-3,1,safety,\"'=HYPERLINK") for line in lines)
    html = client.get(f"{T}/matrix", params={"build_id": "4.2.0+7"}, headers=auth("aud"))
    assert html.headers["content-type"].startswith("text/html")
    assert "<script>x</script>" not in html.text
    assert "4.2.0+7" in html.text

    deleted = client.delete(f"{T}/links/tests", params=link, headers=auth("eng"))
    assert deleted.status_code == 204
    assert_problem(client.delete(f"{T}/links/tests", params=link, headers=auth("eng")), 404)


def test_regression_set_of_a_change(client: TestClient, auth: Auth) -> None:
    cr = client.post("/api/v1/change-requests", json={"title": "c"}, headers=auth("eng")).json()
    add(client, auth, "SRS-1", change_request=cr["key"])
    add(client, auth, "SRS-2")
    data = suite(case("a", requirements="SRS-1"), case("b", requirements="SRS-2"))
    client.post(f"{T}/runs?build_id=b1", content=data, headers={**XML, **auth("eng")})
    unclassified = client.get(f"{T}/regression/CR-1", headers=auth("aud"))
    assert "safety class is unknown" in assert_problem(unclassified, 422)["detail"]
    for name, safety in (("ui", "A"), ("dosing", "C")):
        item = {"name": name, "safety_class": safety}
        assert client.post("/api/v1/software-items", json=item, headers=auth("qa")).is_success

    def classify(*items: str) -> None:
        body = {"change_class": "minor", "device_model": "IP-100", "software_items": items}
        response = client.post(
            "/api/v1/change-requests/CR-1/classification", json=body, headers=auth("eng")
        )
        assert response.status_code == 200, response.text

    classify("ui")
    found = client.get(f"{T}/regression/CR-1", headers=auth("aud")).json()
    assert found["requirements"] == ["SRS-1"]
    assert [t["test"] for t in found["tests"]] == ["t::a"]
    classify("ui", "dosing")
    all_c = client.get(f"{T}/regression/CR-1", headers=auth("aud"))
    assert [t["test"] for t in all_c.json()["tests"]] == ["t::a", "t::b"]
    assert_problem(client.get(f"{T}/regression/CR-9", headers=auth("aud")), 404)


def test_roles(client: TestClient, auth: Auth) -> None:
    body = {"key": "SRS-1", "title": "t", "text": "x", "kind": "safety", "software_item": "p"}
    assert_problem(client.post(f"{T}/requirements", json=body, headers=auth("aud")), 403)
    assert_problem(client.post(f"{T}/requirements", json=body, headers=auth("admin.a")), 404)
