"""Refreshing the image repository: online roles renewed in time, key holders warned early.

Every "the client sees …" below is python-tuf's own ``ngclient.Updater``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.exceptions import ExpiredMetadataError

from medfleet.clock import FrozenClock
from medfleet.signing.image_refresh import refresh_expiring
from tests.signing.helpers import (
    Signing,
    make_signing,
)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.mark.parametrize(("age", "due"), [(2, ["timestamp"]), (8, ["snapshot", "timestamp"])])
def test_refresh_renews_expired_online_roles(tmp_path: Path, age: int, due: list[str]) -> None:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=age))
    signing = make_signing(tmp_path, clock)
    with pytest.raises(ExpiredMetadataError):
        signing.image_client(tmp_path / "before").refresh()

    clock.advance(timedelta(days=age))
    report = refresh_expiring(signing.image, timedelta(hours=1))

    assert list(report.resigned) == due
    assert report.needs_offline == ()
    signing.image_client(tmp_path / "after").refresh()


def test_refresh_changes_nothing_when_nothing_is_due(signing: Signing) -> None:
    before = _files(signing.image.metadata.path)

    report = refresh_expiring(signing.image, timedelta(hours=1))

    assert (report.resigned, report.needs_offline) == ((), ())
    assert _files(signing.image.metadata.path) == before


def test_refresh_asks_for_key_holders_before_offline_roles_expire(
    signing: Signing, tmp_path: Path
) -> None:
    signing.publish(tmp_path, 430, b"pump")
    signing.clock.advance(timedelta(days=360))

    report = refresh_expiring(signing.image, timedelta(days=10))
    assert set(report.needs_offline) == {"root", "targets", "model-IP-100"}
    assert set(report.resigned) == {"snapshot", "timestamp"}

    holders = [*signing.image_root_signers(), signing.admin, signing.qa]
    report = refresh_expiring(signing.image, timedelta(days=10), holders)
    assert report.needs_offline == ()
    assert set(report.resigned) >= {"root", "targets", "model-IP-100"}
    chain = signing.image.chain()
    assert chain.root.signed.version == 2
    assert chain.root.signed.expires > signing.clock.now() + timedelta(days=300)
    signing.image_client(tmp_path / "client").refresh()
