"""What tenant-isolation probes are made of: the context, calls and expectations.

Domain probe modules (``tests/api/probes_*.py``) build on these; ``test_isolation`` merges them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.helpers import TestClient, assert_problem
from tests.builders import World


@dataclass(frozen=True)
class Ctx:
    """What a probe needs: the client, the world, the caller's headers, B's extra objects."""

    client: TestClient
    world: World
    headers: dict[str, str]
    b_department: int
    b_user: int
    b_device: str


Call = Callable[[Ctx], httpx.Response]
Expect = Callable[[Ctx, httpx.Response], None]


def denied(*statuses: int) -> Expect:
    """The request is refused with one of ``statuses`` as a problem."""

    def check(_ctx: Ctx, response: httpx.Response) -> None:
        assert response.status_code in statuses, response.text
        assert_problem(response, response.status_code)

    return check


def empty_list(_ctx: Ctx, response: httpx.Response) -> None:
    """An empty collection."""
    assert response.status_code == 200, response.text
    assert response.json() == []


def own_org_only(ctx: Ctx, response: httpx.Response) -> None:
    """Only A's organization, or A's own caller."""
    assert response.status_code == 200, response.text
    body = response.json()
    records = body if isinstance(body, list) else [body]
    own = {record.get("org_id", record.get("id")) for record in records}
    assert own == {ctx.world.hospital_a}


def own_events_only(ctx: Ctx, response: httpx.Response) -> None:
    """Audit events of A only, and nothing about B's objects."""
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert events
    assert {event["org_id"] for event in events} == {ctx.world.hospital_a}
    b_objects = {
        ("organization", str(ctx.world.hospital_b)),
        ("site", str(ctx.world.site_b)),
        ("department", str(ctx.b_department)),
        ("user", str(ctx.b_user)),
    }
    assert not {(e["object_type"], e["object_id"]) for e in events} & b_objects


def no_b_devices(ctx: Ctx, response: httpx.Response) -> None:
    """Only devices of A, if any."""
    assert response.status_code == 200, response.text
    assert {device["org_id"] for device in response.json()} <= {ctx.world.hospital_a}


def b_events_invisible(_ctx: Ctx, response: httpx.Response) -> None:
    """Filtering on B's objects finds nothing."""
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []


Path = str | Callable[[Ctx], str]


def at(path: Path, ctx: Ctx) -> str:
    return path if isinstance(path, str) else path(ctx)


def get(path: Path, **params: Any) -> Call:
    return lambda c: c.client.get(at(path, c), headers=c.headers, params=params)


def send(method: str, path: Path, body: dict[str, Any]) -> Call:
    return lambda c: c.client.request(method, at(path, c), json=body, headers=c.headers)


Probes = dict[tuple[str, str], list[tuple[Call, Expect]]]
