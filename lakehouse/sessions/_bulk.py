"""The session fold in SQL, for a fold from genesis in bulk (see lakehouse/_family.py `Bulk`).

A session is recorded once, whole: its head is its latest session.recorded record's
payload (idempotency aside) with its id, rev and where it was created, exactly as
lakehouse/sessions/_family.py folds it. `REFUSALS` lists every record whose values the
Python projection (lakehouse/sessions/_projection.py) would refuse or read differently.
"""

from __future__ import annotations

from typing import Any

from lakehouse._bulksql import boolean, not_boolean, not_text
from lakehouse._family import Bulk
from lakehouse.sessions._models import ENTITY

_TEXTS = ("model", "outcome", "started_at", "ended_at", "content_hash")

_PATHS = ("id", *_TEXTS, "grounded_in_roster", "attempts", "timings")
# every payload value the projection reads, parsed out once (SQL NULL: the key is absent)
STATES = f"""
CREATE OR REPLACE TEMP TABLE session_states AS
SELECT seq, ts, id, rev, payload,
    {", ".join(f"f[{n}] AS {name}_j" for n, name in enumerate(_PATHS, 1))},
    CASE WHEN json_type(f[{_PATHS.index("attempts") + 1}]) = 'ARRAY'
        THEN CAST(f[{_PATHS.index("attempts") + 1}] AS JSON[]) ELSE [] END AS attempts,
    CASE WHEN coalesce(json_type(f[{_PATHS.index("timings") + 1}]), 'NULL') <> 'NULL'
        THEN f[{_PATHS.index("timings") + 1}] END AS timings_json,
    CAST(NULL AS VARCHAR) AS timings
FROM (
    SELECT *, json_extract(payload, [{", ".join(f"'$.{name}'" for name in _PATHS)}]) AS f
    FROM records WHERE entity = '{ENTITY}'
)
"""

_ATTEMPT_FIELDS = " OR ".join(f"a[{n}] IS NULL OR {not_text(f'a[{n}]', '$')}" for n in (1, 2, 3))
REFUSALS = f"""
SELECT seq FROM session_states WHERE id_j IS NOT NULL
    OR {" OR ".join(not_text(f"{key}_j", "$") for key in _TEXTS)}
    OR {not_boolean("grounded_in_roster_j", "$")}
    OR coalesce(json_type(attempts_j), 'NULL') NOT IN ('ARRAY', 'NULL')
    OR len(list_filter(attempts, lambda x: x IS NULL OR json_type(x) <> 'OBJECT')) > 0
    OR len(list_filter(
        list_transform(attempts, lambda x: json_extract(x, ['$.prompt', '$.raw', '$.verdict'])),
        lambda a: {_ATTEMPT_FIELDS})) > 0
"""

SESSIONS = f"""
SELECT id,
    json_extract_string(model_j, '$') AS model,
    json_extract_string(outcome_j, '$') AS outcome,
    {boolean("grounded_in_roster_j", "$")} AS grounded_in_roster,
    len(attempts)::BIGINT AS attempts,
    timings,
    json_extract_string(started_at_j, '$') AS started_at,
    json_extract_string(ended_at_j, '$') AS ended_at,
    json_extract_string(content_hash_j, '$') AS content_hash,
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
SELECT id, json_merge_patch(
    json_merge_patch(payload, '{"idempotency": null}'),
    json_object('id', id, 'rev', rev, 'created_seq', seq, 'created_at', ts)
)::VARCHAR
FROM session_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
"""


def heads(con: Any) -> dict[str, dict[str, str]]:
    """Every session's head (JSON), as lakehouse/sessions/_family.py folds it."""
    return {ENTITY: dict(con.execute(_HEADS).fetchall())}


BULK = Bulk(
    prepare=(STATES,),
    refusals=REFUSALS,
    heads=heads,
    sorted_json=(("session_states", "timings_json", "timings"),),
)
