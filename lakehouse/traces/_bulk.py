"""The trace fold in SQL: every trace record's head after it, for a fold from genesis in bulk.

`STATES` gives one row per trace record with the head the Python fold
(lakehouse/traces/_family.py) leaves behind it; the `traces`, `trace_revisions` and
`trace_search` tables (lakehouse/traces/_projection.py) select from it, and the heads
snapshot is read from its latest row per trace. A trace's life restarts at each
trace.added or trace.revised record (an *epoch*): its body is that of the latest record
carrying one (text and content reset, tags and content hash kept unless given again).

`REFUSALS` lists every record this SQL cannot take exactly as the Python fold and
projections do (a value of the wrong JSON type, a record about a trace no record created,
a superseded record without a successor); the bulk fold then folds record by record, so
such a record goes to each projection's policy exactly as it always has.
"""

from __future__ import annotations

from typing import Any

import orjson

from lakehouse._bulksql import epoch, not_text, not_texts, text_list
from lakehouse._family import Bulk
from lakehouse.traces._models import (
    ADDED,
    CONTENT_INDEX,
    ENTITY,
    REPLAYED,
    RETIRED,
    REVISED,
    SUPERSEDED,
    UPDATED,
)

_FRESH = f"kind IN ('{ADDED.name}', '{REVISED.name}')"
_BODY = f"kind IN ('{ADDED.name}', '{REVISED.name}', '{UPDATED.name}')"
_RUN = "PARTITION BY id, epoch ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"

STATES = f"""
CREATE OR REPLACE TEMP TABLE trace_states AS
WITH r AS (
    SELECT seq, ts, kind, id, rev, payload, {_FRESH} AS fresh, {_BODY} AS body
    FROM records WHERE entity = '{ENTITY}'
), e AS (
    SELECT *, {epoch("fresh")} AS epoch FROM r
), s AS (
    SELECT seq, ts, kind, id, rev, epoch,
        first_value(seq) OVER run AS created_seq,
        first_value(ts) OVER run AS created_at,
        first_value(json_extract_string(payload, '$.predecessor')) OVER run AS predecessor,
        last_value(CASE WHEN body THEN payload END IGNORE NULLS) OVER run AS body_payload,
        last_value(CASE WHEN body AND json_exists(payload, '$.tags')
            THEN json_extract(payload, '$.tags') END IGNORE NULLS) OVER run AS tags_json,
        last_value(CASE WHEN body AND json_exists(payload, '$.content_hash')
            THEN json_extract(payload, '$.content_hash') END IGNORE NULLS) OVER run AS hash_json,
        sum((kind = '{REPLAYED.name}')::INTEGER) OVER run AS replays,
        last_value(CASE WHEN kind = '{SUPERSEDED.name}'
            THEN json_extract(payload, '$.successor') END IGNORE NULLS) OVER run AS successor_json,
        bool_or(kind = '{RETIRED.name}') OVER run AS retired,
        last_value(CASE WHEN kind = '{RETIRED.name}'
            THEN coalesce(json_extract(payload, '$.reason'), 'null'::JSON) END IGNORE NULLS)
            OVER run AS reason_json
    FROM e
    WINDOW run AS ({_RUN})
)
SELECT seq, ts, kind, id, rev, epoch, created_seq, created_at, predecessor,
    json_extract_string(body_payload, '$.text') AS text,
    CASE WHEN coalesce(json_type(body_payload, '$.content'), 'NULL') <> 'NULL'
        THEN json_extract(body_payload, '$.content') END AS content_json,
    CAST(NULL AS VARCHAR) AS content,
    tags_json,
    {text_list("tags_json")} AS tags,
    hash_json,
    json_extract_string(hash_json, '$') AS content_hash,
    json_extract_string(successor_json, '$') AS successor,
    retired,
    json_extract_string(reason_json, '$') AS retired_reason,
    replays
FROM s
"""

REFUSALS = f"""
SELECT seq FROM (
    SELECT seq, kind, payload, {epoch(_FRESH)} AS epoch FROM records WHERE entity = '{ENTITY}'
) WHERE epoch = 0
    OR ({_FRESH} AND {not_text("payload", "$.predecessor")})
    OR ({_BODY} AND ({not_text("payload", "$.text")}
        OR {not_text("payload", "$.content_hash")} OR {not_texts("payload", "$.tags")}))
    OR (kind = '{SUPERSEDED.name}' AND (NOT json_exists(payload, '$.successor')
        OR {not_text("payload", "$.successor")}))
    OR (kind = '{RETIRED.name}' AND {not_text("payload", "$.reason")})
"""

_HEADS = """
SELECT id, text, content_json, predecessor, successor, retired, retired_reason, replays,
    created_seq, created_at, rev, seq, ts, tags_json, hash_json
FROM trace_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
"""
_CONTENT_INDEX = f"""
SELECT hash, list(id ORDER BY last_seq) FROM (
    SELECT json_extract_string(payload, '$.content_hash') AS hash, id, max(seq) AS last_seq
    FROM records
    WHERE entity = '{ENTITY}' AND json_type(payload, '$.content_hash') = 'VARCHAR'
    GROUP BY ALL
) GROUP BY hash
"""


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def heads(con: Any) -> dict[str, dict[str, Any]]:
    """Every trace's head, as the Python fold leaves it, and the content-hash index."""
    traces: dict[str, Any] = {}
    cursor = con.execute(_HEADS)
    while rows := cursor.fetchmany(10_000):
        for row in rows:
            uid = row[0]
            head: dict[str, Any] = {
                "uid": uid,
                "text": row[1],
                "content": _loads(row[2]),
                "predecessor": row[3],
                "successor": row[4],
                "retired": bool(row[5]),
                "retired_reason": row[6],
                "replays": row[7],
                "created_seq": row[8],
                "created_at": row[9],
                "rev": row[10],
                "updated_seq": row[11],
                "updated_at": row[12],
            }
            if row[13] is not None:
                head["tags"] = orjson.loads(row[13])
            if row[14] is not None:
                head["content_hash"] = orjson.loads(row[14])
            traces[uid] = head
    index = dict(con.execute(_CONTENT_INDEX).fetchall())
    return {ENTITY: traces, CONTENT_INDEX: index}


BULK = Bulk(
    prepare=(STATES,),
    refusals=REFUSALS,
    heads=heads,
    sorted_json=(("trace_states", "content_json", "content"),),
)

# the projections' tables (lakehouse/traces/_projection.py), in their columns' order
TRACES = """
SELECT id AS uid, text, content, tags, content_hash, predecessor, successor, retired,
    retired_reason, replays, rev, created_seq, created_at, seq AS updated_seq, ts AS updated_at
FROM trace_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
"""
REVISIONS = """
SELECT id AS uid, rev, seq, kind, ts, text, content, tags, content_hash, retired
FROM trace_states
"""
SEARCH = f"""
SELECT id AS uid,
    CASE WHEN coalesce(text, '') <> '' THEN text ELSE coalesce(content, '') END AS text,
    tags, retired
FROM (
    SELECT * FROM trace_states
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
) WHERE kind <> '{SUPERSEDED.name}' AND coalesce(successor, '') = ''
"""
