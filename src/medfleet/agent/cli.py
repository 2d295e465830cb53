"""``medfleet-agent``: the device's command line (argparse only; no server dependencies).

Commands::

    medfleet-agent enroll --server URL --token T [--force]
                          [--initial-image FILE --initial-version V --initial-version-number N]
    medfleet-agent run [--interval S] [--jitter S]     # until SIGTERM/SIGINT
    medfleet-agent check --once [--json]
    medfleet-agent status [--json]
    medfleet-agent install-bundle FILE [--json]

Global options: ``--state-dir`` (``MEDFLEET_AGENT_STATE_DIR``, default
``/var/lib/medfleet-agent``) and ``--device-dir`` (``MEDFLEET_AGENT_DEVICE_DIR``): the
file-backed hardware (``SimulatedDevice``). Enrollment records the device directory (default
``<state-dir>/device``); if no device exists there it is created from ``--initial-image``, the
factory image in slot a. The token may also come from ``MEDFLEET_AGENT_TOKEN``.

Exit codes: 0 ok; 1 the check failed, an update was rejected, an install did not succeed, or
the server refused; 2 usage or configuration error (not enrolled, bad option, no device).
Errors are one line on stderr; ``--json`` output is one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from medfleet.agent.config import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_POLL_JITTER,
    DEVICE_DIR_ENV,
    ConfigError,
    StateLayout,
    resolve_state_dir,
)
from medfleet.agent.contract import ContractError
from medfleet.agent.device import SimulatedDevice
from medfleet.agent.enroll_client import AlreadyEnrolledError, enroll
from medfleet.agent.errors import AgentError, IdentityError
from medfleet.agent.runner import Agent
from medfleet.agent.status import CheckOutcome

PROG = "medfleet-agent"
TOKEN_ENV = "MEDFLEET_AGENT_TOKEN"  # noqa: S105 - the name of a variable
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG = logging.getLogger("medfleet.agent")


class UsageError(Exception):
    """A command-line mistake (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help (0) and on usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    level = logging.INFO if args.command == "run" else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except (UsageError, ConfigError, AlreadyEnrolledError, ContractError, IdentityError) as error:
        return _fail(error, EXIT_USAGE)
    except (AgentError, OSError) as error:
        return _fail(error, EXIT_FAILED)
    return code


def _fail(error: BaseException, code: int) -> int:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The medfleet device agent.")
    parser.add_argument("--state-dir", help="agent state (env MEDFLEET_AGENT_STATE_DIR)")
    parser.add_argument(
        "--device-dir", help=f"the file-backed device (env {DEVICE_DIR_ENV}; default: enrolled)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll_cmd = commands.add_parser("enroll", help="enroll this device with a server")
    enroll_cmd.add_argument("--server", required=True, help="the server's base URL")
    enroll_cmd.add_argument("--token", help=f"one-time enrollment token (or env {TOKEN_ENV})")
    enroll_cmd.add_argument("--force", action="store_true", help="replace an enrollment")
    enroll_cmd.add_argument("--initial-image", type=Path, help="factory image for a new device")
    enroll_cmd.add_argument("--initial-version", help="its version string, e.g. 1.0.0")
    enroll_cmd.add_argument("--initial-version-number", type=int, help="its version number")
    enroll_cmd.add_argument("--poll-interval", type=_seconds, default=DEFAULT_POLL_INTERVAL)
    enroll_cmd.add_argument("--poll-jitter", type=_seconds, default=DEFAULT_POLL_JITTER)
    enroll_cmd.set_defaults(handler=_enroll)

    run_cmd = commands.add_parser("run", help="poll and install until stopped")
    run_cmd.add_argument("--interval", type=_seconds, help="seconds between checks")
    run_cmd.add_argument("--jitter", type=_seconds, help="random extra seconds per wait")
    run_cmd.set_defaults(handler=_run)

    check_cmd = commands.add_parser("check", help="run one check (and install) now")
    check_cmd.add_argument("--once", action="store_true", help="one cycle (the only mode)")
    check_cmd.add_argument("--json", action="store_true", help="print the outcome as JSON")
    check_cmd.set_defaults(handler=_check)

    status_cmd = commands.add_parser("status", help="show the device's state (no network)")
    status_cmd.add_argument("--json", action="store_true", help="print JSON")
    status_cmd.set_defaults(handler=_status)

    bundle_cmd = commands.add_parser("install-bundle", help="install from an offline bundle")
    bundle_cmd.add_argument("file", type=Path, help="the bundle (.tar)")
    bundle_cmd.add_argument("--json", action="store_true", help="print the outcome as JSON")
    bundle_cmd.set_defaults(handler=_install_bundle)
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("seconds must not be negative")
    return value


def _state_dir(args: argparse.Namespace) -> Path:
    return resolve_state_dir(args.state_dir)


def _device_dir(args: argparse.Namespace) -> Path | None:
    chosen = args.device_dir or os.environ.get(DEVICE_DIR_ENV)
    return Path(chosen) if chosen else None


def _open(args: argparse.Namespace) -> Agent:
    return Agent.open(_state_dir(args), _device_dir(args))


def _enroll(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError(f"an enrollment token is needed: --token or {TOKEN_ENV}")
    layout = StateLayout(_state_dir(args))
    if layout.is_enrolled() and not args.force:
        raise AlreadyEnrolledError(f"{layout.root} is enrolled already; pass --force")
    device_dir = (_device_dir(args) or layout.default_device_dir()).absolute()
    _ensure_device(device_dir, args)
    config = enroll(
        args.server,
        token,
        layout.root,
        device_dir,
        force=args.force,
        poll_interval=args.poll_interval,
        poll_jitter=args.poll_jitter,
    )
    print(f"enrolled as {config.device_id} ({config.model} rev {config.hardware_revision})")
    return EXIT_OK


def _ensure_device(root: Path, args: argparse.Namespace) -> None:
    """Create the file-backed device from the factory image unless it exists."""
    if (root / "boot" / "bootenv").is_file():
        return
    initial = (args.initial_image, args.initial_version, args.initial_version_number)
    if any(value is None for value in initial):
        raise UsageError(
            f"no device at {root}: give --initial-image, --initial-version and "
            "--initial-version-number to create it"
        )
    if not args.initial_image.is_file():
        raise UsageError(f"initial image {args.initial_image} is not a file")
    SimulatedDevice.create(
        root,
        image=args.initial_image,
        version=args.initial_version,
        version_number=args.initial_version_number,
    )


def _run(args: argparse.Namespace) -> int:
    agent = _open(args)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: stopping after the current cycle", signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        LOG.info("agent %s running (state %s)", agent.config.device_id, agent.layout.root)
        agent.run_forever(stop, interval=args.interval, jitter=args.jitter)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    LOG.info("agent stopped")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    return _print_outcome(_open(args).check_once(), args.json)


def _install_bundle(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise UsageError(f"bundle {args.file} is not a file")
    return _print_outcome(_open(args).install_bundle(args.file), args.json)


def _print_outcome(outcome: CheckOutcome, as_json: bool) -> int:
    if as_json:
        print(json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
    else:
        print(f"{outcome.action.value}: {outcome.detail or ''}".rstrip(": "))
        if outcome.reports_pending:
            print(f"{outcome.reports_pending} report(s) waiting for delivery")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _status(args: argparse.Namespace) -> int:
    status = _open(args).status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return EXIT_OK
    running = status["running"]
    lines: list[tuple[str, Any]] = [
        ("device", f"{status['device_id']} ({status['model']} rev {status['hardware_revision']})"),
        ("server", status["server_url"]),
        ("running", f"slot {running['slot']}, version {running['version']}"),
        ("install", "none" if status["install"] is None else status["install"]["phase"]),
        ("pending reports", status["pending_reports"]),
        ("last check", f"{status['last_check']['time']} {status['last_check']['action']}"),
    ]
    for label, value in lines:
        print(f"{label + ':':17}{value}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
