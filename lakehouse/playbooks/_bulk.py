"""The playbook fold in SQL, for a fold from genesis in bulk (see lakehouse/_family.py `Bulk`).

One row per playbook record with the head lakehouse/playbooks/_family.py leaves behind
it: a playbook.recorded record starts it afresh (an *epoch*), a playbook.retired record
marks it retired. `REFUSALS` lists every record whose values the Python projections
(lakehouse/playbooks/_projection.py) would refuse or read differently.
"""

from __future__ import annotations

from typing import Any

from lakehouse._bulksql import epoch, not_bigint, not_text, not_texts, text_list
from lakehouse._family import Bulk
from lakehouse.playbooks._models import ENTITY, RECORDED, RETIRED

_FRESH = f"kind = '{RECORDED.name}'"
_RUN = "PARTITION BY id, epoch ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"

STATES = f"""
CREATE OR REPLACE TEMP TABLE playbook_states AS
WITH e AS (
    SELECT seq, ts, kind, id, rev, payload, {epoch(_FRESH)} AS epoch
    FROM records WHERE entity = '{ENTITY}'
)
SELECT seq, ts, kind, id, rev,
    first_value(payload) OVER run AS recorded,
    first_value(seq) OVER run AS created_seq,
    first_value(ts) OVER run AS created_at,
    bool_or(kind = '{RETIRED.name}') OVER run AS retired,
    last_value(CASE WHEN kind = '{RETIRED.name}'
        THEN coalesce(json_extract(payload, '$.reason'), 'null'::JSON) END IGNORE NULLS)
        OVER run AS reason_json
FROM e
WINDOW run AS ({_RUN})
"""

REFUSALS = f"""
SELECT seq FROM (
    SELECT seq, kind, payload, {epoch(_FRESH)} AS epoch FROM records WHERE entity = '{ENTITY}'
) WHERE epoch = 0
    OR ({_FRESH} AND ({not_text("payload", "$.query")} OR {not_text("payload", "$.fingerprint")}
        OR {not_text("payload", "$.kind")} OR {not_bigint("payload", "$.target_count")}
        OR {not_texts("payload", "$.endorsed")}))
    OR (kind = '{RETIRED.name}' AND {not_text("payload", "$.reason")})
"""

_LATEST = "QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1"
PLAYBOOKS = f"""
SELECT id,
    json_extract_string(recorded, '$.query') AS query,
    {text_list("json_extract(recorded, '$.endorsed')")} AS endorsed,
    CAST(json_extract(recorded, '$.target_count') AS BIGINT) AS target_count,
    json_extract_string(recorded, '$.fingerprint') AS fingerprint,
    json_extract_string(recorded, '$.kind') AS kind,
    retired,
    json_extract_string(reason_json, '$') AS retired_reason,
    rev, created_seq, created_at, seq AS updated_seq, ts AS updated_at
FROM playbook_states {_LATEST}
"""
SEARCH = f"""
SELECT id, coalesce(json_extract_string(recorded, '$.query'), '') AS text,
    {text_list("json_extract(recorded, '$.endorsed')")} AS tags, false AS retired
FROM (SELECT * FROM playbook_states {_LATEST}) WHERE NOT retired
"""

_HEADS = f"""
SELECT id, json_object('id', id, 'query', json_extract(recorded, '$.query'),
    'endorsed', json_extract(recorded, '$.endorsed'),
    'target_count', json_extract(recorded, '$.target_count'),
    'fingerprint', json_extract(recorded, '$.fingerprint'),
    'kind', json_extract(recorded, '$.kind'), 'retired', retired,
    'retired_reason', json_extract_string(reason_json, '$'), 'created_seq', created_seq,
    'created_at', created_at, 'rev', rev, 'updated_seq', seq, 'updated_at', ts
)::VARCHAR
FROM playbook_states {_LATEST}
"""


def heads(con: Any) -> dict[str, dict[str, str]]:
    """Every playbook's head (JSON), as lakehouse/playbooks/_family.py folds it."""
    return {ENTITY: dict(con.execute(_HEADS).fetchall())}


BULK = Bulk(prepare=(STATES,), refusals=REFUSALS, heads=heads)
