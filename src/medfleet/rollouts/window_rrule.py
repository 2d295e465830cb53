"""Reading what people type for a maintenance window: IANA zone, local start, RFC 5545 RRULE
value, duration.

Pure text checks with specific messages (``InvalidWindowError``). ``parse_rrule`` turns an
RRULE value into its stored form and a canonical form for python-dateutil in which every value
RFC 5545 would take from DTSTART is explicit (BYDAY for a weekly rule, BYHOUR/BYMINUTE, ...), so
that the rule can later be restarted from any later anchor without changing its occurrences.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY

from medfleet.rollouts.window_errors import InvalidWindowError

MAX_DURATION = timedelta(hours=24)
"""A window is at most a day long."""
MAX_COUNT = 5000
"""COUNT beyond this is refused (leave COUNT out for an open-ended rule)."""
MAX_INTERVAL = 1000
FIRST_YEAR, LAST_YEAR = 1970, 2200
"""Years a window may start in."""

FREQUENCIES = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NUMBER_LISTS: dict[str, tuple[int, int, bool]] = {
    # part: (lowest, highest, negatives allowed)
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
KNOWN_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *_NUMBER_LISTS, "BYSECOND")
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")
_DTSTART_MESSAGE = (
    "the RRULE must not contain DTSTART: the first local start is given separately "
    "(in the site's time zone)"
)


@dataclass(frozen=True, slots=True)
class ParsedRRule:
    """An RRULE value, checked.

    ``normalized`` is what is stored and shown (upper case, no ``RRULE:`` prefix);
    ``canonical`` is for dateutil with a naive local DTSTART: defaults explicit and UNTIL as a
    naive local bound. ``until_utc`` is the UNTIL of the RFC 5545 UTC form (compared in UTC);
    ``until_local`` the last local instant of the date form (``UNTIL=20261231``).
    """

    normalized: str
    canonical: str
    freq: int
    interval: int
    count: int | None
    until_utc: datetime | None
    until_local: datetime | None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name such as ``Europe/Berlin``.

    Raises:
        InvalidWindowError: not an IANA zone name (abbreviations such as ``CET`` included).
    """
    if name not in _zones() or ("/" not in name and name != "UTC"):
        raise InvalidWindowError(
            f"time zone {name!r} is not an IANA zone name such as 'Europe/Berlin'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidWindowError(f"time zone {name!r} has no tz data on this system") from None


def check_start(start_local: datetime) -> datetime:
    """A window's first local start: naive wall time, whole minute, a plausible year.

    Raises:
        InvalidWindowError: with an offset, seconds, or out of range.
    """
    if start_local.tzinfo is not None:
        raise InvalidWindowError(
            f"the start {start_local.isoformat()} must be a local wall time without UTC offset "
            "(e.g. 2026-03-07T02:00): the site's time zone applies"
        )
    if start_local.second or start_local.microsecond:
        raise InvalidWindowError(
            f"the start {start_local.isoformat()} must be on a whole minute (no seconds)"
        )
    if not FIRST_YEAR <= start_local.year <= LAST_YEAR:
        raise InvalidWindowError(
            f"the start year {start_local.year} is outside {FIRST_YEAR}..{LAST_YEAR}"
        )
    return start_local.replace(fold=0)


def check_duration(duration: timedelta) -> timedelta:
    """A window's length: positive, whole minutes, at most 24 hours.

    Raises:
        InvalidWindowError: zero, negative, seconds, or longer than a day.
    """
    if duration <= timedelta(0):
        raise InvalidWindowError(f"the duration must be positive (got {duration})")
    if duration % timedelta(minutes=1):
        raise InvalidWindowError(f"the duration must be whole minutes (got {duration})")
    if duration > MAX_DURATION:
        raise InvalidWindowError(f"the duration must be at most 24h (got {duration})")
    return duration


def parse_duration(text: str) -> timedelta:
    """``4h``, ``90m``, ``1h30m`` (also ``90min``, ``4 h``) as a checked duration.

    Raises:
        InvalidWindowError: another form, or a duration ``check_duration`` refuses.
    """
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise InvalidWindowError(f"duration {text!r} is not like 4h, 90m or 1h30m")
    hours, minutes = (int(group or 0) for group in match.groups())
    return check_duration(timedelta(hours=hours, minutes=minutes))


def parse_start(text: str) -> datetime:
    """A local start such as ``2026-03-07T02:00`` (also with a space), checked.

    Raises:
        InvalidWindowError: not an ISO local date-time, or one with an offset or seconds.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidWindowError(
            f"start {text!r} is not a local date-time like 2026-03-07T02:00"
        ) from None
    return check_start(value)


def _split(text: str) -> list[tuple[str, str]]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise InvalidWindowError("the RRULE is empty; give e.g. FREQ=WEEKLY;BYDAY=SA")
    if any(line.upper().startswith("DTSTART") for line in lines):
        raise InvalidWindowError(_DTSTART_MESSAGE)
    if len(lines) > 1:
        raise InvalidWindowError("give one RRULE value (no RDATE, EXDATE or further lines)")
    line = lines[0]
    if line.upper().startswith("RRULE:"):
        line = line[len("RRULE:") :]
    if ":" in line:
        raise InvalidWindowError(f"{lines[0]!r} is not an RRULE value such as FREQ=DAILY")
    parts: list[tuple[str, str]] = []
    for chunk in filter(None, (c.strip() for c in line.split(";"))):
        key, separator, value = (piece.strip().upper() for piece in chunk.partition("="))
        if key == "DTSTART":
            raise InvalidWindowError(_DTSTART_MESSAGE)
        if not separator or not key or not value:
            raise InvalidWindowError(f"RRULE part {chunk!r} is not NAME=VALUE")
        if key not in KNOWN_PARTS:
            raise InvalidWindowError(
                f"RRULE part {key} is not supported (known: {', '.join(KNOWN_PARTS)})"
            )
        if any(key == seen for seen, _ in parts):
            raise InvalidWindowError(f"RRULE part {key} is given twice")
        parts.append((key, value))
    if not parts:
        raise InvalidWindowError("the RRULE is empty; give e.g. FREQ=WEEKLY;BYDAY=SA")
    return parts


def _number(key: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidWindowError(f"{key}={value} must be a whole number") from None
    if not low <= number <= high:
        raise InvalidWindowError(f"{key}={value} must be from {low} to {high}")
    return number


def _check_list(key: str, value: str) -> None:
    low, high, negatives = _NUMBER_LISTS[key]
    for item in value.split(","):
        try:
            number = int(item)
        except ValueError:
            raise InvalidWindowError(f"{key}={value}: {item!r} is not a number") from None
        if not (low <= number <= high or (negatives and -high <= number <= -low)):
            span = f"{low}..{high}" + (f" or -{high}..-{low}" if negatives else "")
            raise InvalidWindowError(f"{key}={value}: {number} is outside {span}")


def _check_byday(value: str, freq: str) -> None:
    for item in value.split(","):
        match = _BYDAY.match(item)
        if match is None:
            raise InvalidWindowError(
                f"BYDAY={value}: {item!r} is not a weekday such as SA, 1SA or -1SU"
            )
        if match.group(2) is not None:
            if freq not in ("MONTHLY", "YEARLY"):
                raise InvalidWindowError(
                    f"BYDAY={value}: a numbered weekday ({item}) needs FREQ=MONTHLY or YEARLY"
                )
            _number("BYDAY", match.group(2), 1, 53)


def _until(value: str) -> tuple[datetime | None, datetime | None]:
    """``(until_utc, until_local)`` of an UNTIL value."""
    if re.fullmatch(r"\d{8}", value):
        try:
            day = datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise InvalidWindowError(f"UNTIL={value} is not a valid date") from None
        return None, datetime.combine(day, time(23, 59, 59))
    if re.fullmatch(r"\d{8}T\d{6}Z", value):
        try:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise InvalidWindowError(f"UNTIL={value} is not a valid UTC time") from None
        return moment, None
    raise InvalidWindowError(
        f"UNTIL={value} must be a UTC time such as 20261231T230000Z or a last local day such as "
        "20261231 (RFC 5545: a local time without Z is not allowed with a zoned start)"
    )


def parse_rrule(text: str, start_local: datetime, zone: ZoneInfo) -> ParsedRRule:
    """Check an RRULE value and build its stored and canonical forms.

    Raises:
        InvalidWindowError: empty, DTSTART inside, unknown or repeated parts, a bad value,
            MINUTELY/SECONDLY/BYSECOND (windows recur at most hourly), UNTIL in a wrong form,
            COUNT together with UNTIL.
    """
    parts = _split(text)
    values = dict(parts)
    freq_name = values.get("FREQ")
    if freq_name is None:
        raise InvalidWindowError("the RRULE needs FREQ (YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY)")
    if freq_name in ("MINUTELY", "SECONDLY"):
        raise InvalidWindowError(f"FREQ={freq_name}: maintenance windows recur at most hourly")
    if freq_name not in FREQUENCIES:
        raise InvalidWindowError(f"FREQ={freq_name} is not one of {', '.join(FREQUENCIES)}")
    if "BYSECOND" in values:
        raise InvalidWindowError("BYSECOND is not supported: windows start on whole minutes")
    if "COUNT" in values and "UNTIL" in values:
        raise InvalidWindowError("give COUNT or UNTIL, not both (RFC 5545)")
    interval = _number("INTERVAL", values.get("INTERVAL", "1"), 1, MAX_INTERVAL)
    count = _number("COUNT", values["COUNT"], 1, MAX_COUNT) if "COUNT" in values else None
    for key in _NUMBER_LISTS:
        if key in values:
            _check_list(key, values[key])
    if "BYDAY" in values:
        _check_byday(values["BYDAY"], freq_name)
    if values.get("WKST", "MO") not in WEEKDAYS:
        raise InvalidWindowError(f"WKST={values['WKST']} is not a weekday such as MO")
    until_utc, until_local = _until(values["UNTIL"]) if "UNTIL" in values else (None, None)
    normalized = ";".join(f"{key}={value}" for key, value in parts)
    return ParsedRRule(
        normalized=normalized,
        canonical=_canonical(parts, start_local, zone, until_utc, until_local),
        freq=FREQUENCIES[freq_name],
        interval=interval,
        count=count,
        until_utc=until_utc,
        until_local=until_local,
    )


def _canonical(
    parts: list[tuple[str, str]],
    start: datetime,
    zone: ZoneInfo,
    until_utc: datetime | None,
    until_local: datetime | None,
) -> str:
    values = {key: value for key, value in parts if key != "UNTIL"}
    freq = FREQUENCIES[values["FREQ"]]
    if not {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"} & values.keys():
        if freq == YEARLY:
            values.setdefault("BYMONTH", str(start.month))
            values["BYMONTHDAY"] = str(start.day)
        elif freq == MONTHLY:
            values["BYMONTHDAY"] = str(start.day)
        elif freq == WEEKLY:
            values["BYDAY"] = WEEKDAYS[start.weekday()]
    if freq < HOURLY:
        values.setdefault("BYHOUR", str(start.hour))
    values.setdefault("BYMINUTE", str(start.minute))
    values["BYSECOND"] = "0"
    values.setdefault("WKST", "MO")
    if until_local is not None:
        values["UNTIL"] = f"{until_local:%Y%m%dT%H%M%S}"
    elif until_utc is not None:
        # A naive local bound one day past the UTC instant: dateutil stops there, and the
        # exact UTC comparison is made per occurrence.
        bound = until_utc.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        values["UNTIL"] = f"{bound:%Y%m%dT%H%M%S}"
    return ";".join(f"{key}={value}" for key, value in values.items())
