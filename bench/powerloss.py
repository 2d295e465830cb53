"""Power-loss safety of the agent's A/B install, on a real file-backed device, by SIGKILL.

A device (``medfleet.agent.device.SimulatedDevice``: slots a/b, boot environment, config,
agent state, device key) runs version 1.0; a child process (``--child``) runs the agent's
install of 2.0 from a local artifact. The parent kills the child with SIGKILL

(a) deterministically at every checkpoint of the install (every persisted state and every
    effect), once with a good image and once with one whose health check fails (the child's
    observer kills itself there), and
(b) at random moments (uniform over a measured install), sometimes again during recovery,

until at least ``--kills`` kills happened. After every kill the parent power-cycles the
device (the bootloader's ``boot()``) and restarts the agent (``--child --restart``: recover,
then resume a paused install). When the agent finished, it checks that the device runs 1.0 or
2.0 for good (boot env settled, slot image matches its verified version, install record and
configuration agree, nothing left behind), and that the last status report the "server"
received verifies with the device key, states the version actually running and, for an
attempt that took the device out of service, when it left and came back (in that order).

Progress goes to stderr; the last stdout line is one JSON object (see bench/README.md).

    python bench/powerloss.py            # >= 200 kills, 4 MB images
    python bench/powerloss.py --quick    # >= 60 kills, 1 MB images, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from medfleet.agent.atomic import read_json, write_bytes_atomic
from medfleet.agent.device import SimulatedDevice, target_for
from medfleet.agent.errors import DeliveryError, ReportError
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.install_state import Outcome, Phase, Target
from medfleet.agent.installer import RECORD_FILE, Checkpoint, LocalFileSource
from medfleet.agent.outbox import Outbox, SystemClock
from medfleet.agent.reports import verify_report

DEVICE_ID = "SN-BENCH-0001"
OLD, NEW = "1.0", "2.0"
TRIAL_TRIES = 3
Rng = random.Random


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/powerloss] {message}", file=sys.stderr, flush=True)


class InboxTransport:
    """The server's report endpoint, reduced to storage: one file per (device, seq).

    A resend of the same seq with the same bytes is acknowledged again (idempotent); the same
    seq with different bytes is kept as a conflict, which the parent counts as a failure.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, document: bytes) -> None:
        """Store ``document`` under its seq."""
        try:
            seq = int(json.loads(document)["report"]["seq"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DeliveryError(f"unreadable report: {exc}") from exc
        path = self.directory / f"{seq:012d}.json"
        if path.exists() and path.read_bytes() != document:
            write_bytes_atomic(self.directory / f"conflict-{seq}-{time.time_ns()}", document)
            return
        write_bytes_atomic(path, document)


def run_child(args: argparse.Namespace) -> int:
    """The agent process: install (or recover and resume), then report; may kill itself."""
    with Path(args.trace).open("a", buffering=1) as trace:
        return agent(args, trace)


def agent(args: argparse.Namespace, trace: TextIO) -> int:
    """What ``run_child`` runs, with the trace file (one line per checkpoint) open."""
    device = SimulatedDevice(Path(args.device))
    target = Target.from_dict(json.loads(Path(args.target).read_text()))
    seen = 0

    def observer(checkpoint: Checkpoint) -> None:
        nonlocal seen
        trace.write(checkpoint.label + "\n")
        seen += 1
        if seen == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    outbox = Outbox(
        device.outbox_dir,
        device_id=DEVICE_ID,
        identity=DeviceIdentity.load(device.identity_dir),
        clock=SystemClock(),
        rng=random.Random(),  # noqa: S311 - retry jitter, not cryptography
    )
    inbox = InboxTransport(Path(args.inbox))
    trace.write(f"start:{'restart' if args.restart else 'install'}\n")
    print("ready", flush=True)
    outbox.deliver(inbox)
    installer = device.installer(trial_tries=TRIAL_TRIES, observer=observer)
    source = LocalFileSource(Path(args.artifact))
    result = installer.recover() if args.restart else None
    # Still told to install 2.0: resume a paused attempt or start one if none was recorded;
    # a finished attempt (committed or rolled back) is not retried.
    if result is None or result.record is None or result.outcome is Outcome.IN_PROGRESS:
        result = installer.install(target, source)
    outbox.enqueue(installer.report_content(result))
    trace.write("report:enqueued\n")
    outbox.deliver(inbox)
    trace.write(f"done:{result.outcome}\n")
    return 0


@dataclass
class Workspace:
    """Images, the artifact, the target, and a template device, built once per bench run."""

    root: Path
    image_bytes: int
    target: Path = field(init=False)
    artifact: Path = field(init=False)
    template: Path = field(init=False)
    config_before: dict[str, bytes] = field(init=False)
    public_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        old, self.artifact = self.root / "pump-1.0.img", self.root / "pump-2.0.img"
        old.write_bytes(os.urandom(self.image_bytes))
        self.artifact.write_bytes(os.urandom(self.image_bytes))
        self.target = self.root / "target.json"
        target = target_for(self.artifact, NEW, 200, path="IP-100/pump-2.0.img")
        self.target.write_text(json.dumps(target.to_dict()))
        self.template = self.root / "template"
        device = SimulatedDevice.create(self.template, image=old, version=OLD, version_number=100)
        DeviceIdentity.create_or_load(device.identity_dir)
        self.config_before = device.config_snapshot()
        self.public_key = DeviceIdentity.load(device.identity_dir).public_key_bytes


@dataclass
class Run:
    """One device going through one install, with its kills."""

    workspace: Workspace
    name: str
    bad_image: bool
    directory: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory = self.workspace.root / "runs" / self.name
        shutil.copytree(self.workspace.template, self.directory / "device")
        (self.directory / "inbox").mkdir()
        self.device = SimulatedDevice(self.directory / "device")
        if self.bad_image:
            self.device.set_health_failure("simulated self-test failure of 2.0")

    def start(self, *, restart: bool, kill_at: int = 0) -> subprocess.Popen[str]:
        """Start the agent child; returns once it printed ``ready``."""
        options = {
            "--device": self.device.root,
            "--target": self.workspace.target,
            "--artifact": self.workspace.artifact,
            "--inbox": self.directory / "inbox",
            "--trace": self.directory / "trace.log",
            "--kill-at": kill_at,
        }
        command = [sys.executable, str(Path(__file__).resolve()), "--child"]
        for name, value in options.items():
            command += [name, str(value)]
        if restart:
            command.append("--restart")
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            child.wait()
            raise RuntimeError(f"agent child did not start: {child.stderr and child.stderr.read()}")
        return child

    def persisted_phase(self) -> str:
        """The phase in the install record right now ("idle" before the first persist)."""
        data = read_json(self.device.state_dir / RECORD_FILE)
        return Phase.IDLE.value if not isinstance(data, dict) else str(data["phase"])

    def last_checkpoint(self) -> str:
        """The last checkpoint the agent reached (from its trace)."""
        trace = self.directory / "trace.log"
        lines = trace.read_text().splitlines() if trace.exists() else []
        return lines[-1] if lines else "start"


def finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the child; its return code and stderr."""
    _out, err = child.communicate()
    return child.returncode, err


def finish_ok(run: Run, child: subprocess.Popen[str]) -> None:
    """Wait for a child that was not killed; it must have succeeded."""
    code, err = finish(child)
    if code != 0:
        raise RuntimeError(f"{run.name}: agent failed ({code}): {err}")


def check_end_state(run: Run) -> tuple[str, list[str]]:
    """Which version the device ended on, and every inconsistency found."""
    device, problems = run.device, []
    env = device.boot_control.env()
    running = device.running_version()
    version = "none" if running is None else running.version
    if env.upgrade_available or device.running_slot() != env.primary:
        problems.append(f"boot env not settled: {device.describe()}")
    if running is None or version not in (OLD, NEW):
        return version, [*problems, f"running slot claims no known version: {version}"]
    if device.slots.digest(device.running_slot(), running.length).sha256 != running.sha256:
        problems.append("running slot does not match its verified version")
    phase = run.persisted_phase()
    config = device.config_snapshot()
    if version == NEW:
        if phase != Phase.COMMITTED or run.bad_image:
            problems.append(f"2.0 runs but record is {phase} (bad image: {run.bad_image})")
        if json.loads(config.get("schema.json", b"{}")).get("migrated_by") != NEW:
            problems.append("2.0 runs but its configuration was not migrated")
    else:
        if phase not in (Phase.ROLLED_BACK, Phase.FAILED):
            problems.append(f"1.0 runs but record is {phase}")
        if config != run.workspace.config_before:
            problems.append("1.0 runs but the configuration was not restored")
    leftovers = [
        p.name
        for p in (*device.state_dir.iterdir(), *(device.state_dir / "downloads").iterdir())
        if p.name.endswith(".tmp") or p.suffix == ".partial" or p.name == "config-backup"
    ]
    if leftovers:
        problems.append(f"left behind: {leftovers}")
    problems += check_reports(run, version, phase)
    device.power_cycle()
    if device.running_version() != running:
        problems.append("a further power cycle changed the running version")
    return version, problems


def check_reports(run: Run, version: str, phase: str) -> list[str]:
    """Every received report verifies; the last one states what actually runs, and when the
    attempt took the device out of service and back (neither for a failed attempt)."""
    inbox = run.directory / "inbox"
    if any(p.name.startswith("conflict-") for p in inbox.iterdir()):
        return ["a report seq was reused with different content"]
    documents = sorted(inbox.glob("*.json"))
    if not documents:
        return ["no status report received"]
    try:
        reports = [verify_report(run.workspace.public_key, p.read_bytes()) for p in documents]
    except ReportError as exc:
        return [f"a received report does not verify: {exc}"]
    last = reports[-1].report
    stated = (last.content.active_slot, last.content.active_version, last.content.install_phase)
    actual = (run.device.running_slot(), version, phase)
    if stated != actual:
        return [f"last report states {stated}, device is {actual}"]
    left, back = last.content.left_service_at, last.content.returned_to_service_at
    if phase in ("committed", "rolled_back") and (left is None or back is None or back < left):
        return [f"{phase} report has no consistent downtime: left {left}, returned {back}"]
    if phase == "failed" and (left, back) != (None, None):
        return [f"a failed attempt reports downtime: left {left}, returned {back}"]
    return []


@dataclass
class Tally:
    """Counts for the JSON line."""

    kills: int = 0
    deterministic_kills: int = 0
    random_kills: int = 0
    runs: int = 0
    bad_image_runs: int = 0
    unkilled_runs: int = 0
    end_old: int = 0
    end_new: int = 0
    bad_end_states: int = 0
    kills_by_state: Counter[str] = field(default_factory=Counter)
    kills_by_checkpoint: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def killed(self, run: Run) -> None:
        """Count a kill and where it landed."""
        self.kills += 1
        self.kills_by_state[run.persisted_phase()] += 1
        self.kills_by_checkpoint[run.last_checkpoint()] += 1

    def ended(self, run: Run) -> None:
        """Check and count one finished run."""
        self.runs += 1
        self.bad_image_runs += run.bad_image
        version, problems = check_end_state(run)
        self.end_old += version == OLD
        self.end_new += version == NEW
        if problems:
            self.bad_end_states += 1
            self.failures.append(f"{run.name}: {'; '.join(problems)}")
            log(f"BAD END {run.name}: {problems}")
        else:
            shutil.rmtree(run.directory)


def recover_until_done(run: Run, tally: Tally, rng: Rng, budget: float) -> None:
    """Power-cycle and restart the agent; sometimes kill it again; finally let it finish."""
    for _ in range(3):
        run.device.power_cycle()
        child = run.start(restart=True)
        try:
            if rng.random() < 0.5:
                child.wait(timeout=rng.uniform(0, budget))
            finish_ok(run, child)
            return
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            finish(child)
            tally.killed(run)
            tally.random_kills += 1
    run.device.power_cycle()
    finish_ok(run, run.start(restart=True))


class Timing:
    """How long an uninterrupted install takes (after ``ready``), from recent runs.

    Random kill times are drawn up to the median of the last few uninterrupted runs, which
    tracks the machine's speed as it drifts.
    """

    def __init__(self) -> None:
        self.recent: dict[bool, deque[float]] = {False: deque(maxlen=9), True: deque(maxlen=9)}

    def add(self, bad_image: bool, seconds: float) -> None:
        """Record one uninterrupted install."""
        self.recent[bad_image].append(seconds)

    def budget(self, bad_image: bool) -> float:
        """The current estimate of one install's duration."""
        return statistics.median(self.recent[bad_image])


def measure(workspace: Workspace, bad_image: bool, timing: Timing) -> list[str]:
    """Three uninterrupted installs: their checkpoint labels (must agree); durations to timing."""
    paths = []
    for attempt in range(3):
        run = Run(workspace, f"dry-{'bad' if bad_image else 'good'}-{attempt}", bad_image)
        child = run.start(restart=False)
        started = time.perf_counter()
        finish_ok(run, child)
        timing.add(bad_image, time.perf_counter() - started)
        trace = (run.directory / "trace.log").read_text().splitlines()
        paths.append([line for line in trace if line.startswith(("persisted:", "effect:"))])
        shutil.rmtree(run.directory)
    if any(path != paths[0] for path in paths):
        raise RuntimeError(f"uninterrupted installs took different paths: {paths}")
    return paths[0]


def deterministic_kills(
    workspace: Workspace, path: list[str], bad: bool, tally: Tally, timing: Timing, rng: Rng
) -> None:
    """Kill the agent at each checkpoint of ``path`` in turn, on a fresh device each time."""
    for index, label in enumerate(path, start=1):
        run = Run(workspace, f"det-{'bad' if bad else 'good'}-{index:02d}", bad)
        code, err = finish(run.start(restart=False, kill_at=index))
        if code != -signal.SIGKILL or run.last_checkpoint() != label:
            raise RuntimeError(f"{run.name}: no kill at {label} ({code}): {err}")
        tally.killed(run)
        tally.deterministic_kills += 1
        recover_until_done(run, tally, rng, timing.budget(bad))
        tally.ended(run)


def random_kill_run(
    workspace: Workspace, number: int, tally: Tally, timing: Timing, rng: Rng
) -> None:
    """One fresh device, the agent killed at a random moment (and maybe again in recovery)."""
    bad = rng.random() < 0.25
    run = Run(workspace, f"rnd-{number:04d}", bad)
    child = run.start(restart=False)
    started = time.perf_counter()
    try:
        child.wait(timeout=rng.uniform(0, timing.budget(bad)))
        finish_ok(run, child)
        timing.add(bad, time.perf_counter() - started)
        tally.unkilled_runs += 1
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        finish(child)
        tally.killed(run)
        tally.random_kills += 1
        recover_until_done(run, tally, rng, timing.budget(bad))
    tally.ended(run)


def bench(args: argparse.Namespace) -> dict[str, object]:
    """The parent: deterministic kills at every checkpoint, then random kills."""
    rng = random.Random(args.seed)  # noqa: S311 - kill timing, not cryptography
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="medfleet-powerloss-", dir=args.workdir))
    workspace = Workspace(root, int(args.image_mb * (1 << 20)))
    tally, timing = Tally(), Timing()
    paths = {bad: measure(workspace, bad, timing) for bad in (False, True)}
    install_s = timing.budget(False)
    log(
        f"checkpoints: {len(paths[False])} (good image), {len(paths[True])} (bad image); "
        f"{install_s:.2f} s per install"
    )
    for bad in (False, True):
        deterministic_kills(workspace, paths[bad], bad, tally, timing, rng)
        log(f"deterministic kills ({'bad' if bad else 'good'} image) done: {tally.kills} kills")
    number = 0
    while tally.kills < args.kills:
        number += 1
        random_kill_run(workspace, number, tally, timing, rng)
        if number % 20 == 0:
            log(f"random runs: {number}, kills: {tally.kills}, bad: {tally.bad_end_states}")
    if tally.bad_end_states == 0:
        shutil.rmtree(root)
    else:
        log(f"kept {root} for inspection")
    return {
        "bench": "powerloss",
        "kills": tally.kills,
        "bad_end_states": tally.bad_end_states,
        "end_old": tally.end_old,
        "end_new": tally.end_new,
        "deterministic_kills": tally.deterministic_kills,
        "random_kills": tally.random_kills,
        "runs": tally.runs,
        "bad_image_runs": tally.bad_image_runs,
        "unkilled_runs": tally.unkilled_runs,
        "kills_by_state": dict(sorted(tally.kills_by_state.items())),
        "kills_by_checkpoint": dict(sorted(tally.kills_by_checkpoint.items())),
        "checkpoints_good_image": len(paths[False]),
        "checkpoints_bad_image": len(paths[True]),
        "image_mb": args.image_mb,
        "install_s": round(install_s, 3),
        "seconds": round(time.perf_counter() - started, 1),
        "seed": args.seed,
        "failures": tally.failures[:5],
    }


def main() -> int:
    """Parse arguments; run the child or the parent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer kills, smaller images")
    parser.add_argument("--kills", type=int, help="minimum number of kills (default 200)")
    parser.add_argument("--image-mb", type=float, help="image size in MB (default 4)")
    parser.add_argument("--seed", type=int, default=20260115)
    parser.add_argument("--workdir", help="where to make the temporary directory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--restart", action="store_true", help=argparse.SUPPRESS)
    for name in ("--device", "--target", "--artifact", "--inbox", "--trace"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--kill-at", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        code = run_child(args)
        sys.stdout.flush()
        os._exit(code)  # at once: no interpreter teardown for random kills to land in
    args.kills = args.kills or (60 if args.quick else 200)
    args.image_mb = args.image_mb or (1.0 if args.quick else 4.0)
    result = bench(args)
    print(json.dumps(result))
    return 0 if result["bad_end_states"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
