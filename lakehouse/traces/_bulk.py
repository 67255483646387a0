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

_PATHS = ("text", "content", "tags", "content_hash", "predecessor", "successor", "reason")
# every payload value the fold reads, parsed out once (SQL NULL: the key is absent; JSON
# null: it is there, null), with each record's epoch
FIELDS = f"""
CREATE OR REPLACE TEMP TABLE trace_fields AS
SELECT seq, ts, kind, id, rev, {_FRESH} AS fresh, {_BODY} AS body, {epoch(_FRESH)} AS epoch,
    {", ".join(f"f[{n}] AS {name}_j" for n, name in enumerate(_PATHS, 1))}
FROM (
    SELECT *, json_extract(payload, [{", ".join(f"'$.{name}'" for name in _PATHS)}]) AS f
    FROM records WHERE entity = '{ENTITY}'
)
"""

STATES = f"""
CREATE OR REPLACE TEMP TABLE trace_states AS
WITH s AS (
    SELECT seq, ts, kind, id, rev, epoch,
        first_value(seq) OVER run AS created_seq,
        first_value(ts) OVER run AS created_at,
        first_value(json_extract_string(predecessor_j, '$')) OVER run AS predecessor,
        last_value(CASE WHEN body THEN {{'text': text_j, 'content': content_j}} END IGNORE NULLS)
            OVER run AS latest_body,
        last_value(CASE WHEN body THEN tags_j END IGNORE NULLS) OVER run AS tags_json,
        last_value(CASE WHEN body THEN content_hash_j END IGNORE NULLS) OVER run AS hash_json,
        sum((kind = '{REPLAYED.name}')::INTEGER) OVER run AS replays,
        last_value(CASE WHEN kind = '{SUPERSEDED.name}' THEN successor_j END IGNORE NULLS)
            OVER run AS successor_json,
        bool_or(kind = '{RETIRED.name}') OVER run AS retired,
        last_value(CASE WHEN kind = '{RETIRED.name}' THEN coalesce(reason_j, 'null'::JSON) END
            IGNORE NULLS) OVER run AS reason_json
    FROM trace_fields
    WINDOW run AS ({_RUN})
)
SELECT seq, ts, kind, id, rev, epoch, created_seq, created_at, predecessor,
    json_extract_string(latest_body.text, '$') AS text,
    CASE WHEN coalesce(json_type(latest_body.content), 'NULL') <> 'NULL'
        THEN latest_body.content END AS content_json,
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
SELECT seq FROM trace_fields WHERE epoch = 0
    OR (fresh AND {not_text("predecessor_j", "$")})
    OR (body AND ({not_text("text_j", "$")} OR {not_text("content_hash_j", "$")}
        OR {not_texts("tags_j", "$")}))
    OR (kind = '{SUPERSEDED.name}' AND (successor_j IS NULL OR {not_text("successor_j", "$")}))
    OR (kind = '{RETIRED.name}' AND {not_text("reason_j", "$")})
"""

# a head's JSON; "tags" and "content_hash" only if a record gave them (as the fold has it)
_HEADS = """
SELECT id, CASE
    WHEN tags_json IS NULL AND hash_json IS NULL THEN head
    WHEN hash_json IS NULL THEN left(head, -1) || ',"tags":' || tags_json || '}'
    WHEN tags_json IS NULL THEN left(head, -1) || ',"content_hash":' || hash_json || '}'
    ELSE left(head, -1) || ',"tags":' || tags_json || ',"content_hash":' || hash_json || '}'
END FROM (
    SELECT id, tags_json::VARCHAR AS tags_json, hash_json::VARCHAR AS hash_json,
        json_object('uid', id, 'text', text, 'content', content_json,
            'predecessor', predecessor, 'successor', successor, 'retired', retired,
            'retired_reason', retired_reason, 'replays', replays, 'created_seq', created_seq,
            'created_at', created_at, 'rev', rev, 'updated_seq', seq, 'updated_at', ts
        )::VARCHAR AS head
    FROM trace_states QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1
)
"""
_CONTENT_INDEX = """
SELECT hash, to_json(list(id ORDER BY last_seq))::VARCHAR FROM (
    SELECT json_extract_string(content_hash_j, '$') AS hash, id, max(seq) AS last_seq
    FROM trace_fields WHERE json_type(content_hash_j) = 'VARCHAR'
    GROUP BY ALL
) GROUP BY hash
"""


def heads(con: Any) -> dict[str, dict[str, str]]:
    """Every trace's head, as the Python fold leaves it, and the content-hash index (JSON)."""
    return {
        ENTITY: dict(con.execute(_HEADS).fetchall()),
        CONTENT_INDEX: dict(con.execute(_CONTENT_INDEX).fetchall()),
    }


BULK = Bulk(
    prepare=(FIELDS, STATES),
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
