"""Synthetic SBOMs and advisories for ``bench/match.py``: seeded, realistic in shape. Untimed.

Software universe: ~10,000 package names (PyPI, npm, Debian, Maven and Go packages, plus C
libraries without a package manager, named ``pkg:generic/...`` with a CPE: openssl with its
real letter versions, the Linux kernel, busybox, zlib, curl, ...). Each name has a release
history of 8-30 versions; devices ship one of the last few.

SBOMs: ``sboms / 50`` product lines, each a set of ``per_sbom`` package names drawn by
popularity (Zipf-like; the C libraries are the most common), with 50 releases each whose
component versions move forward from release to release, as real firmware does. The pool of
distinct (package, version) pairs is what all SBOMs share.

Advisories: three quarters name packages of the universe (weighted by popularity), a quarter
packages no SBOM has. OSV-style ranges over a package's history (introduced / introduced "0",
fixed, sometimes last_affected, limit or a second range, sometimes an explicit versions list);
C libraries get NVD-style CPE rules (an explicit versions list, or a range with
introduced_after / last_affected) and often a purl rule as well.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from medfleet.vulns.matching import Component, Package, Rule, package_of
from medfleet.vulns.ranges import ranges_from_json

LINE_RELEASES = 50
C_LIBRARIES = (
    "zlib:zlib", "busybox:busybox", "haxx:curl", "xmlsoft:libxml2", "sqlite:sqlite",
    "libexpat_project:libexpat", "libpng:libpng", "libjpeg-turbo:libjpeg-turbo",
    "dropbear_ssh_project:dropbear_ssh", "arm:mbed_tls", "lwip_project:lwip", "amazon:freertos",
    "denx:u-boot", "gnu:glibc", "musl-libc:musl", "freedesktop:dbus", "systemd_project:systemd",
    "kernel:util-linux", "e2fsprogs_project:e2fsprogs", "libusb:libusb", "bluez:bluez",
    "w1.fi:wpa_supplicant", "w1.fi:hostapd", "openbsd:openssh", "gnu:ncurses", "gnu:readline",
    "pcre:pcre2", "libffi_project:libffi", "gnu:bash", "sudo_project:sudo", "gnupg:libgcrypt",
    "gnu:gnutls", "c-ares:c-ares", "nghttp2:nghttp2", "libarchive:libarchive", "tukaani:xz",
    "bzip:bzip2", "lz4_project:lz4", "facebook:zstandard", "jsoncpp_project:jsoncpp",
    "protobuf:protobuf", "eclipse:mosquitto", "qt:qt", "gnu:gcc", "llvm:compiler-rt",
    "wolfssl:wolfssl", "mdadm_project:mdadm", "iproute2_project:iproute2", "netfilter:iptables",
    "avahi:avahi", "ntp:ntp", "isc:dhcp", "thekelleys:dnsmasq", "tcpdump:libpcap",
    "tcpdump:tcpdump", "util-linux_project:util-linux", "libtiff:libtiff", "freetype:freetype",
)  # fmt: skip
OPENSSL_HISTORY = [
    f"{base}{letter}"
    for base, letters in (
        ("1.0.1", "abcdefghijklmnopqrstu"),
        ("1.0.2", "abcdefghijklmnopqrstu"),
        ("1.1.1", "abcdefghijklmnopqrstuvw"),
    )
    for letter in ("", *letters)
] + [f"3.0.{n}" for n in range(14)]
ECOSYSTEMS = (
    ("pypi", "PyPI", 3000),
    ("npm", "npm", 4000),
    ("deb", "Debian:11", 1500),
    ("maven", "Maven", 1000),
    ("golang", "Go", 500),
)


@dataclass
class Name:
    """One package of the universe: how SBOMs and advisories spell it, and its history."""

    purl_base: str  # "pkg:pypi/lib-12" (no version)
    ecosystem: str | None
    cpe_base: str | None  # "cpe:2.3:a:zlib:zlib" (no version)
    history: list[str]
    shipped: int  # the index of the first version devices ship
    pool_start: int = -1  # where its shipped versions start in the pool
    package_key: str | None = None  # as ``package_of`` computes it
    cpe_key: str | None = None


@dataclass
class Synthetic:
    """The universe, the pool of (package, version), the SBOMs and the advisory rules."""

    names: list[Name]
    pool: list[Package]
    pool_rows: list[tuple[str, str, str, str | None]]  # name, version, purl, cpe
    sboms: list[array[int]]
    rules: list[Rule]
    advisories: int

    def components(self) -> list[Component]:
        """Every SBOM's components: ids 1..N in SBOM order, release_pk = SBOM index + 1."""
        pool, out = self.pool, []
        next_id = 1
        for index, sbom in enumerate(self.sboms):
            release_pk = index + 1
            for entry in sbom:
                out.append(Component(next_id, release_pk, pool[entry]))
                next_id += 1
        return out


