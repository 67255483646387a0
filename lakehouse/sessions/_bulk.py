"""The session fold in SQL, for a fold from genesis in bulk (see lakehouse/_family.py `Bulk`).

A session is recorded once, whole: its head is its latest session.recorded record's
payload (idempotency aside) with its id, rev and where it was created, exactly as
lakehouse/sessions/_family.py folds it. `REFUSALS` lists every record whose values the
Python projection (lakehouse/sessions/_projection.py) would refuse or read differently.
"""

from __future__ import annotations

from typing import Any

import orjson

from lakehouse._bulksql import boolean, not_boolean, not_text
from lakehouse._family import Bulk
from lakehouse.sessions._models import ENTITY

_TEXTS = ("model", "outcome", "started_at", "ended_at", "content_hash")

STATES = f"""
CREATE OR REPLACE TEMP TABLE session_states AS
SELECT seq, ts, id, rev, payload,
    coalesce(CAST(json_extract(payload, '$.attempts') AS JSON[]), []) AS attempts,
    CASE WHEN coalesce(json_type(payload, '$.timings'), 'NULL') <> 'NULL'
        THEN json_extract(payload, '$.timings') END AS timings_json,
    CAST(NULL AS VARCHAR) AS timings
FROM records WHERE entity = '{ENTITY}'
"""

_ATTEMPT_FIELDS = " OR ".join(
    f"NOT json_exists(x, '$.{key}') OR {not_text('x', f'$.{key}')}"
    for key in ("prompt", "raw", "verdict")
)
REFUSALS = f"""
SELECT seq FROM records WHERE entity = '{ENTITY}' AND (
    json_exists(payload, '$.id')
    OR {" OR ".join(not_text("payload", f"$.{key}") for key in _TEXTS)}
    OR {not_boolean("payload", "$.grounded_in_roster")}
    OR coalesce(json_type(payload, '$.attempts'), 'NULL') NOT IN ('ARRAY', 'NULL')
    OR (json_type(payload, '$.attempts') = 'ARRAY' AND len(list_filter(
        CAST(json_extract(payload, '$.attempts') AS JSON[]),
        lambda x: x IS NULL OR json_type(x) <> 'OBJECT' OR {_ATTEMPT_FIELDS})) > 0)
)
"""

SESSIONS = f"""
SELECT id,
    json_extract_string(payload, '$.model') AS model,
    json_extract_string(payload, '$.outcome') AS outcome,
    {boolean("payload", "$.grounded_in_roster")} AS grounded_in_roster,
    len(attempts)::BIGINT AS attempts,
    timings,
    json_extract_string(payload, '$.started_at') AS started_at,
    json_extract_string(payload, '$.ended_at') AS ended_at,
    json_extract_string(payload, '$.content_hash') AS content_hash,
    rev, seq AS created_seq, ts AS created_at
FROM session_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
"""
ATTEMPTS = """
SELECT s.id AS session_id, n.attempt::BIGINT AS attempt,
    json_extract_string(s.attempts[n.attempt], '$.prompt') AS prompt,
    json_extract_string(s.attempts[n.attempt], '$.raw') AS raw,
    json_extract_string(s.attempts[n.attempt], '$.verdict') AS verdict,
    s.seq
FROM session_states s, LATERAL (SELECT unnest(range(1, len(s.attempts) + 1)) AS attempt) n
"""

_HEADS = """
SELECT id, payload, rev, seq, ts
FROM session_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
"""


def heads(con: Any) -> dict[str, dict[str, Any]]:
    """Every session's head, as lakehouse/sessions/_family.py folds it."""
    sessions: dict[str, Any] = {}
    cursor = con.execute(_HEADS)
    while rows := cursor.fetchmany(10_000):
        for id, payload, rev, seq, ts in rows:
            body = orjson.loads(payload)
            body.pop("idempotency", None)
            sessions[id] = {"id": id, **body, "rev": rev, "created_seq": seq, "created_at": ts}
    return {ENTITY: sessions}


BULK = Bulk(
    prepare=(STATES,),
    refusals=REFUSALS,
    heads=heads,
    sorted_json=(("session_states", "timings_json", "timings"),),
)
