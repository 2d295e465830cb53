"""The device's outbox: persisted, ordered, idempotent delivery of signed status reports.

The ``Outbox`` signs each report (``medfleet.agent.reports.sign_report``) and keeps it on disk
until the server acknowledges it. Guarantees:

- sequence numbers are reserved durably before use, so none is ever reused, even after a crash
  (a crash can only leave a gap);
- a report keeps its seq and bytes on every resend, so delivery is idempotent;
- reports are sent in seq order and a round stops at the first one that is not due yet or
  fails, so the server never gets a later report before an earlier one;
- a failed delivery is retried with exponential backoff and jitter computed from the injected
  clock and random source (no hidden time or randomness);
- every change to the outbox is an atomic file replacement or a durable removal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from medfleet.agent.atomic import (
    read_json,
    remove_durable,
    remove_stale_temp_files,
    write_json_atomic,
)
from medfleet.agent.clock import Clock, SystemClock
from medfleet.agent.contract import check_name
from medfleet.agent.errors import DeliveryError, StateCorruptError
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import FIRST_SEQ, ReportContent, StatusReport, sign_report

__all__ = [
    "Backoff",
    "Clock",
    "DeliveryResult",
    "Outbox",
    "PendingReport",
    "ReportTransport",
    "SystemClock",
]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits between d/2 and d, where
    d = min(cap, base * 2**(n-1))."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """How long to wait after the ``attempts``-th failed delivery (attempts >= 1)."""
        ceiling = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 32)))
        return ceiling / 2 + ceiling / 2 * rng.random()


class ReportTransport(Protocol):
    """Carries one document to the server."""

    def send(self, document: bytes) -> None:
        """Return only once the server acknowledged the document (or an exact resend of it).

        Raises:
            DeliveryError: not acknowledged; the outbox retries later.
        """
        ...


@dataclass(frozen=True, slots=True)
class PendingReport:
    """A signed report waiting for acknowledgement."""

    seq: int
    document: bytes
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one ``Outbox.deliver`` call did."""

    sent: int
    pending: int
    next_attempt_at: datetime | None
    error: str | None


class Outbox:
    """Persisted, ordered, idempotent delivery of signed reports (see the module docstring).

    Layout: ``<dir>/sequence.json`` holds the next free seq; ``<dir>/pending/<seq>.json``
    holds each unacknowledged document with its retry schedule. One agent process uses an
    outbox at a time.
    """

    def __init__(
        self,
        directory: Path,
        *,
        device_id: str,
        identity: DeviceIdentity,
        clock: Clock,
        rng: random.Random,
        backoff: Backoff | None = None,
    ) -> None:
        self.directory = directory
        self.device_id = check_name("device id", device_id)
        self.identity = identity
        self.clock = clock
        self.rng = rng
        self.backoff = backoff or Backoff()
        self._pending_dir = directory / "pending"
        self._pending_dir.mkdir(parents=True, exist_ok=True)
        for leftover_dir in (directory, self._pending_dir):
            remove_stale_temp_files(leftover_dir)

    def _reserve_seq(self) -> int:
        path = self.directory / "sequence.json"
        stored = read_json(path)
        if stored is not None and not (
            isinstance(stored, dict) and type(stored.get("next_seq")) is int
        ):
            raise StateCorruptError(f"{path} has no next_seq")
        highest = max((p.seq for p in self.pending()), default=FIRST_SEQ - 1)
        seq = max(FIRST_SEQ if stored is None else stored["next_seq"], highest + 1)
        write_json_atomic(path, {"next_seq": seq + 1})
        return seq

    def enqueue(self, content: ReportContent) -> PendingReport:
        """Sign ``content`` under the next sequence number and store it for delivery."""
        seq = self._reserve_seq()
        now = self.clock.now()
        document = sign_report(StatusReport(self.device_id, seq, now, content), self.identity)
        pending = PendingReport(seq, document, 0, now)
        self._store(pending)
        return pending

    def _path(self, seq: int) -> Path:
        return self._pending_dir / f"{seq:012d}.json"

    def _store(self, pending: PendingReport) -> None:
        write_json_atomic(
            self._path(pending.seq),
            {
                "seq": pending.seq,
                "document": pending.document.decode(),
                "attempts": pending.attempts,
                "next_attempt_at": pending.next_attempt_at.isoformat(),
            },
        )

    def pending(self) -> list[PendingReport]:
        """Unacknowledged reports, oldest (lowest seq) first.

        Raises:
            StateCorruptError: a pending entry is unreadable.
        """
        entries = []
        for path in sorted(self._pending_dir.glob("*.json")):
            data = read_json(path)
            try:
                if not isinstance(data, dict):
                    raise TypeError("not an object")
                entries.append(
                    PendingReport(
                        seq=int(data["seq"]),
                        document=str(data["document"]).encode(),
                        attempts=int(data["attempts"]),
                        next_attempt_at=datetime.fromisoformat(data["next_attempt_at"]),
                    )
                )
            except (TypeError, KeyError, ValueError) as exc:
                raise StateCorruptError(f"pending report {path} is invalid: {exc!r}") from exc
        return entries

    def deliver(self, transport: ReportTransport) -> DeliveryResult:
        """Send every due report in seq order until one fails; acknowledged ones are removed.

        A failure delays that report by ``Backoff.delay`` and stops the round, so reports
        reach the server in order.
        """
        now, sent, error = self.clock.now(), 0, None
        queue = self.pending()
        for entry in queue:
            if entry.next_attempt_at > now:
                break
            try:
                transport.send(entry.document)
            except DeliveryError as exc:
                attempts = entry.attempts + 1
                retry_at = now + self.backoff.delay(attempts, self.rng)
                self._store(PendingReport(entry.seq, entry.document, attempts, retry_at))
                error = str(exc)
                break
            remove_durable(self._path(entry.seq))
            sent += 1
        remaining = self.pending()
        next_at = remaining[0].next_attempt_at if remaining else None
        return DeliveryResult(sent, len(remaining), next_at, error)
