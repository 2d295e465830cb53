"""The agent's on-disk state: one directory holds everything a device keeps between runs.

Layout under the state directory (default ``/var/lib/medfleet-agent``, ``--state-dir`` or
``MEDFLEET_AGENT_STATE_DIR``)::

    agent.json            the enrollment: server, device, repository and report URLs, polling
    trust/image-root.json, trust/director-root.json   the roots delivered at enrollment
    identity/             the device's Ed25519 key (``medfleet.agent.identity``)
    metadata/             python-tuf's trusted metadata caches (``Repositories.state_dir``)
    install/              the installer's state (``install.json``, its own downloads)
    outbox/               signed reports waiting for acknowledgement
    downloads/            deltas and bundle files being worked on
    poll.json             the poll state: ETag, last full check, last outcome, report dedup

Guarantees: ``agent.json`` is written last at enrollment and atomically (temp file, fsync,
rename), so its presence means the device is enrolled and every file it depends on exists;
every state file here is written atomically; a missing enrollment is a ``NotEnrolledError``
and an unreadable or inconsistent one a ``ConfigError``, each with one actionable sentence.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from medfleet.agent.atomic import read_json, write_bytes_atomic, write_json_atomic
from medfleet.agent.contract import ContractError, check_name
from medfleet.agent.decision import DeviceIdentity, Repositories
from medfleet.agent.errors import AgentError, StateCorruptError

DEFAULT_STATE_DIR = Path("/var/lib/medfleet-agent")
STATE_DIR_ENV = "MEDFLEET_AGENT_STATE_DIR"
DEVICE_DIR_ENV = "MEDFLEET_AGENT_DEVICE_DIR"
CONFIG_FILE = "agent.json"
POLL_FILE = "poll.json"
CONFIG_FORMAT = 1
DEFAULT_POLL_INTERVAL = 300.0
DEFAULT_POLL_JITTER = 60.0
# The last path segment of ``repository_url``: the directory holding ``image/`` and ``director/``.
REPOSITORY_DIR_NAME = "repo"


class ConfigError(AgentError):
    """The agent's configuration is unusable (bad option, unreadable or inconsistent file)."""


class NotEnrolledError(ConfigError):
    """The state directory holds no enrollment: run ``medfleet-agent enroll`` first."""


def resolve_state_dir(option: str | Path | None) -> Path:
    """The state directory: the option, else ``MEDFLEET_AGENT_STATE_DIR``, else the default."""
    if option:
        return Path(option)
    from_env = os.environ.get(STATE_DIR_ENV)
    return Path(from_env) if from_env else DEFAULT_STATE_DIR