def _numeric_history(rng: random.Random, length: int, kind: str) -> list[str]:
    major, minor, patch = rng.randint(0, 4), rng.randint(0, 9), rng.randint(0, 5)
    versions = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.1:
            major, minor, patch = major + 1, 0, 0
        elif roll < 0.4:
            minor, patch = minor + 1, 0
        else:
            patch += rng.randint(1, 3)
        text = f"{major}.{minor}.{patch}"
        if kind == "golang":
            text = "v" + text
        elif kind == "deb":
            text = f"{text}-{rng.randint(1, 4)}" + (
                f"+deb11u{rng.randint(1, 12)}" if roll < 0.3 else ""
            )
        elif kind == "pypi" and roll > 0.93:
            text += ".post1"
        versions.append(text)
    return versions


def _universe(rng: random.Random) -> list[Name]:
    names = [Name("pkg:generic/openssl", None, "cpe:2.3:a:openssl:openssl", OPENSSL_HISTORY, 0)]
    names.append(
        Name(
            "pkg:generic/linux",
            None,
            "cpe:2.3:o:linux:linux_kernel",
            [f"5.10.{n}" for n in range(1, 200, 7)],
            0,
        )
    )
    for pair in C_LIBRARIES:
        product = pair.split(":")[1]
        names.append(
            Name(
                f"pkg:generic/{product}",
                None,
                f"cpe:2.3:a:{pair}",
                _numeric_history(rng, rng.randint(8, 30), "generic"),
                0,
            )
        )
    for kind, ecosystem, count in ECOSYSTEMS:
        for n in range(count):
            base = {
                "pypi": f"pkg:pypi/pylib-{n}",
                "npm": f"pkg:npm/%40scope{n % 50}/ui-{n}" if n % 4 == 0 else f"pkg:npm/js-{n}",
                "deb": f"pkg:deb/debian/libdeb{n}",
                "maven": f"pkg:maven/org.example{n % 60}/artifact-{n}",
                "golang": f"pkg:golang/github.com/org{n % 40}/mod{n}",
            }[kind]
            names.append(
                Name(base, ecosystem, None, _numeric_history(rng, rng.randint(8, 30), kind), 0)
            )
    rng.shuffle(names[len(C_LIBRARIES) + 2 :])
    for name in names:
        name.shipped = max(0, len(name.history) - rng.randint(3, 8))
    return names


def _purl(name: Name, version: str) -> str:
    qualifier = "?arch=armhf" if name.purl_base.startswith("pkg:deb/") else ""
    return f"{name.purl_base}@{version.replace('+', '%2B')}{qualifier}"


def _pool(names: list[Name]) -> tuple[list[Package], list[tuple[str, str, str, str | None]]]:
    """Every shipped (package, version); each name's keys come from ``package_of`` once."""
    pool: list[Package] = []
    rows: list[tuple[str, str, str, str | None]] = []
    for name in names:
        name.pool_start = len(pool)
        cpe_any = None if name.cpe_base is None else f"{name.cpe_base}:*"
        keys = package_of(purl=name.purl_base, cpe=cpe_any, version=None)
        name.package_key, name.cpe_key = keys.package_key, keys.cpe_key
        short = name.purl_base.rsplit("/", 1)[1]
        for version in name.history[name.shipped :]:
            cpe = None if name.cpe_base is None else f"{name.cpe_base}:{version}:*:*:*:*:*:*"
            cpe_version = None if keys.cpe_key is None else version
            pool.append(Package(keys.package_key, version, keys.cpe_key, cpe_version))
            rows.append((short, version, _purl(name, version), cpe))
    return pool, rows


