"""What answers to SQL may hold: a byte cap per answer, and a result memory they share.

DuckDB's `memory_limit` covers its own buffers, not the rows handed to Python, nor their
JSON, CSV or Arrow IPC encoding. So the route counts those itself:

- `projections.run` fetches in small batches and stops at `max_bytes` of Arrow data; the
  encoders below stop at `max_bytes` of encoded body (JSON can be several times the Arrow
  size: a quote becomes two bytes, a control character six), so every answer is at most
  about `max_bytes`, and `truncated` says it was cut. A row over the cap alone is a 422.
- `ResultMemory` is the server's budget for every answer in flight at once: a request
  takes from it as batches arrive and as it encodes them (a wide one all it may need at
  once, see `Lease`), and gives it back once its body is sent. A request that cannot take
  what it needs gets 429 at once (queueing it would only hold its rows longer), so
  concurrent wide queries cannot multiply memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from starlette.responses import Response

from lakehouse.httpkit import FormatUnsupported, ResultMemoryBusy, dumps
from projections import QueryResult, ResultTooLarge

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from projections import Encoding

ARROW = "application/vnd.apache.arrow.stream"
SLICE_BYTES = 1024 * 1024  # Arrow bytes encoded at a time: their Python objects are transient
LIGHT_BYTES = 1024 * 1024  # an answer up to this size (or max_bytes / 8) takes as it grows
Encode = Callable[[pa.Table, bool], bytes]  # (rows, first) -> their encoding


class ResultMemory:
    """The bytes every answer in flight may hold together; `peak` is the most ever held."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0
        self.peak = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> bool:
        """Take `count` bytes if they are free; False (taking nothing) if not."""
        with self._lock:
            if self.held + count > self.size:
                return False
            self.held += count
            self.peak = max(self.peak, self.held)
            return True

    def give(self, count: int) -> None:
        """Give back `count` bytes taken before."""
        with self._lock:
            self.held -= count