def check_http_url(kind: str, url: str) -> str:
    """``url`` if it is an absolute ``http``/``https`` URL with a host.

    Raises:
        ConfigError: anything else.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{kind} {url!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ConfigError(f"{kind} {url!r} must not carry a query, fragment or spaces")
    return url


def repository_base_url(repository_url: str) -> str:
    """The base URL ``medfleet.agent.contract`` builds on, from the URL of the ``repo/`` tree.

    ``https://h/repo/`` gives ``https://h/`` (the contract appends ``repo/image/...``).

    Raises:
        ConfigError: the URL does not name a ``repo/`` directory.
    """
    parts = urlsplit(check_http_url("repository URL", repository_url))
    head, _, last = parts.path.rstrip("/").rpartition("/")
    if last != REPOSITORY_DIR_NAME:
        raise ConfigError(
            f"repository URL {repository_url!r} must end with /{REPOSITORY_DIR_NAME}/"
        )
    return urlunsplit((parts.scheme, parts.netloc, head + "/", "", ""))


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """What enrollment established (``agent.json``); URLs are absolute."""

    server_url: str
    device_id: str
    model: str
    hardware_revision: str
    repository_url: str
    reports_url: str
    poll_interval: float = DEFAULT_POLL_INTERVAL
    poll_jitter: float = DEFAULT_POLL_JITTER
    device_dir: str | None = None
    enrolled_at: str | None = None

    def __post_init__(self) -> None:
        try:
            check_name("device id", self.device_id)
            check_name("model", self.model)
        except ContractError as error:
            raise ConfigError(str(error)) from error
        if not self.hardware_revision or len(self.hardware_revision) > 64:
            raise ConfigError("hardware revision must be 1-64 characters")
        check_http_url("server URL", self.server_url)
        check_http_url("reports URL", self.reports_url)
        repository_base_url(self.repository_url)
        if not (self.poll_interval > 0 and self.poll_jitter >= 0):
            raise ConfigError("poll interval must be > 0 and jitter >= 0 seconds")

    @property
    def identity(self) -> DeviceIdentity:
        """Who the device is, for the update decision."""
        return DeviceIdentity(self.device_id, self.model, self.hardware_revision)

    @property
    def repository_base(self) -> str:
        """``Repositories.base_url``: the URL under which ``repo/…`` lives."""
        return repository_base_url(self.repository_url)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``agent.json``."""
        return {"format": CONFIG_FORMAT} | asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> AgentConfig:
        """Parse ``to_dict`` output.

        Raises:
            ConfigError: a field is missing, mistyped or invalid.
        """
        if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
            raise ConfigError(f"{CONFIG_FILE} is not a format-{CONFIG_FORMAT} agent config")
        values: dict[str, Any] = {}
        for name in (
            "server_url",
            "device_id",
            "model",
            "hardware_revision",
            "repository_url",
            "reports_url",
        ):
            if not isinstance(data.get(name), str):
                raise ConfigError(f"{CONFIG_FILE}: {name!r} is missing or not text")
            values[name] = data[name]
        for name in ("poll_interval", "poll_jitter"):
            number = data.get(name)
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ConfigError(f"{CONFIG_FILE}: {name!r} is not a number")
            values[name] = float(number)
        for name in ("device_dir", "enrolled_at"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ConfigError(f"{CONFIG_FILE}: {name!r} is not text")
            values[name] = data.get(name)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PollState:
    """What the run loop remembers between cycles (``poll.json``).

    ``etag`` is stored only after a full check that reached the repositories, so a 304 never
    hides a check that failed. ``last_report_key`` / ``last_rejection`` keep the agent from
    reporting the same install state or the same rejection twice; ``last_clinical_use`` is
    the clinical-use state the last queued report stated (None: none stated it yet).
    """

    etag: str | None = None
    last_full_check: datetime | None = None
    last_check: datetime | None = None
    last_action: str | None = None
    last_detail: str | None = None
    last_report_key: str | None = None
    last_rejection: str | None = None
    reports_refused: int = 0
    last_refusal: str | None = None
    last_clinical_use: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        for name in ("last_full_check", "last_check"):
            value = getattr(self, name)
            data[name] = None if value is None else value.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> PollState:
        """Parse ``to_dict`` output; unknown keys are ignored.

        Raises:
            StateCorruptError: a field is mistyped.
        """
        if not isinstance(data, dict):
            raise StateCorruptError(f"{POLL_FILE} is not an object")
        values: dict[str, Any] = {}
        try:
            for name in ("last_full_check", "last_check"):
                if data.get(name) is not None:
                    values[name] = datetime.fromisoformat(data[name])
            texts = ("etag", "last_action", "last_detail", "last_report_key", "last_rejection")
            for name in (*texts, "last_refusal"):
                value = data.get(name)
                if value is not None and not isinstance(value, str):
                    raise TypeError(f"{name} is not text")
                values[name] = value
            refused = data.get("reports_refused", 0)
            if not isinstance(refused, int) or isinstance(refused, bool):
                raise TypeError("reports_refused is not an integer")
            in_use = data.get("last_clinical_use")
            if in_use is not None and not isinstance(in_use, bool):
                raise TypeError("last_clinical_use is not a boolean")
            values["last_clinical_use"] = in_use
        except (TypeError, ValueError) as error:
            raise StateCorruptError(f"{POLL_FILE} is invalid: {error}") from error
        return cls(reports_refused=refused, **values)


@dataclass(frozen=True, slots=True)
class StateLayout:
    """The paths under one state directory (see the module docstring); nothing is read here."""

    root: Path

    @property
    def config_file(self) -> Path:
        """``agent.json``."""
        return self.root / CONFIG_FILE

    @property
    def trust_dir(self) -> Path:
        """The trusted roots from enrollment."""
        return self.root / "trust"

    @property
    def image_root_file(self) -> Path:
        """The image repository's root, exactly as delivered."""
        return self.trust_dir / "image-root.json"

    @property
    def director_root_file(self) -> Path:
        """The director's root, exactly as delivered."""
        return self.trust_dir / "director-root.json"

    @property
    def identity_dir(self) -> Path:
        """The device key's directory."""
        return self.root / "identity"

    @property
    def metadata_dir(self) -> Path:
        """python-tuf's metadata caches (``Repositories.state_dir``)."""
        return self.root / "metadata"

    @property
    def installer_dir(self) -> Path:
        """The installer's state directory."""
        return self.root / "install"

    @property
    def outbox_dir(self) -> Path:
        """The report outbox."""
        return self.root / "outbox"

    @property
    def downloads_dir(self) -> Path:
        """Deltas, patched images and bundle files in progress."""
        return self.root / "downloads"

    @property
    def poll_file(self) -> Path:
        """``poll.json``."""
        return self.root / POLL_FILE

    def default_device_dir(self) -> Path:
        """Where the file-backed device lives unless configured otherwise."""
        return self.root / "device"

    def ensure(self) -> None:
        """Create the state directory and its subdirectories (mode 0700 where new)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (self.trust_dir, self.metadata_dir, self.installer_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
        for directory in (self.outbox_dir, self.downloads_dir):
            directory.mkdir(mode=0o700, exist_ok=True)

    def is_enrolled(self) -> bool:
        """True when ``agent.json`` exists."""
        return self.config_file.exists()

    def load_config(self) -> AgentConfig:
        """The enrollment.

        Raises:
            NotEnrolledError: no ``agent.json``.
            ConfigError: it is unreadable or invalid, or a trusted root is missing.
        """
        try:
            data = read_json(self.config_file)
        except StateCorruptError as error:
            raise ConfigError(str(error)) from error
        except OSError as error:
            raise ConfigError(f"cannot read {self.config_file}: {error}") from error
        if data is None:
            raise NotEnrolledError(
                f"not enrolled: no {self.config_file} (run 'medfleet-agent enroll' first)"
            )
        config = AgentConfig.from_dict(data)
        for root in (self.image_root_file, self.director_root_file):
            if not root.is_file():
                raise ConfigError(f"trusted root {root} is missing; enroll again with --force")
        return config

    def save_config(self, config: AgentConfig) -> None:
        """Write ``agent.json`` atomically (the commit point of an enrollment)."""
        write_json_atomic(self.config_file, config.to_dict())

    def save_roots(self, image_root: bytes, director_root: bytes) -> None:
        """Write both trusted roots atomically, byte for byte."""
        self.trust_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_bytes_atomic(self.image_root_file, image_root)
        write_bytes_atomic(self.director_root_file, director_root)

    def repositories(self, config: AgentConfig) -> Repositories:
        """Where the repositories are and the roots the device trusts.

        Raises:
            ConfigError: a trusted root cannot be read.
        """
        try:
            image_root = self.image_root_file.read_bytes()
            director_root = self.director_root_file.read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read the trusted roots: {error}") from error
        return Repositories(config.repository_base, self.metadata_dir, image_root, director_root)

    def load_poll_state(self) -> PollState:
        """The poll state (empty before the first check).

        Raises:
            StateCorruptError: the file exists but is invalid.
        """
        data = read_json(self.poll_file)
        return PollState() if data is None else PollState.from_dict(data)

    def save_poll_state(self, state: PollState) -> None:
        """Write ``poll.json`` atomically."""
        write_json_atomic(self.poll_file, state.to_dict())
