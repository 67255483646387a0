"""Dates, times, timestamps and intervals as text, for any value DuckDB hands over.

ISO 8601 at the column's precision; what Python's datetime cannot hold (DuckDB's
'infinity', years beyond 1..9999) as DuckDB writes it; intervals as ISO 8601 durations
whose parts keep their own sign. `dates(array)` and the like give a list for an array;
`date_text(days)` and the like the text of one value.
"""

from __future__ import annotations

import datetime
from typing import Any

import pyarrow as pa

_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_DAY = datetime.date(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_DATE_INFINITY = 2**31 - 1  # how DuckDB hands 'infinity'::DATE to Arrow
_TIMESTAMP_INFINITY = 2**63 - 1


def dates(array: pa.Array) -> list[Any]:
    days = array.cast(pa.int32() if array.type == pa.date32() else pa.int64()).to_pylist()
    if array.type == pa.date64():  # milliseconds since the epoch
        days = [None if v is None else v // 86_400_000 for v in days]
    return [None if v is None else date_text(v) for v in days]


def date_text(days: int) -> str:
    """A day (since 1970-01-01) as ISO 8601, 'infinity', or as DuckDB writes far years."""
    if abs(days) == _DATE_INFINITY:
        return "infinity" if days > 0 else "-infinity"
    try:
        return (_EPOCH_DAY + datetime.timedelta(days=days)).isoformat()
    except OverflowError:
        return _civil(days)


def _civil(days: int) -> str:
    """Any day as DuckDB writes it: '20000-01-01', '0001-12-31 (BC)' (proleptic Gregorian)."""
    z = days + 719_468  # days from 0000-03-01 (H. Hinnant's civil_from_days)
    era, day_of_era = divmod(z, 146_097)
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted + 2) // 5 + 1
    month = shifted + 3 if shifted < 10 else shifted - 9
    year = year_of_era + era * 400 + (month <= 2)
    if year > 0:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{1 - year:04d}-{month:02d}-{day:02d} (BC)"


def timestamps(array: pa.Array) -> list[Any]:
    unit, zone_name = array.type.unit, array.type.tz
    zone = _zone(zone_name) if zone_name else None
    return [
        None if v is None else timestamp_text(v, unit, zone)
        for v in array.cast(pa.int64()).to_pylist()
    ]


def _zone(name: str) -> datetime.tzinfo:
    if name[:1] in "+-" and ":" in name:
        hours, minutes = name[1:].split(":")
        offset = datetime.timedelta(hours=int(hours), minutes=int(minutes))
        return datetime.timezone(offset if name[0] == "+" else -offset)
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def timestamp_text(value: int, unit: str, zone: datetime.tzinfo | None) -> str:
    """A timestamp (`value` units since the epoch) as ISO 8601 at the unit's precision."""
    if abs(value) == _TIMESTAMP_INFINITY:
        return "infinity" if value > 0 else "-infinity"
    per = _PER_SECOND[unit]
    seconds, part = divmod(value, per)
    fraction = f".{part:0{len(str(per)) - 1}d}" if per > 1 else ""
    try:
        moment = _EPOCH + datetime.timedelta(seconds=seconds)
        if zone is None:
            return moment.isoformat(timespec="seconds") + fraction
        local = moment.replace(tzinfo=datetime.UTC).astimezone(zone)
        text = local.isoformat(timespec="seconds")
        return text[:19] + fraction + text[19:]
    except OverflowError:
        days, second = divmod(seconds, 86_400)
        clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}{fraction}"
        return f"{_civil(days)} {clock}" + ("+00:00" if zone is not None else "")


def times(array: pa.Array) -> list[Any]:
    per = _PER_SECOND[array.type.unit]
    wide = pa.int64() if array.type.bit_width == 64 else pa.int32()
    return [None if v is None else time_text(v, per) for v in array.cast(wide).to_pylist()]


def time_text(value: int, per: int) -> str:
    """A time of day (`value` units of 1/`per` s since midnight) as HH:MM:SS[.fraction]."""
    seconds, part = divmod(value, per)
    fraction = f".{part:0{len(str(per)) - 1}d}" if per > 1 else ""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{fraction}"


def intervals(array: pa.Array) -> list[Any]:
    if array.type != pa.month_day_nano_interval():
        return [None if v is None else str(v) for v in array.to_pylist()]
    return [
        None if v is None else interval_text(v.months, v.days, v.nanoseconds)
        for v in array.to_pylist()
    ]


def durations(array: pa.Array) -> list[Any]:
    per = _PER_SECOND[array.type.unit]
    nanos = 10**9 // per
    return [
        None if v is None else interval_text(0, 0, v * nanos)
        for v in array.cast(pa.int64()).to_pylist()
    ]


def interval_text(months: int, days: int, nanoseconds: int) -> str:
    """An interval as an ISO 8601 duration, each part with its own sign: 'P1M-2DT3H4.5S'."""
    date = (f"{months}M" if months else "") + (f"{days}D" if days else "")
    sign = "-" if nanoseconds < 0 else ""
    hours, rest = divmod(abs(nanoseconds), 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, part = divmod(rest, 10**9)
    clock = f"{sign}{hours}H" if hours else ""
    clock += f"{sign}{minutes}M" if minutes else ""
    if seconds or part:
        digits = f".{part:09d}".rstrip("0") if part else ""
        clock += f"{sign}{seconds}{digits}S"
    if not date and not clock:
        return "PT0S"
    return "P" + date + ("T" + clock if clock else "")
