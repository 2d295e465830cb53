"""Fleet-simulator throughput: what one virtual device costs, to size ``medfleet demo``.

A fresh data directory (embedded SQLite) is initialised as ``medfleet init`` does, with one
hospital, a device model in the catalogue and its delegation in the image repository, and
release 1 signed. The real server runs under uvicorn in this process (``SimServer``). For each
worker count asked for, a new fleet of N virtual devices (``FleetSimulator``) then:

1. registers (HTTP, as a fleet operator) and enrolls (HTTP) every device — *enroll*;
2. runs its first round: every device checks, finds nothing to install and sends its first
   signed report — *first round*;
3. runs an idle round: every poll is a ``304`` — *idle round*;
4. release 2 (signed once, before the first fleet) is assigned to every device through the
   director — *assign* (server side: one signed director repository update per device);
5. runs the install round: poll, TUF refresh of both repositories, delta download, A/B
   install with trial reboot, health check, commit, signed report — *install round*;
6. runs one more round to confirm nothing is left to do, and checks every device is settled
   on release 2 and that the server attests it.

Each phase's wall-clock seconds per device are reported. Progress goes to stderr; the last
stdout line is one JSON object.

    python bench/sim.py                  # 50 devices, workers 1, 2 and 4, 300 kB images
    python bench/sim.py --quick          # 20 devices, workers 4
    python bench/sim.py --devices 200 --workers 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medfleet.accounts import service as accounts
from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import OrgKind, Role
from medfleet.accounts.service import NewUser
from medfleet.agent.contract import ImageInfo, Instruction
from medfleet.bootstrap import RootSetup, initialise
from medfleet.config import load_settings
from medfleet.db.engine import transaction
from medfleet.fleet import catalog
from medfleet.runtime import Runtime
from medfleet.signing.release_signing import ReleaseToSign, SignedRelease, sign_release
from medfleet.signing.tuf_api import Signer
from medfleet.sim.api import ApiClient
from medfleet.sim.clock import SimClock
from medfleet.sim.device import DeviceSpec, FactoryImage
from medfleet.sim.faults import FaultProfile, fault_mix
from medfleet.sim.fleet import FleetSimulator
from medfleet.sim.server import SimServer

PASSWORD = "bench password 123"  # noqa: S105 - a throw-away deployment
MODEL, REVISION = "IP-100", "B"


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/sim] {message}", file=sys.stderr, flush=True)


def firmware(number: int, size: int) -> bytes:
    """Release ``number``'s image: shared bytes with a marker, so deltas are small."""
    body = bytearray(hashlib.shake_256(b"IP-100 firmware").digest(size))
    body[number * 100 : number * 100 + 16] = b"release %8d" % number
    return bytes(body)


class Deployment:
    """The initialised data directory, its hospital and the model's signing key."""

    def __init__(self, root: Path, image_bytes: int) -> None:
        self.root = root
        self.image_bytes = image_bytes
        self.clock = SimClock.at_real_time()
        settings = load_settings(root / "data", argon2_time_cost=1, argon2_memory_kib=64)
        self.runtime = Runtime(settings, clock=self.clock)
        rt = self.runtime
        initialise(
            rt, "Bench Medical", "admin", "Bench Admin", PASSWORD, RootSetup([PASSWORD], 1, False)
        )
        admin = authenticate(rt, "admin", PASSWORD)
        with transaction(rt.sessions) as s:
            hospital = accounts.create_organization(
                s, rt.audit, admin, "Bench Hospital", OrgKind.HOSPITAL
            )
            self.hospital = hospital.id
            self.site = accounts.create_site(
                s, rt.audit, admin, hospital.id, "Main", "Europe/Berlin"
            ).id
            accounts.create_user(
                s, rt.audit, rt.passwords, admin, admin.org_id,
                NewUser("ops", "Olga Operations", PASSWORD, frozenset({Role.FLEET_OPERATOR})),
            )  # fmt: skip
            if catalog.find_model(s, MODEL) is None:
                catalog.register_model(s, rt.audit, admin, name=MODEL, display_name="Pump")
                catalog.add_hardware_revision(s, rt.audit, admin, MODEL, REVISION)
        keys = rt.distribution.keys
        qa_key = keys.generate_user_key("qa", PASSWORD)
        self.qa: Signer = keys.unlock_user_key("qa", PASSWORD)
        targets = keys.unlock_user_key("admin", PASSWORD)
        rt.distribution.image.add_model(
            MODEL, [qa_key], 1, targets_signers=[targets], model_signers=[self.qa]
        )
        self.factory = root / "factory.img"
        self.factory.write_bytes(firmware(1, image_bytes))

    def release(self, number: int) -> SignedRelease:
        """Sign release ``number`` into the image repository (with a delta from the last)."""
        distribution = self.runtime.distribution
        blob = distribution.blobs.put_bytes(firmware(number, self.image_bytes))
        info = ImageInfo(f"R-{number}", MODEL, (REVISION,), f"4.{number}.0", number)
        return sign_release(
            distribution, ReleaseToSign(blob.sha256, f"ip100-{number}.img", info), [self.qa]
        )

    def assign(self, device_ids: list[str], signed: SignedRelease) -> None:
        """Tell each device through the director to install ``signed`` (delta when there is one)."""
        info = ImageInfo.from_custom(signed.image.custom)
        delta = signed.deltas[0].path if signed.deltas else None
        for device_id in device_ids:
            self.runtime.distribution.director.assign(
                device_id, signed.image_path, signed.image.length, signed.image.hashes,
                Instruction(device_id, info.release_id, info.version_number, delta),
            )  # fmt: skip


