"""Which devices a campaign targets: the ``Selection`` and its checked constructor.

Pure. Every criterion that is not empty narrows the selection (criteria combine with AND;
the values inside one criterion with OR); an empty selection means every device of the
target release's model. ``parse_selection`` is the only way to build one from outside input
and ``Selection.as_dict`` round-trips through it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from medfleet.rollouts import _parse as p
from medfleet.rollouts.errors import InvalidSelectionError


class TestDevices(enum.StrEnum):
    """Whether a campaign takes a site's test devices: with the others, not at all, or only."""

    __test__ = False  # not a pytest test class

    INCLUDE = "include"
    EXCLUDE = "exclude"
    ONLY = "only"


@dataclass(frozen=True, slots=True)
class Selection:
    """Target selection of a campaign.

    ``current_versions`` holds installed version numbers, ``current_version_names`` version
    strings (``4.1.0``), which ``resolved_versions`` turns into numbers through the model's
    releases. ``tags`` matches a device that carries any of them.
    """

    models: frozenset[str] = frozenset()
    hardware_revisions: frozenset[str] = frozenset()
    hospital_ids: frozenset[int] = frozenset()
    site_ids: frozenset[int] = frozenset()
    current_versions: frozenset[int] = frozenset()
    current_version_names: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    test_devices: TestDevices = TestDevices.INCLUDE

    @property
    def filters_versions(self) -> bool:
        """Whether the installed version narrows the selection."""
        return bool(self.current_versions or self.current_version_names)

    def resolved_versions(self, version_numbers: Mapping[str, int]) -> frozenset[int]:
        """Every selected version number, the names looked up in ``version_numbers``.

        Raises:
            InvalidSelectionError: a version name is not a release of the model.
        """
        unknown = sorted(self.current_version_names - version_numbers.keys())
        if unknown:
            raise InvalidSelectionError(
                f"no release of this model has version {', '.join(unknown)}",
                "current_versions",
            )
        names = {version_numbers[name] for name in self.current_version_names}
        return self.current_versions | names

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form; ``parse_selection`` of it gives an equal selection."""
        versions: list[int | str] = [*sorted(self.current_versions)]
        versions.extend(sorted(self.current_version_names))
        return {
            "models": sorted(self.models),
            "hardware_revisions": sorted(self.hardware_revisions),
            "hospital_ids": sorted(self.hospital_ids),
            "site_ids": sorted(self.site_ids),
            "current_versions": versions,
            "tags": sorted(self.tags),
            "test_devices": self.test_devices.value,
        }


def _versions(value: object, path: str) -> tuple[frozenset[int], frozenset[str]]:
    numbers: set[int] = set()
    names: set[str] = set()
    for index, item in enumerate(p.items(value, path, InvalidSelectionError)):
        where = p.join(path, index)
        if isinstance(item, str):
            names.add(p.name(item, where, InvalidSelectionError, "version"))
        else:
            numbers.add(p.integer(item, where, InvalidSelectionError, 0))
    return frozenset(numbers), frozenset(names)


def parse_selection(data: Mapping[str, object]) -> Selection:
    """A checked ``Selection`` from a JSON object (every field optional).

    Fields: ``models``, ``hardware_revisions``, ``tags`` (lists of names), ``hospital_ids``,
    ``site_ids`` (lists of positive ids), ``current_versions`` (version numbers and/or
    version strings), ``test_devices`` (``include``, ``exclude`` or ``only``).

    Raises:
        InvalidSelectionError: naming the first offending field and why.
    """
    error = InvalidSelectionError
    reader = p.Reader(data, "", error)
    none: list[object] = []
    numbers, names = _versions(reader.get("current_versions", none), "current_versions")
    test = reader.get("test_devices", TestDevices.INCLUDE.value)
    selection = Selection(
        models=p.name_set(reader.get("models", none), "models", error, "model"),
        hardware_revisions=p.name_set(
            reader.get("hardware_revisions", none), "hardware_revisions", error, "revision"
        ),
        hospital_ids=p.id_set(reader.get("hospital_ids", none), "hospital_ids", error),
        site_ids=p.id_set(reader.get("site_ids", none), "site_ids", error),
        current_versions=numbers,
        current_version_names=names,
        tags=p.name_set(reader.get("tags", none), "tags", error, "tag"),
        test_devices=p.choice(
            test, "test_devices", error, TestDevices, [t.value for t in TestDevices]
        ),
    )
    reader.finish()
    return selection


def tag_mask(tags: Iterable[str], tag_names: Iterable[str]) -> int:
    """The bit mask of ``tags`` over ``tag_names`` (bit i is ``tag_names[i]``); unknown tags
    contribute nothing."""
    wanted = set(tags)
    return sum(1 << index for index, tag in enumerate(tag_names) if tag in wanted)
