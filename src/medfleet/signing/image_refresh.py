"""Renewing the image repository's metadata before it expires (run by the worker).

``refresh_expiring`` re-signs every role of the image repository that expires within a margin,
or whose signatures no longer match the keys that currently sign it. Guarantees:

- snapshot and timestamp (online keys) are always renewed when due, so a server whose worker
  runs keeps the repository fresh without anyone's help;
- root, top-level targets and model roles are renewed only with signatures that reach their
  threshold; without them nothing is written for that role and it is reported in
  ``RefreshReport.needs_offline``, for a key holder to act on in time;
- everything happens under the repository's lock; a renewed root is written first, then the
  renewed targets roles, snapshot and timestamp through ``ImageRepository.commit``, in the
  order every other change uses.

``RefreshReport`` is also what ``medfleet.signing.director.Director.refresh_expiring`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from medfleet.signing.errors import InsufficientSignaturesError
from medfleet.signing.image_repo import (
    IMAGE_LIFETIMES,
    MODEL_ROLE_LIFETIME,
    ImageRepository,
    signers_for,
)
from medfleet.signing.tuf_api import Metadata, Signer, Targets
from medfleet.signing.tufrepo import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    Chain,
    bump,
    require_threshold,
    sign,
    sign_root,
    signed_by_current_keys,
)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What a refresh re-signed, and what expires soon but needs keys the server lacks."""

    resigned: tuple[str, ...]
    needs_offline: tuple[str, ...]


def refresh_expiring(
    repo: ImageRepository, margin: timedelta, offline_signers: Sequence[Signer] = ()
) -> RefreshReport:
    """Re-sign every role of ``repo`` that expires within ``margin`` of now and can be signed.

    A role whose signatures no longer match the current root (a rotation interrupted
    between writing the root and re-signing) counts as due. Snapshot and timestamp are
    always re-signed when due (online keys). Root, targets and model roles are re-signed
    only when ``offline_signers`` reach their threshold; otherwise they are listed in
    ``needs_offline`` for a key holder to act on in time.

    Raises:
        RepositoryNotFoundError: the repository was not created.
    """
    resigned: list[str] = []
    needs_offline: list[str] = []
    with repo.lock():
        now = repo.clock.now()
        horizon = now + margin
        chain = repo.chain()
        if chain.root.signed.expires <= horizon:
            root = bump(chain.root.signed, now, IMAGE_LIFETIMES.root)
            try:
                new_root = sign_root(chain.root.signed, root, offline_signers)
            except InsufficientSignaturesError:
                needs_offline.append(ROOT)
            else:
                repo.metadata.write_root(new_root)
                chain = Chain(new_root, chain.timestamp, chain.snapshot)
                resigned.append(ROOT)
        new_targets = _refresh_targets(repo, chain, horizon, offline_signers, needs_offline)
        resigned.extend(new_targets)
        root_now = chain.root.signed
        snapshot_due = (
            bool(new_targets)
            or chain.snapshot.signed.expires <= horizon
            or not signed_by_current_keys(root_now, SNAPSHOT, chain.snapshot)
        )
        timestamp_due = chain.timestamp.signed.expires <= horizon or not signed_by_current_keys(
            root_now, TIMESTAMP, chain.timestamp
        )
        if snapshot_due or timestamp_due:
            repo.commit(chain.root, chain, new_targets, resign_snapshot=snapshot_due)
            resigned.extend([SNAPSHOT, TIMESTAMP] if snapshot_due else [TIMESTAMP])
    return RefreshReport(tuple(resigned), tuple(needs_offline))


def _refresh_targets(
    repo: ImageRepository,
    chain: Chain,
    horizon: datetime,
    signers: Sequence[Signer],
    needs_offline: list[str],
) -> dict[str, Metadata[Targets]]:
    now = repo.clock.now()
    new: dict[str, Metadata[Targets]] = {}
    top_metadata = repo.top_targets(chain)
    top = top_metadata.signed
    if top.expires <= horizon or not signed_by_current_keys(
        chain.root.signed, TARGETS, top_metadata
    ):
        try:
            payload = bump(top, now, IMAGE_LIFETIMES.targets)
            new[TARGETS] = repo.sign_top_targets(chain, payload, signers)
        except InsufficientSignaturesError:
            needs_offline.append(TARGETS)
    roles = top.delegations.roles if top.delegations and top.delegations.roles else {}
    for role, delegation in roles.items():
        current = repo.role(chain, role)
        if current is None or (
            current.signed.expires > horizon and signed_by_current_keys(top, role, current)
        ):
            continue
        payload = bump(current.signed, now, MODEL_ROLE_LIFETIME)
        signed = sign(payload, signers_for(delegation.keyids, signers))
        try:
            require_threshold(top, role, signed)
        except InsufficientSignaturesError:
            needs_offline.append(role)
            continue
        new[role] = signed
    return new