def _sboms(rng: random.Random, names: list[Name], count: int, per_sbom: int) -> list[array[int]]:
    cumulative = list(accumulate(1.0 / (rank + 5) ** 0.9 for rank in range(len(names))))
    sboms: list[array[int]] = []
    for _line in range((count + LINE_RELEASES - 1) // LINE_RELEASES):
        chosen: set[int] = set()
        while len(chosen) < min(per_sbom, len(names)):
            missing = per_sbom - len(chosen)
            chosen.update(rng.choices(range(len(names)), cum_weights=cumulative, k=missing))
        members = sorted(chosen)
        starts = {m: rng.random() for m in members}
        speeds = {m: rng.random() for m in members}
        for release in range(LINE_RELEASES):
            if len(sboms) == count:
                break
            entries = array("I")
            for m in members:
                name = names[m]
                shipped = len(name.history) - name.shipped
                offset = int((starts[m] * 0.5 + speeds[m] * release / LINE_RELEASES) * shipped)
                entries.append(name.pool_start + min(shipped - 1, offset))
            sboms.append(entries)
    return sboms


def _osv_ranges(rng: random.Random, history: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    start = int(len(history) * rng.random() ** 1.6)  # most advisories concern older releases
    end = start + rng.randint(1, 4)
    events: list[dict[str, str]] = [{"introduced": "0" if rng.random() < 0.1 else history[start]}]
    roll = rng.random()
    if end < len(history):
        if roll < 0.15:
            events.append({"last_affected": history[end - 1]})
        else:
            events.append({"fixed": history[end]})
    if roll > 0.95 and end + 1 < len(history):
        events.append({"limit": history[end + 1]})
    ranges = [{"type": "ECOSYSTEM", "events": events}]
    if 0.9 < roll <= 0.95 and end + 3 < len(history):
        ranges.append(
            {
                "type": "ECOSYSTEM",
                "events": [{"introduced": history[end + 2]}, {"fixed": history[end + 3]}],
            }
        )
    listed = history[start:end] if 0.5 < roll < 0.6 else []
    return ranges, listed


def _nvd_ranges(rng: random.Random, history: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    start = int(len(history) * rng.random() ** 1.6)
    end = min(len(history), start + rng.randint(1, 5))
    if rng.random() < 0.5:
        return [], history[start:end]  # NVD lists affected CPEs one version at a time
    first = {"introduced_after": history[start - 1]} if start else {"introduced": history[0]}
    last = {"last_affected": history[end - 1]} if end == len(history) else {"fixed": history[end]}
    return [{"type": "ECOSYSTEM", "events": [first, last]}], []


def _rules(rng: random.Random, names: list[Name], count: int) -> list[Rule]:
    cumulative = list(accumulate(1.0 / (rank + 5) ** 0.3 for rank in range(len(names))))
    rules: list[Rule] = []
    for index in range(count):
        vid = index + 1
        key = f"CVE-{2015 + index % 10}-{10000 + index}"
        targets = 2 if rng.random() < 0.2 else 1
        for _ in range(targets):
            if rng.random() < 0.25:
                beyond = f"pkg:{rng.choice(['pypi', 'npm', 'maven'])}/absent-{index}"
                history = _numeric_history(rng, 12, "generic")
                name = Name(beyond, None, None, history, 0, package_key=beyond)
            else:
                name = rng.choices(names, cum_weights=cumulative)[0]
            if name.cpe_base is not None:
                ranges, listed = _nvd_ranges(rng, name.history)
                rules.append(
                    _rule(len(rules) + 1, vid, key, "NVD", None, name.cpe_key, None, ranges, listed)
                )
                if rng.random() < 0.5:
                    ranges, listed = _osv_ranges(rng, name.history)
                    rules.append(
                        _rule(
                            len(rules) + 1,
                            vid,
                            key,
                            "OSV",
                            name.package_key,
                            None,
                            None,
                            ranges,
                            listed,
                        )
                    )
                continue
            ranges, listed = _osv_ranges(rng, name.history)
            rules.append(
                _rule(
                    len(rules) + 1,
                    vid,
                    key,
                    "OSV",
                    name.package_key,
                    None,
                    name.ecosystem,
                    ranges,
                    listed,
                )
            )
    return rules


def _rule(
    rule_id: int,
    vid: int,
    key: str,
    source: str,
    package: str | None,
    cpe: str | None,
    ecosystem: str | None,
    ranges: list[dict[str, Any]],
    listed: list[str],
) -> Rule:
    """Advisory ``vid`` (advisory id = vulnerability id) naming one package or CPE."""
    label = f"{source} {key}"
    parsed = ranges_from_json(ranges)
    return Rule(rule_id, vid, key, vid, label, package, cpe, ecosystem, parsed, tuple(listed))


def synthesise(sboms: int, per_sbom: int, advisories: int, seed: int) -> Synthetic:
    """The whole synthetic data set (deterministic for a seed)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    names = _universe(rng)
    pool, rows = _pool(names)
    return Synthetic(
        names=names,
        pool=pool,
        pool_rows=rows,
        sboms=_sboms(rng, names, sboms, per_sbom),
        rules=_rules(rng, names, advisories),
        advisories=advisories,
    )
