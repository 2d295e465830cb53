"""``medfleet init`` sets up update signing: root key holders, threshold, production rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.clock import SystemClock
from medfleet.signing.distribution import Distribution
from medfleet.signing.setup import unlock_root_signers

ADMIN_PASSWORD = "initial admin password"


def init(data_dir: Path, *args: str, **root_passwords: str) -> tuple[int, str, str]:
    env = {
        "MEDFLEET_ARGON2_TIME_COST": "1",
        "MEDFLEET_ARGON2_MEMORY_KIB": "64",
        "MEDFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **{f"MEDFLEET_ROOT_PASSWORD_{k[-1]}": v for k, v in root_passwords.items()},
    }
    result = CliRunner().invoke(
        app, ["init", "--data-dir", str(data_dir), "--json", *args], env=env
    )
    # with --json an error is a JSON document on stdout; keep the message where tests look
    return result.exit_code, result.stdout, result.stdout + result.stderr


def distribution(data_dir: Path) -> Distribution:
    return Distribution.for_directories(data_dir / "blobs", data_dir / "keys", SystemClock())


def test_demo_style_init_creates_both_repositories(tmp_path: Path) -> None:
    code, out, err = init(tmp_path, holder1="only holder")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    assert result["root_threshold"] == 1
    assert result["production"] is False
    assert len(result["image_root_key_ids"]) == len(result["director_root_key_ids"]) == 1
    created = distribution(tmp_path)
    assert created.exists()
    roots = created.enrollment_roots()
    assert json.loads(roots.image_root)["signed"]["_type"] == "root"
    assert json.loads(roots.director_root)["signed"]["_type"] == "root"
    # the root key is stored encrypted: only its holder's password opens it
    root = created.image.chain().root
    assert len(unlock_root_signers(created.keys, root, ["only holder"])) == 1


def test_production_refuses_a_single_root_holder_and_creates_nothing(tmp_path: Path) -> None:
    code, _, err = init(tmp_path, "--production", "--root-holders", "1", holder1="one")
    assert code == 3
    assert "at least 2 root key holders" in err
    assert not distribution(tmp_path).exists()
    # nothing half-made: a correct init afterwards works
    code, _, err = init(tmp_path, "--production", holder1="first", holder2="second")
    assert code == 0, err


def test_production_refuses_a_threshold_of_one(tmp_path: Path) -> None:
    code, _, err = init(tmp_path, "--production", "--root-threshold", "1", holder1="a", holder2="b")
    assert code == 3
    assert "root threshold of at least 2" in err


def test_production_refuses_holders_sharing_a_password(tmp_path: Path) -> None:
    code, _, err = init(tmp_path, "--production", holder1="same", holder2="same")
    assert code == 3
    assert "different passwords" in err


def test_production_root_needs_two_holders_to_sign(tmp_path: Path) -> None:
    code, out, err = init(tmp_path, "--production", holder1="first", holder2="second")
    assert code == 0, err
    result = json.loads(out)
    assert result["root_threshold"] == 2
    assert len(result["image_root_key_ids"]) == 2
    created = distribution(tmp_path)
    root = created.image.chain().root
    assert root.signed.roles["root"].threshold == 2
    assert len(unlock_root_signers(created.keys, root, ["first"])) == 1
    assert len(unlock_root_signers(created.keys, root, ["first", "second"])) == 2


def test_missing_root_password_names_the_variable(tmp_path: Path) -> None:
    code, _, err = init(tmp_path / "d")
    assert code == 3
    assert "MEDFLEET_ROOT_PASSWORD_1" in err
