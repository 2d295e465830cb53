"""Settings: defaults derived from the data directory; environment beats file; errors clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from medfleet.config import ConfigFileError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MEDFLEET_DATA_DIR",
        "MEDFLEET_DATABASE_URL",
        "MEDFLEET_CONFIG",
        "MEDFLEET_BLOB_DIR",
        "MEDFLEET_LOGIN_MAX_FAILURES",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "d")
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.database_url == f"sqlite:///{settings.data_dir / 'medfleet.db'}"
    assert settings.blobs == settings.data_dir / "blobs"
    assert settings.keys == settings.data_dir / "keys"
    assert settings.is_sqlite


def test_environment_sets_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLEET_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings().data_dir == (tmp_path / "from-env").resolve()


def test_argument_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLEET_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings(tmp_path / "arg").data_dir == (tmp_path / "arg").resolve()


def test_config_file_in_data_dir_and_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "medfleet.toml").write_text(
        "[medfleet]\nlogin_max_failures = 9\n"
        'database_url = "postgresql+psycopg://postgres@127.0.0.1:5432/x"\n'
    )
    settings = load_settings(tmp_path)
    assert settings.login_max_failures == 9
    assert not settings.is_sqlite
    monkeypatch.setenv("MEDFLEET_LOGIN_MAX_FAILURES", "4")
    assert load_settings(tmp_path).login_max_failures == 4


def test_config_file_named_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("blob_dir = '/srv/blobs'\n")
    monkeypatch.setenv("MEDFLEET_CONFIG", str(config))
    assert load_settings(tmp_path).blobs == Path("/srv/blobs")


def test_broken_config_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "medfleet.toml").write_text("login_max_failures = = 3\n")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        load_settings(tmp_path)


def test_unknown_or_out_of_range_settings_are_refused(tmp_path: Path) -> None:
    (tmp_path / "medfleet.toml").write_text("no_such_setting = 1\n")
    with pytest.raises(ValidationError, match="no_such_setting"):
        load_settings(tmp_path)
    with pytest.raises(ValidationError, match="login_max_failures"):
        load_settings(tmp_path / "other", login_max_failures=0)