def per_device(seconds: float, devices: int) -> float:
    """Seconds per device, rounded for the JSON line."""
    return round(seconds / devices, 4)


def run_fleet(
    deployment: Deployment,
    server: SimServer,
    signed: SignedRelease,
    workers: int,
    devices: int,
    share_fetcher: bool,
    faults: bool,
) -> dict[str, Any]:
    """Steps 1-6 of the module docstring for one worker count."""
    operator = ApiClient.login(server.url, "ops", PASSWORD)
    image = FactoryImage(deployment.factory, "4.1.0", 1)
    root = deployment.root / f"fleet-w{workers}"
    prefix = f"W{workers}-"
    profiles = (
        fault_mix(
            devices, clinical=0.1, health_failing=0.05, power_loss=0.05, failing_version="4.2.0"
        )
        if faults
        else [FaultProfile()] * devices
    )
    specs = [
        DeviceSpec(f"{prefix}{n:05d}", deployment.hospital, deployment.site, faults=profile)
        for n, profile in enumerate(profiles)
    ]
    with FleetSimulator(
        server.url,
        root,
        deployment.clock,
        operator,
        image,
        workers=workers,
        share_fetcher=share_fetcher,
    ) as fleet:
        started = time.perf_counter()
        fleet.add_devices(specs)
        enroll_s = time.perf_counter() - started
        first = fleet.run_round()
        idle = fleet.run_round()
        started = time.perf_counter()
        deployment.assign([d.device_id or "" for d in fleet.devices], signed)
        assign_s = time.perf_counter() - started
        install = fleet.run_round()
        after = fleet.run_round()
        settle = fleet.run_until_quiet(5)
        fleet.release_clinical()
        released = fleet.run_round()
        summary = fleet.summary()
        mismatches = fleet.attestation_mismatches()
    shutil.rmtree(root, ignore_errors=True)
    result = {
        "workers": workers,
        "devices": devices,
        "enroll_s_per_device": per_device(enroll_s, devices),
        "first_round_s_per_device": per_device(first.seconds, devices),
        "idle_round_s_per_device": per_device(idle.seconds, devices),
        "assign_s_per_device": per_device(assign_s, devices),
        "install_round_s_per_device": per_device(install.seconds, devices),
        "after_round_s_per_device": per_device(after.seconds, devices),
        "counts": {
            "first": first.counts,
            "idle": idle.counts,
            "install": install.counts,
            "after": after.counts,
            "released": released.counts,
        },
        "settle_rounds": len(settle),
        "on_new_version": summary["by_version"],
        "unsettled": len(summary["unsettled"]),  # type: ignore[arg-type]
        "attestation_mismatches": len(mismatches),
    }
    log(json.dumps(result))
    return result


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Set up once, then one fleet per worker count."""
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="medfleet-sim-", dir=args.workdir))
    deployment = Deployment(root, int(args.image_kb * 1000))
    deployment.release(1)
    signed = deployment.release(2)
    results = []
    with SimServer(deployment.runtime) as server:
        log(f"server at {server.url}; {args.devices} devices per fleet")
        for workers in args.workers:
            results.append(
                run_fleet(
                    deployment,
                    server,
                    signed,
                    workers,
                    args.devices,
                    args.share_fetcher,
                    args.faults,
                )
            )
    deployment.runtime.close()
    shutil.rmtree(root, ignore_errors=True)
    ok = all(r["unsettled"] == 0 and r["attestation_mismatches"] == 0 for r in results)
    return {
        "bench": "sim",
        "ok": ok,
        "devices": args.devices,
        "image_kb": args.image_kb,
        "shared_fetcher": args.share_fetcher,
        "faults": args.faults,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "fleets": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 devices, 4 workers")
    parser.add_argument("--devices", type=int, help="devices per fleet (default 50)")
    parser.add_argument("--workers", help="comma-separated worker counts (default 1,2,4)")
    parser.add_argument("--image-kb", type=float, default=300.0, help="image size in kB")
    parser.add_argument("--workdir", help="where to make the temporary directory")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="10%% clinical use (released at the end), 5%% failing self-test, 5%% power loss",
    )
    parser.add_argument(
        "--fetcher-per-check",
        dest="share_fetcher",
        action="store_false",
        help="let every TUF refresh make its own fetcher (the agent's default)",
    )
    args = parser.parse_args()
    args.devices = args.devices or (20 if args.quick else 50)
    args.workers = [int(w) for w in (args.workers or ("4" if args.quick else "1,2,4")).split(",")]
    result = bench(args)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
