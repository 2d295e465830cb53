"""A fleet as compact parallel columns, the input of campaign planning.

Two million devices as dataclass objects would cost gigabytes and seconds; as ``array``
columns they cost ~50 bytes a device. Row ``i`` of every column describes one device.
Models, hardware revisions and tags are stored as small indices into name tuples; tags as a
bit mask over ``tag_names`` (so list only the tags that a selection or policy names:
``relevant_tags``). An unknown installed version is ``UNKNOWN_VERSION`` (-1). ``FleetBuilder``
appends devices one at a time for callers that read rows from a database.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medfleet.rollouts.errors import InvalidPlanInputError
from medfleet.rollouts.policy import Policy
from medfleet.rollouts.selection import Selection, tag_mask

UNKNOWN_VERSION = -1
"""The version column's value for a device whose installed version is not known."""
NO_SITE = 0
"""The site column's value for a device not assigned to a site (no site accepts for it)."""
MAX_TAGS = 64


@dataclass(frozen=True, slots=True)
class FleetColumns:
    """Parallel columns, one row per device.

    ``device_pk``, ``org_id`` (hospital), ``site_id`` (``NO_SITE`` for none): ids; ``model`` and
    ``hardware_revision``: indices into ``model_names`` and ``revision_names``; ``version``:
    installed version number or ``UNKNOWN_VERSION``; ``is_test``: 1 for a site's test device;
    ``tags``: bit mask over ``tag_names``; ``previous_version`` (optional, rollback campaigns):
    the version each device ran before its current one, or ``UNKNOWN_VERSION``.

    Raises:
        InvalidPlanInputError: the columns differ in length, or more than 64 tag names.
    """

    device_pk: Sequence[int]
    org_id: Sequence[int]
    site_id: Sequence[int]
    model: Sequence[int]
    hardware_revision: Sequence[int]
    version: Sequence[int]
    is_test: Sequence[int]
    tags: Sequence[int]
    model_names: tuple[str, ...]
    revision_names: tuple[str, ...]
    tag_names: tuple[str, ...] = ()
    previous_version: Sequence[int] | None = None

    def __post_init__(self) -> None:
        size = len(self.device_pk)
        columns = {
            "org_id": self.org_id,
            "site_id": self.site_id,
            "model": self.model,
            "hardware_revision": self.hardware_revision,
            "version": self.version,
            "is_test": self.is_test,
            "tags": self.tags,
        }
        if self.previous_version is not None:
            columns["previous_version"] = self.previous_version
        uneven = [
            f"{name} ({len(column)})" for name, column in columns.items() if len(column) != size
        ]
        if uneven:
            raise InvalidPlanInputError(
                f"every fleet column needs {size} rows (one per device_pk); "
                f"different: {', '.join(uneven)}"
            )
        if len(self.tag_names) > MAX_TAGS:
            raise InvalidPlanInputError(
                f"at most {MAX_TAGS} tag names fit a tag mask, got {len(self.tag_names)}; "
                "pass only the tags the selection and policy name (relevant_tags)"
            )

    def __len__(self) -> int:
        return len(self.device_pk)


def relevant_tags(selection: Selection, policy: Policy) -> tuple[str, ...]:
    """The tags a plan looks at (the selection's and the phase groups'), sorted: the
    ``tag_names`` to build ``FleetColumns`` with."""
    return tuple(sorted(selection.tags | policy.group_tags()))


class FleetBuilder:
    """Builds ``FleetColumns`` one device at a time, interning model and revision names.

    Tags outside ``tag_names`` are ignored (they matter to no plan built with these names).
    """

    def __init__(self, tag_names: Iterable[str] = (), *, with_previous: bool = False) -> None:
        self._tag_names = tuple(tag_names)
        self._tag_bits = {tag: 1 << index for index, tag in enumerate(self._tag_names)}
        self._models: dict[str, int] = {}
        self._revisions: dict[str, int] = {}
        self._pk = array("q")
        self._org = array("q")
        self._site = array("q")
        self._model = array("h")
        self._revision = array("h")
        self._version = array("q")
        self._test = bytearray()
        self._tags = array("Q")
        self._previous: array[int] | None = array("q") if with_previous else None

    def add(
        self,
        device_pk: int,
        *,
        org_id: int,
        site_id: int | None,
        model: str,
        hardware_revision: str,
        version_number: int | None,
        is_test: bool = False,
        tags: Iterable[str] = (),
        previous_version_number: int | None = None,
    ) -> int:
        """Append one device; returns its row.

        Raises:
            InvalidPlanInputError: more than 32767 distinct models or revisions.
        """
        model_index = self._models.setdefault(model, len(self._models))
        revision_index = self._revisions.setdefault(hardware_revision, len(self._revisions))
        if max(model_index, revision_index) >= 2**15:
            raise InvalidPlanInputError("more than 32767 distinct models or revisions")
        self._pk.append(device_pk)
        self._org.append(org_id)
        self._site.append(NO_SITE if site_id is None else site_id)
        self._model.append(model_index)
        self._revision.append(revision_index)
        self._version.append(UNKNOWN_VERSION if version_number is None else version_number)
        self._test.append(1 if is_test else 0)
        bits = self._tag_bits
        self._tags.append(sum(bits.get(tag, 0) for tag in set(tags)))
        if self._previous is not None:
            previous = previous_version_number
            self._previous.append(UNKNOWN_VERSION if previous is None else previous)
        return len(self._pk) - 1

    def build(self) -> FleetColumns:
        """The columns built so far (the builder must not be used afterwards)."""
        return FleetColumns(
            device_pk=self._pk,
            org_id=self._org,
            site_id=self._site,
            model=self._model,
            hardware_revision=self._revision,
            version=self._version,
            is_test=self._test,
            tags=self._tags,
            model_names=tuple(self._models),
            revision_names=tuple(self._revisions),
            tag_names=self._tag_names,
            previous_version=self._previous,
        )


def selection_tag_mask(selection: Selection, fleet: FleetColumns) -> int:
    """The selection's tags as a mask over the fleet's ``tag_names``."""
    return tag_mask(selection.tags, fleet.tag_names)
