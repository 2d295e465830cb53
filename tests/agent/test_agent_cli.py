"""``medfleet-agent``: commands, JSON output and exit codes, in-process and as the installed script.

The server is ``tests.agent.http_fixture`` (real repositories, real HTTP). ``main([...])`` runs
in-process; the last tests run the console script that ``pip install`` created, as a device's
service manager would, including a clean stop on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medfleet.agent.cli import main
from tests.agent.http_fixture import V1, V2, World, export_bundle, served_world

SCRIPT = Path(sys.executable).parent / "medfleet-agent"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with served_world(tmp_path) as world:
        world.publish(100, V1)
        yield world


@pytest.fixture
def factory_image(tmp_path: Path) -> Path:
    image = tmp_path / "factory.img"
    image.write_bytes(V1)
    return image


def global_options(tmp_path: Path) -> list[str]:
    return ["--state-dir", str(tmp_path / "state"), "--device-dir", str(tmp_path / "device")]


def enroll_args(world: World, tmp_path: Path, image: Path, number: int = 100) -> list[str]:
    token = world.register("pump-1")
    return [
        *global_options(tmp_path),
        "enroll",
        "--server",
        world.server.url,
        "--token",
        token,
        "--initial-image",
        str(image),
        "--initial-version",
        f"{number // 100}.0.0",
        "--initial-version-number",
        str(number),
    ]


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def enrolled(
    world: World, tmp_path: Path, factory_image: Path, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    assert main(enroll_args(world, tmp_path, factory_image)) == 0
    assert capsys.readouterr().out == "enrolled as pump-1 (IP-100 rev B)\n"
    return global_options(tmp_path)


def test_enroll_creates_the_device_and_status_shows_it(
    enrolled: list[str], world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, status = run_json([*enrolled, "status", "--json"], capsys)

    assert code == 0
    assert status["device_id"] == "pump-1"
    assert (status["model"], status["hardware_revision"]) == ("IP-100", "B")
    assert status["server_url"] == world.server.url
    assert status["running"]["slot"] == "a"
    assert (status["running"]["version"], status["running"]["version_number"]) == ("1.0.0", 100)
    assert status["install"] is None
    assert status["pending_reports"] == 0
    assert status["last_check"] == {"time": None, "action": None, "detail": None}
    assert status["device_dir"] == str(tmp_path / "device")


def test_status_without_json_is_readable(
    enrolled: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*enrolled, "status"]) == 0
    out = capsys.readouterr().out
    assert "pump-1 (IP-100 rev B)" in out
    assert "slot a, version 1.0.0" in out


def test_check_once_installs_and_reports(
    enrolled: list[str], world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.assign("pump-1", world.publish(200, V2))

    code, outcome = run_json([*enrolled, "check", "--once", "--json"], capsys)

    assert code == 0
    assert outcome["action"] == "installed"
    assert outcome["ok"] is True
    assert outcome["decision"]["version"] == "2.0.0"
    assert outcome["reports"] == {"sent": 2, "pending": 0}
    _, status = run_json([*enrolled, "status", "--json"], capsys)
    assert status["running"]["version"] == "2.0.0"
    assert status["last_check"]["action"] == "installed"
    assert status["install"]["phase"] == "committed"


def test_a_rejected_update_exits_1(
    world: World, tmp_path: Path, factory_image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(enroll_args(world, tmp_path, factory_image, number=300)) == 0
    capsys.readouterr()
    world.assign("pump-1", world.publish(200, V2))  # below the running version 300

    code, outcome = run_json([*global_options(tmp_path), "check", "--json"], capsys)

    assert code == 1
    assert outcome["action"] == "rejected"
    assert outcome["ok"] is False
    assert outcome["decision"]["reason"] == "anti-rollback"


def test_enrolling_twice_needs_force(
    enrolled: list[str],
    world: World,
    tmp_path: Path,
    factory_image: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = enroll_args(world, tmp_path, factory_image)

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("medfleet-agent: error: ")
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1

    assert main([*args, "--force"]) == 0


def test_a_refused_enrollment_exits_1_with_the_server_detail(
    world: World, tmp_path: Path, factory_image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = enroll_args(world, tmp_path, factory_image)
    args[args.index("--token") + 1] = "stolen"

    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        "medfleet-agent: error: enrollment refused (HTTP 401): "
        "the enrollment token is unknown, used or expired\n"
    )


def test_enroll_without_a_device_or_factory_image_is_a_usage_error(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = world.register("pump-1")
    args = [*global_options(tmp_path), "enroll", "--server", world.server.url, "--token", token]

    assert main(args) == 2
    assert "--initial-image" in capsys.readouterr().err
    assert world.server.enroll_requests == []  # the token is not spent


def test_commands_before_enrollment_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["status", "--json"], ["check", "--once"]):
        assert main([*global_options(tmp_path), *command]) == 2
        err = capsys.readouterr().err
        assert err.startswith("medfleet-agent: error: not enrolled")
        assert len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["run", "--interval", "soon"]) == 2
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_install_bundle_of_a_missing_file_exits_2(
    enrolled: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*enrolled, "install-bundle", str(tmp_path / "absent.tar")]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_install_bundle_installs_from_the_bundle(
    enrolled: list[str], world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v2 = world.publish(200, V2)
    world.assign("pump-1", v2)
    bundle = export_bundle(world, "pump-1", v2, tmp_path / "field.tar")

    code, outcome = run_json([*enrolled, "install-bundle", str(bundle), "--json"], capsys)

    assert code == 0
    assert outcome["action"] == "installed"
    assert outcome["source"] == "bundle"
    assert outcome["reports"]["pending"] == 1


def test_the_installed_script_reports_status_as_json(enrolled: list[str], tmp_path: Path) -> None:
    env = os.environ | {"MEDFLEET_AGENT_STATE_DIR": str(tmp_path / "state")}

    done = subprocess.run(
        [str(SCRIPT), "status", "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["device_id"] == "pump-1"
    assert status["device_dir"] == str(tmp_path / "device")  # recorded at enrollment


def test_the_installed_script_runs_until_sigterm(
    enrolled: list[str], world: World, tmp_path: Path
) -> None:
    world.server.polled.clear()
    with subprocess.Popen(
        [str(SCRIPT), *enrolled, "run", "--interval", "3600", "--jitter", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert world.server.polled.wait(timeout=60), "the agent never polled"
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()

    assert process.returncode == 0, err
    assert "stopping after the current cycle" in err
    assert "agent stopped" in err