class Lease:
    """What one request holds of the result memory; `close` gives it all back.

    A small answer takes what it uses as it grows. Past `light` bytes it takes at once all
    that an answer at the cap may hold (its rows and their encoding, `2 * max_bytes`), or
    gets 429: wide answers are admitted whole or not at all, so concurrent ones cannot each
    take a part of the memory and all fail, and at most `memory // (2 * max_bytes)` run.
    """

    def __init__(self, memory: ResultMemory, max_bytes: int) -> None:
        self.memory = memory
        self.light = min(LIGHT_BYTES, max_bytes // 8)
        self.wide = 2 * max_bytes
        self.held = 0  # what the answer holds now
        self.reserved = 0  # what it has taken from the result memory (at least `held`)

    def take(self, count: int) -> None:
        """Count `count` more bytes held, or raise ResultMemoryBusy: others hold the memory."""
        held = self.held + count
        if held > self.reserved:
            want = held if held <= self.light else max(held, self.wide)
            if not self.memory.take(want - self.reserved):
                size = self.memory.size
                raise ResultMemoryBusy(
                    f"the answers in flight hold the server's result memory ({size:,} bytes); "
                    f"this one needs {want - self.reserved:,} bytes more",
                    hint="retry in a moment, or ask for fewer rows (LIMIT) or narrower columns",
                    limit=size,
                )
            self.reserved = want
        self.held = held

    def give(self, count: int) -> None:
        """Count `count` bytes no longer held, and give back what is reserved beyond that."""
        self.held -= min(count, self.held)
        self.memory.give(self.reserved - self.held)
        self.reserved = self.held

    def close(self) -> None:
        """Give back everything (twice is harmless)."""
        self.give(self.held)

    def __del__(self) -> None:
        self.close()  # a response that was never sent must not keep its share for ever


class Body(Response):
    """A body sent in the chunks it was encoded in (no copy to join them), then released."""

    def __init__(
        self, chunks: list[bytes], lease: Lease, media_type: str, headers: dict[str, str]
    ) -> None:
        self.chunks = chunks
        self.lease = lease
        size = str(sum(len(chunk) for chunk in chunks))
        super().__init__(None, media_type=media_type, headers={**headers, "content-length": size})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the chunks, then give their memory back (also when the client has gone)."""
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            await send({**start, "headers": self.raw_headers})
            for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.chunks = []
            self.lease.close()


def encode(result: QueryResult, fmt: str, watermark: int, cap: int, lease: Lease) -> Body:
    """The result as a JSON envelope, Arrow IPC or CSV, cut at `cap` encoded bytes.

    JSON and CSV values are written by `projections.Encoding`, the conversion the CLI and
    the Python API use: decided once for the whole result, so slices never disagree.
    """
    from projections import Encoding

    encoding = Encoding(result.columns, result.table)
    if fmt == "json":
        return _json(result, encoding, watermark, cap, lease)
    chunks: list[bytes] = []
    try:
        if fmt == "arrow":
            # Arrow IPC is the Arrow data itself, already cut at the cap by the fetch
            rows, cut = result.table.num_rows, False
            _arrow(result.table, chunks, lease)
        else:

            def csv(rows: pa.Table, first: bool) -> bytes:
                return encoding.csv(rows, header=first).encode()

            rows, cut = _rows(result.table, csv, cap, 0, chunks=chunks, lease=lease)
    except pa.ArrowException as exc:
        raise FormatUnsupported(
            f"the result cannot be written as {fmt}: {exc}",
            hint="cast the column to VARCHAR in the query, or ask for JSON",
            format=fmt,
        ) from exc
    headers = {
        "X-Lakehouse-Row-Count": str(rows),
        "X-Lakehouse-Truncated": "true" if result.truncated or cut else "false",
    }
    media = ARROW if fmt == "arrow" else "text/csv; charset=utf-8"
    return Body(chunks, lease, media, headers)


def _json(result: QueryResult, encoding: Encoding, watermark: int, cap: int, lease: Lease) -> Body:
    """The success envelope, written around the rows so they are never held as one."""
    head = b'{"ok":true,"status":200,"watermark":%d,"data":{"columns":%s,"rows":[' % (
        watermark,
        dumps(encoding.columns()),
    )
    chunks = [head]
    lease.take(len(head))

    def rows_json(rows: pa.Table, first: bool) -> bytes:
        """Rows as JSON lists, comma-separated (a leading comma unless they come first)."""
        text = dumps(encoding.rows(rows))[1:-1]
        return text if first else b"," + text

    rows, cut = _rows(result.table, rows_json, cap, len(head), chunks=chunks, lease=lease)
    truncated = b"true" if result.truncated or cut else b"false"
    chunks.append(b'],"row_count":%d,"truncated":%s}}' % (rows, truncated))
    return Body(chunks, lease, "application/json", {})


def _rows(
    table: pa.Table, encoder: Encode, cap: int, used: int, *, chunks: list[bytes], lease: Lease
) -> tuple[int, bool]:
    """Encode the table's rows into `chunks` while they fit in `cap` (beside `used` bytes).

    How many rows went in, and whether some did not fit; ResultTooLarge if none did.
    """
    size, done = used, 0
    if table.num_rows == 0:  # no rows: what the format says even so (CSV's header)
        data = encoder(table, True)
        lease.take(len(data))
        chunks.append(data)
        return 0, False
    step = max(1, SLICE_BYTES * table.num_rows // max(1, table.nbytes))
    for offset in range(0, table.num_rows, step):
        rows = table.slice(offset, step)
        data = encoder(rows, done == 0)
        if size + len(data) > cap:  # then row by row, to keep those that fit
            data, fit = _fitting(rows, encoder, cap - size, first=done == 0)
            if fit:
                lease.take(len(data))
                chunks.append(data)
            elif done == 0:
                raise _too_large(cap)
            return done + fit, True
        lease.take(len(data))
        chunks.append(data)
        size += len(data)
        done += rows.num_rows
    return done, False


def _fitting(rows: pa.Table, encoder: Encode, room: int, *, first: bool) -> tuple[bytes, int]:
    """The encoding of the first of `rows` that fit in `room` bytes, and how many they are."""
    pieces: list[bytes] = []
    used = 0
    for index in range(rows.num_rows):
        data = encoder(rows.slice(index, 1), first and index == 0)
        if used + len(data) > room:
            break
        pieces.append(data)
        used += len(data)
    return b"".join(pieces), len(pieces)


def _arrow(table: pa.Table, chunks: list[bytes], lease: Lease) -> None:
    """The table as an Arrow IPC stream, into `chunks` as the writer gives them."""
    sink = _Chunks(chunks, lease.take)
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        for batch in table.to_batches():
            writer.write_batch(batch)
    sink.close()  # the writer leaves its file open: the last chunk is still pending


class _Chunks:
    """A writable file that keeps what is written as chunks of about SLICE_BYTES, charged.

    The IPC writer writes each buffer and each message header on its own: gathered, they
    go out in a few sends rather than thousands.
    """

    closed = False

    def __init__(self, chunks: list[bytes], charge: Callable[[int], None]) -> None:
        self.chunks = chunks
        self.charge = charge
        self.pending = bytearray()

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.charge(size)
        self.pending += data
        if len(self.pending) >= SLICE_BYTES:
            self.flush()
        return size

    def flush(self) -> None:
        if self.pending:
            self.chunks.append(bytes(self.pending))
            self.pending = bytearray()

    def close(self) -> None:
        self.flush()
        self.closed = True


def _too_large(cap: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"one row of the result, encoded, is over the cap of {cap:,} bytes an answer may hold",
        hint="select fewer or narrower columns (cut long values with left(x, n)), "
        "or aggregate before returning them",
        limit=cap,
    )
