"""The demo's input data: a seeded staffing roster as CSV, and the sessions it records.

Plain `csv` module and `random.Random(seed)`: the same seed writes the same bytes, so a
second run of the demo ingests the very same object. No pyarrow here.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SEED = 20261124
COLUMNS = ["id", "name", "role", "city", "hourly_rate", "start_date", "active", "notes"]

_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Tim",
    "Margaret",
    "Dennis",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Hamilton",
]
_ROLES = ["data engineer", "analyst", "ml engineer", "sre", "product manager", "etl developer"]
_CITIES = [
    "Lisbon",
    "Berlin",
    "Toronto",
    "Austin",
    "Nairobi",
    "Osaka",
    "Lyon",
    "Porto",
    "Denver",
    "Kraków",
]
_NOTES = [
    "available immediately",
    "prefers remote, can travel",
    "speaks French, German",
    "on call weekends",
    "needs visa sponsorship",
    "part-time, 3 days a week",
    "led the 2025 migration",
    "mentor",
]
_MULTILINE = "references on request;\nsee the interview notes,\nround 2"


def write_staffing_csv(path: Path, rows: int, *, seed: int = SEED) -> int:
    """Write `rows` staffing rows to `path` (RFC 4180 quoting) and return its size in bytes.

    About one note in five holds a comma (so it is quoted) and one row in 10,000 a quoted
    note spanning three lines; every note is non-empty, so the column is text from row 1.
    """
    rng = random.Random(seed)
    first_day = date(2018, 1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for n in range(1, rows + 1):
            note = _MULTILINE if n % 10_000 == 5_000 else rng.choice(_NOTES)
            writer.writerow(
                (
                    n,
                    f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                    rng.choice(_ROLES),
                    rng.choice(_CITIES),
                    f"{rng.uniform(25, 160):.2f}",
                    (first_day + timedelta(days=rng.randrange(3000))).isoformat(),
                    "true" if rng.random() < 0.85 else "false",
                    note,
                )
            )
    return path.stat().st_size


def write_other_schema_csv(path: Path) -> None:
    """A small CSV whose columns differ from the roster's: it must not replace it silently."""
    path.write_text("id,name,team\n1,Ada Lovelace,platform\n2,Grace Hopper,compilers\n")


def sessions() -> list[dict[str, Any]]:
    """Two coordinator/validator sessions: one that succeeded, one that ran out of tries."""
    query = "staff the Lisbon ETL project: 2 data engineers"
    ok = {
        "id": "ses-demo-0001",
        "model": "coordinator-small",
        "attempts": [
            {
                "prompt": query,
                "raw": "Ada Lovelace, Grace Hopper",
                "verdict": "rejected: 1 inactive",
            },
            {"prompt": query, "raw": "Ada Lovelace, Radia Perlman", "verdict": "accepted"},
        ],
        "outcome": "success",
        "grounded_in_roster": True,
        "timings": {"total_s": 4.2, "validate_s": 0.3},
    }
    failed = {
        "id": "ses-demo-0002",
        "model": "coordinator-small",
        "attempts": [
            {
                "prompt": "staff Atlantis: 3 sres",
                "raw": f"guess {n}",
                "verdict": "rejected: no such city",
            }
            for n in range(1, 4)
        ],
        "outcome": "max_iter_exhausted",
        "grounded_in_roster": False,
        "timings": {"total_s": 9.8, "validate_s": 0.9},
    }
    return [ok, failed]
