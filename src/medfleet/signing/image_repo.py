"""The image repository: the manufacturer's released images as a standard TUF repository.

Layout (``medfleet.agent.contract``): metadata in ``<public-dir>/repo/image/metadata/``, target
files in ``<public-dir>/repo/image/targets/<model>/<sha256>.<filename>``. The top-level targets
role delegates each device model to its own role ``model-<model>`` (paths ``<model>/*`` and
``<model>/deltas/*``), signed by QA/RA users' targets keys; snapshot and timestamp are signed
with online keys. Any TUF client (python-tuf's ``ngclient.Updater`` included) can consume it.

Guarantees:

- a target is written only with signatures that reach its role's threshold, so nothing that
  was not signed by the release authority can appear in targets metadata;
- an image's ``version_number`` is above every image already published for its model
  (anti-rollback), and a published path never changes content;
- every write is atomic and ordered (target file, role, snapshot, timestamp), and the
  operations of concurrent processes are serialised by a lock on the metadata directory.

Publishing lives in ``medfleet.signing.image_publish``, key rotation in
``medfleet.signing.image_keys``, re-signing before expiry in ``medfleet.signing.image_refresh``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from medfleet.agent.contract import (
    ContractError,
    model_role,
)
from medfleet.clock import Clock
from medfleet.signing.errors import (
    ModelExistsError,
    RepositoryExistsError,
    SigningInputError,
    UnknownModelError,
)
from medfleet.signing.files import locked
from medfleet.signing.keys import KeyStore
from medfleet.signing.layout import image_metadata_dir, image_targets_dir
from medfleet.signing.tuf_api import (
    DelegatedRole,
    Delegations,
    Key,
    Metadata,
    Root,
    Signer,
    TargetFile,
    Targets,
)
from medfleet.signing.tufrepo import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    Chain,
    Lifetimes,
    MetadataDir,
    bump,
    check_threshold_value,
    commit,
    load_chain,
    load_targets,
    require_signers,
    require_threshold,
    sign,
    sign_root,
)

# Root and targets are signed by people (offline or per-user keys): a year, renewed by hand.
# Snapshot and timestamp are online: short, so a frozen or replayed repository is noticed fast.
IMAGE_LIFETIMES = Lifetimes(
    root=timedelta(days=365),
    targets=timedelta(days=365),
    snapshot=timedelta(days=7),
    timestamp=timedelta(days=1),
)
MODEL_ROLE_LIFETIME = timedelta(days=365)
# The roles the server signs unattended.
IMAGE_ONLINE_ROLES = (SNAPSHOT, TIMESTAMP)
# Deltas live one level down: TUF path patterns match one path segment per "*".
DELTAS = "deltas"


def signers_for(keyids: Sequence[str], signers: Sequence[Signer]) -> list[Signer]:
    """Those of ``signers`` whose key a role lists (other signatures would be noise)."""
    return [signer for signer in signers if signer.public_key.keyid in keyids]


def model_role_name(model: str) -> str:
    """The delegated role of ``model`` (``model-<model>``).

    Raises:
        SigningInputError: ``model`` is not a safe name.
    """
    try:
        return model_role(model)
    except ContractError as exc:
        raise SigningInputError(str(exc)) from exc


class ImageRepository:
    """One image repository on disk; every method re-reads the current state from disk."""

    def __init__(self, public_dir: Path, keys: KeyStore, clock: Clock) -> None:
        self.metadata = MetadataDir(image_metadata_dir(public_dir))
        self.targets_dir = image_targets_dir(public_dir)
        self.keys = keys
        self.clock = clock

    @classmethod
    def create(
        cls,
        public_dir: Path,
        keys: KeyStore,
        clock: Clock,
        *,
        root_keys: Sequence[Key],
        root_threshold: int,
        root_signers: Sequence[Signer],
        targets_keys: Sequence[Key],
        targets_threshold: int,
        targets_signers: Sequence[Signer],
    ) -> ImageRepository:
        """Create version 1 of every role; snapshot and timestamp get new online keys.

        Raises:
            RepositoryExistsError: the repository already exists.
            SigningInputError: a threshold is not between 1 and its number of keys.
            InsufficientSignaturesError: the signers do not reach the root or targets threshold.
        """
        repo = cls(public_dir, keys, clock)
        check_threshold_value(root_threshold, len(root_keys), ROOT)
        check_threshold_value(targets_threshold, len(targets_keys), TARGETS)
        require_signers(ROOT, [k.keyid for k in root_keys], root_threshold, root_signers)
        targets_keyids = [k.keyid for k in targets_keys]
        require_signers(TARGETS, targets_keyids, targets_threshold, targets_signers)
        with repo.lock():
            if repo.metadata.exists():
                raise RepositoryExistsError(f"an image repository exists in {repo.metadata.path}")
            now = clock.now()
            root = Root(expires=now + IMAGE_LIFETIMES.root, consistent_snapshot=True)
            for role, role_keys, threshold in (
                (ROOT, root_keys, root_threshold),
                (TARGETS, targets_keys, targets_threshold),
                (SNAPSHOT, [keys.generate_online_key().public_key], 1),
                (TIMESTAMP, [keys.generate_online_key().public_key], 1),
            ):
                for key in role_keys:
                    root.add_key(key, role)
                root.roles[role].threshold = threshold
            root_metadata = sign_root(None, root, root_signers)
            targets = Targets(
                expires=now + IMAGE_LIFETIMES.targets,
                delegations=Delegations(keys={}, roles={}),
            )
            targets_metadata = sign(targets, signers_for(targets_keyids, targets_signers))
            require_threshold(root, TARGETS, targets_metadata)
            repo.metadata.write_root(root_metadata)
            repo.commit(root_metadata, None, {TARGETS: targets_metadata})
        return repo

    # --- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        """True once the repository has been created."""
        return self.metadata.exists()

    def chain(self) -> Chain:
        """The current root, timestamp and snapshot.

        Raises:
            RepositoryNotFoundError: the repository was not created.
        """
        return load_chain(self.metadata, self.metadata.latest_root())

    def root_bytes(self, version: int = 1) -> bytes:
        """The exact bytes of ``N.root.json`` (version 1 is what devices are enrolled with).

        Raises:
            RepositoryNotFoundError: no such root version.
        """
        return self.metadata.read_bytes(f"{version}.root.json")

    def role(self, chain: Chain, role: str) -> Metadata[Targets] | None:
        """The current metadata of a targets role, or None if the snapshot does not list it."""
        if f"{role}.json" not in chain.snapshot.signed.meta:
            return None
        return load_targets(self.metadata, chain, role)

    def top_targets(self, chain: Chain) -> Metadata[Targets]:
        """The current top-level targets metadata."""
        return load_targets(self.metadata, chain, TARGETS)

    def models(self) -> list[str]:
        """Every device model with a delegated role, in delegation order."""
        delegations = self.top_targets(self.chain()).signed.delegations
        roles = delegations.roles if delegations and delegations.roles else {}
        return [name.removeprefix("model-") for name in roles]

    def model_targets(self, model: str) -> dict[str, TargetFile]:
        """Every target (images and deltas) published for ``model``, by path.

        Raises:
            UnknownModelError: the model has no delegated role.
        """
        chain = self.chain()
        role = model_role_name(model)
        self.delegation(self.top_targets(chain).signed, role)
        metadata = self.role(chain, role)
        return dict(metadata.signed.targets) if metadata else {}

    def image_target(self, target_path: str) -> TargetFile | None:
        """The target at ``target_path`` in its model's role now, or None.

        This is what the director checks an assignment against (``director.ImageTargets``).
        """
        model = target_path.split("/", 1)[0]
        try:
            targets = self.model_targets(model)
        except (SigningInputError, UnknownModelError):
            return None
        return targets.get(target_path)

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise writers of this repository (across processes) for the ``with`` block."""
        with locked(self.metadata.path):
            yield

    def commit(
        self,
        root: Metadata[Root],
        previous: Chain | None,
        new_targets: dict[str, Metadata[Targets]],
        *,
        resign_snapshot: bool = False,
    ) -> Chain:
        """Write signed targets roles, then snapshot and timestamp (see ``tufrepo.commit``)."""
        return commit(
            self.metadata,
            root,
            previous,
            new_targets,
            self.keys,
            self.clock.now(),
            IMAGE_LIFETIMES,
            resign_snapshot=resign_snapshot,
        )

    def add_model(
        self,
        model: str,
        keys: Sequence[Key],
        threshold: int,
        *,
        targets_signers: Sequence[Signer],
        model_signers: Sequence[Signer],
    ) -> None:
        """Delegate ``model``'s paths to a new role signed by ``keys``, with no target yet.

        One commit writes the top-level targets update (signed by ``targets_signers``) and
        version 1 of the empty model role (signed by ``model_signers``, holders of ``keys``),
        so clients never see a delegation without its role.

        Raises:
            SigningInputError: bad model name or threshold.
            ModelExistsError: the model already has a role.
            InsufficientSignaturesError: a threshold is not reached (nothing is written).
        """
        role = model_role_name(model)
        check_threshold_value(threshold, len(keys), role)
        with self.lock():
            chain = self.chain()
            now = self.clock.now()
            targets = bump(self.top_targets(chain).signed, now, IMAGE_LIFETIMES.targets)
            old = targets.delegations
            roles = old.roles if old is not None and old.roles is not None else {}
            if role in roles:
                raise ModelExistsError(f"model {model!r} already has role {role!r}")
            paths = [f"{model}/*", f"{model}/{DELTAS}/*"]
            roles[role] = DelegatedRole(role, [], threshold, True, paths)
            targets.delegations = Delegations(keys=old.keys if old else {}, roles=roles)
            for key in keys:
                targets.add_key(key, role)
            signed_targets = self.sign_top_targets(chain, targets, targets_signers)
            empty = Targets(expires=now + MODEL_ROLE_LIFETIME, targets={})
            signed_role = sign(empty, signers_for(roles[role].keyids, model_signers))
            require_threshold(targets, role, signed_role)
            self.commit(chain.root, chain, {TARGETS: signed_targets, role: signed_role})

    def sign_top_targets(
        self, chain: Chain, targets: Targets, signers: Sequence[Signer]
    ) -> Metadata[Targets]:
        """Top-level targets signed by those of ``signers`` the root lists, threshold checked.

        Raises:
            InsufficientSignaturesError: the threshold is not reached.
        """
        keyids = chain.root.signed.roles[TARGETS].keyids
        metadata = sign(targets, signers_for(keyids, signers))
        require_threshold(chain.root.signed, TARGETS, metadata)
        return metadata

    def delegation(self, targets: Targets, role: str) -> DelegatedRole:
        """The delegation of ``role`` in ``targets``.

        Raises:
            UnknownModelError: ``targets`` does not delegate to ``role``.
        """
        roles = targets.delegations.roles if targets.delegations else None
        if not roles or role not in roles:
            raise UnknownModelError(f"no delegated role {role!r}; add the model first")
        return roles[role]
