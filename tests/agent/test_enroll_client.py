"""Enrollment over real HTTP: what is written, what is refused, and that a refusal writes nothing.

The server side is ``tests.agent.http_fixture``: the real image repository and director roots,
answered as the server's ``POST /api/v1/enroll`` answers (relative URLs, base64 roots).
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from medfleet.agent.config import (
    AgentConfig,
    ConfigError,
    NotEnrolledError,
    PollState,
    StateLayout,
    repository_base_url,
)
from medfleet.agent.enroll_client import (
    AlreadyEnrolledError,
    EnrollmentAnswerError,
    EnrollmentConnectionError,
    EnrollmentRefusedError,
    enroll,
    parse_answer,
)
from medfleet.agent.identity import DeviceIdentity as DeviceKey
from tests.agent.http_fixture import RepositoryServer, World, problem, served_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with served_world(tmp_path) as world:
        yield world


def answer_with(world: World, **changes: Any) -> None:
    """Make the server answer the next enrollment with ``changes`` applied to the real body."""
    body = world.enrollment_body("pump-7", "IP-100", "B") | changes
    body = {name: value for name, value in body.items() if value is not None}
    world.server.enroll_answer = lambda _request: (
        200,
        "application/json",
        json.dumps(body).encode(),
    )


def test_enroll_writes_the_configuration_roots_and_key(world: World, tmp_path: Path) -> None:
    token = world.register("pump-7")
    state = tmp_path / "state"

    config = enroll(world.server.url, token, state, tmp_path / "device")

    layout = StateLayout(state)
    assert layout.load_config() == config
    assert config.device_id == "pump-7"
    assert (config.model, config.hardware_revision) == ("IP-100", "B")
    assert config.repository_url == f"{world.server.url}/repo/"
    assert config.repository_base == f"{world.server.url}/"
    assert config.reports_url == f"{world.server.url}/api/v1/devices/pump-7/reports"
    assert config.device_dir == str((tmp_path / "device").resolve())
    assert layout.image_root_file.read_bytes() == world.signing.image.root_bytes(1)
    assert layout.director_root_file.read_bytes() == world.signing.director.root_bytes(1)
    key = DeviceKey.load(layout.identity_dir)
    assert world.server.enroll_requests == [
        {"token": token, "public_key": key.public_key_bytes.hex()}
    ]
    key_file = next(layout.identity_dir.iterdir())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    repositories = layout.repositories(config)
    assert repositories.base_url == f"{world.server.url}/"
    assert repositories.state_dir == layout.metadata_dir


def test_a_refusal_surfaces_the_problem_detail_and_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    with pytest.raises(EnrollmentRefusedError) as refused:
        enroll(world.server.url, "never-issued", tmp_path / "state")

    assert refused.value.status == 401
    assert "unknown, used or expired" in str(refused.value)
    assert not StateLayout(tmp_path / "state").is_enrolled()
    with pytest.raises(NotEnrolledError, match="medfleet-agent enroll"):
        StateLayout(tmp_path / "state").load_config()


def test_a_token_is_good_once_and_an_enrollment_is_not_replaced_without_force(
    world: World, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    token = world.register("pump-7")
    enroll(world.server.url, token, state)
    (state / "metadata" / "image").mkdir(parents=True)
    asked = len(world.server.enroll_requests)

    with pytest.raises(AlreadyEnrolledError, match="--force"):
        enroll(world.server.url, world.register("pump-8"), state)
    assert len(world.server.enroll_requests) == asked  # refused before asking the server

    config = enroll(world.server.url, "token-pump-8", state, force=True)
    assert config.device_id == "pump-8"
    assert StateLayout(state).load_config().device_id == "pump-8"
    assert not (state / "metadata" / "image").exists()  # caches of the old roots are gone


def test_force_keeps_the_device_key(world: World, tmp_path: Path) -> None:
    state = tmp_path / "state"
    enroll(world.server.url, world.register("pump-7"), state)
    first = world.server.enroll_requests[-1]["public_key"]

    enroll(world.server.url, world.register("pump-8"), state, force=True)

    assert world.server.enroll_requests[-1]["public_key"] == first


def root_b64(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_root": "not base64 !"}, "image_root is not standard base64"),
        ({"director_root": base64.b64encode(b"{not json").decode()}, "director_root is not JSON"),
        (
            {"image_root": root_b64({"signed": {"_type": "targets"}, "signatures": []})},
            "not TUF root metadata",
        ),
        (
            {"image_root": root_b64({"signed": {"_type": "root"}, "signatures": []})},
            "not valid TUF root metadata",
        ),
        ({"device_id": "../escape"}, "invalid device id"),
        ({"device_id": 7}, "no text field 'device_id'"),
        ({"model": None}, "no text field 'model'"),
        ({"director_root": None}, "no text field 'director_root'"),
        ({"repository_url": "/files/"}, "must end with /repo/"),
        ({"reports_url": "ftp://elsewhere/reports"}, "not an absolute http"),
        ({"hardware_revision": "B\n"}, "printable"),
    ],
)
def test_a_bad_answer_is_refused_and_nothing_is_written(
    world: World, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    answer_with(world, **changes)

    with pytest.raises(EnrollmentAnswerError, match=message):
        enroll(world.server.url, "any", tmp_path / "state")

    assert not StateLayout(tmp_path / "state").is_enrolled()
    assert not StateLayout(tmp_path / "state").image_root_file.exists()


def test_an_answer_that_is_not_json_is_refused(world: World, tmp_path: Path) -> None:
    world.server.enroll_answer = lambda _request: (200, "text/html", b"<html>welcome</html>")

    with pytest.raises(EnrollmentAnswerError, match="not JSON"):
        enroll(world.server.url, "any", tmp_path / "state")


def test_a_problem_without_detail_reports_its_title(world: World, tmp_path: Path) -> None:
    world.server.enroll_answer = lambda _request: problem(503, "", "Service Unavailable")

    with pytest.raises(EnrollmentRefusedError, match=r"HTTP 503\): Service Unavailable"):
        enroll(world.server.url, "any", tmp_path / "state")


def test_an_unreachable_server_is_a_connection_error(tmp_path: Path) -> None:
    closed = RepositoryServer(tmp_path).start()
    url = closed.url
    closed.stop()

    with pytest.raises(EnrollmentConnectionError, match="cannot reach"):
        enroll(url, "any", tmp_path / "state")
    assert not StateLayout(tmp_path / "state").is_enrolled()


@pytest.mark.parametrize("server", ["ftp://server", "server.example", ""])
def test_a_bad_server_url_is_a_configuration_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an absolute http"):
        enroll(server, "any", tmp_path / "state")


def test_relative_urls_resolve_against_the_server_url(world: World) -> None:
    body = world.enrollment_body("pump-7", "IP-100", "rev B")
    body |= {"repository_url": "repo", "reports_url": "api/v1/devices/pump-7/reports"}

    answer = parse_answer("https://fleet.example/medfleet", json.dumps(body).encode())

    assert answer.repository_url == "https://fleet.example/medfleet/repo/"
    assert answer.reports_url == "https://fleet.example/medfleet/api/v1/devices/pump-7/reports"
    assert answer.hardware_revision == "rev B"
    assert repository_base_url(answer.repository_url) == "https://fleet.example/medfleet/"
    body["repository_url"] = "https://cdn.example/mirror/repo/"
    cdn = parse_answer("https://fleet.example", json.dumps(body).encode())
    assert cdn.repository_url == "https://cdn.example/mirror/repo/"


def test_a_damaged_configuration_is_a_configuration_error(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path)
    layout.ensure()
    layout.config_file.write_text('{"format": 1, "device_id": "pump-1"}')

    with pytest.raises(ConfigError, match="'server_url' is missing"):
        layout.load_config()
    layout.config_file.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        layout.load_config()


def test_a_configuration_without_its_roots_is_refused(world: World, tmp_path: Path) -> None:
    enroll(world.server.url, world.register("pump-7"), tmp_path)
    StateLayout(tmp_path).director_root_file.unlink()

    with pytest.raises(ConfigError, match="enroll again with --force"):
        StateLayout(tmp_path).load_config()


def test_config_and_poll_state_round_trip(tmp_path: Path) -> None:
    config = AgentConfig(
        server_url="https://fleet.example",
        device_id="pump-1",
        model="IP-100",
        hardware_revision="B",
        repository_url="https://fleet.example/repo/",
        reports_url="https://fleet.example/api/v1/devices/pump-1/reports",
        poll_interval=30,
        poll_jitter=0,
    )
    layout = StateLayout(tmp_path)
    layout.ensure()
    layout.save_config(config)
    layout.save_roots(b"image", b"director")
    state = PollState(etag='"abc"', reports_refused=2, last_action="installed")
    layout.save_poll_state(state)

    assert layout.load_config() == config
    assert layout.load_poll_state() == state
    with pytest.raises(ConfigError, match="poll interval"):
        replace(config, poll_interval=0)
