"""The server follows the journal: read-your-writes across processes, whole states only,
new checkpoints picked up, live event streams, and no lock that could block a writer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import REPO
from tests.server.conftest import LiveServer, Seeded, envelope

WRITER = Path(__file__).with_name("_writer.py")
LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


class Writer:
    """A long-lived child process that appends on request (see _writer.py)."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.child = subprocess.Popen(
            [sys.executable, str(WRITER), str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, line: str) -> tuple[int, str]:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(line + "\n")
        self.child.stdin.flush()
        seq, answer = self.child.stdout.readline().split(" ", 1)
        return int(seq), answer.strip()

    def close(self) -> None:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.close()
        status = self.child.wait(timeout=30)
        self.child.stdout.close()
        assert status == 0


@pytest.fixture
def writer(seeded: Seeded) -> Iterator[Writer]:
    child = Writer(seeded.root)
    yield child
    child.close()


def test_read_your_writes_from_another_process(
    live_server: Callable[..., LiveServer], writer: Writer
) -> None:
    check_reads_of_writes(live_server(), writer, 60)


@pytest.mark.soak
def test_read_your_writes_from_another_process_200_times(
    live_server: Callable[..., LiveServer], writer: Writer
) -> None:
    check_reads_of_writes(live_server(), writer, 200)


def check_reads_of_writes(server: LiveServer, writer: Writer, times: int) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for i in range(times):
            seq, uid = writer.ask(f"add note {i}")
            if i % 2:
                body = envelope(http.get(f"/v1/traces/{uid}", params={"min_seq": seq}))
                assert body["data"]["text"] == f"note {i}"
            else:
                sql = {"sql": "SELECT text FROM traces WHERE uid = ?", "params": [uid]}
                body = envelope(http.post("/v1/sql", params={"min_seq": seq}, json=sql))
                assert body["data"]["rows"] == [[f"note {i}"]]
            assert body["watermark"] >= seq


def run_cli_add(root: Path, text: str) -> int:
    done = subprocess.run(
        [
            str(LAKEHOUSE),
            "--store",
            str(root),
            "--json",
            "--lock-timeout",
            "2",
            "trace",
            "add",
            "--text",
            text,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(orjson.loads(done.stdout)["seq"])


def check_cli_writes(server: LiveServer, root: Path, times: int) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for i in range(times):
            seq = run_cli_add(root, f"from the cli {i}")
            sql = {
                "sql": "SELECT count(*) FROM traces WHERE text = ?",
                "params": [f"from the cli {i}"],
            }
            assert envelope(http.post(f"/v1/sql?min_seq={seq}", json=sql))["data"]["rows"] == [[1]]


def test_read_your_writes_after_lakehouse_trace_add(
    live_server: Callable[..., LiveServer], seeded: Seeded
) -> None:
    check_cli_writes(live_server(), seeded.root, 5)


@pytest.mark.soak
def test_read_your_writes_after_lakehouse_trace_add_200_times(
    live_server: Callable[..., LiveServer], seeded: Seeded
) -> None:
    check_cli_writes(live_server(), seeded.root, 200)


def test_the_watcher_follows_without_min_seq(
    live_server: Callable[..., LiveServer], writer: Writer
) -> None:
    server = live_server()
    seq, uid = writer.ask("add seen without asking")
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/health").json()["watermark"] < seq:
        assert time.monotonic() < deadline, "the watcher did not pick up the write"
        time.sleep(0.01)
    assert (
        envelope(httpx.get(f"{server.url}/v1/traces/{uid}"))["data"]["text"]
        == "seen without asking"
    )
    assert envelope(httpx.get(f"{server.url}/health"))["data"]["watching"] is True


def test_a_revision_is_never_seen_half_applied(
    live_server: Callable[..., LiveServer], writer: Writer, seeded: Seeded
) -> None:
    server = live_server()
    sql = {
        "sql": "SELECT count(*) FILTER (WHERE successor IS NOT NULL), "
        "count(*) FILTER (WHERE predecessor IS NOT NULL) FROM traces"
    }
    stop, seen, problems = threading.Event(), set(), []

    def read() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set():
                body = envelope(http.post("/v1/sql", json=sql))
                ((succeeded, preceded),) = body["data"]["rows"]
                seen.add(body["watermark"])
                if succeeded != preceded:
                    problems.append((body["watermark"], succeeded, preceded))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        uid = seeded.revised
        for i in range(30):
            _, uid = writer.ask(f"revise {uid} revision {i}")
            time.sleep(0.02)  # let the server move on between some of them
    finally:
        time.sleep(0.2)
        stop.set()
        reader.join()
    assert problems == []
    assert len(seen) > 5  # the reader saw the server move on while it read


def test_a_new_checkpoint_is_picked_up(
    live_server: Callable[..., LiveServer], writer: Writer, seeded: Seeded
) -> None:
    server = live_server()
    before = server.app.state.live.models.parts["traces"].base_seq
    assert before == seeded.checkpoint
    checkpoint, _ = writer.ask("checkpoint")
    seq, uid = writer.ask("add after the new checkpoint")
    body = envelope(httpx.get(f"{server.url}/v1/traces/{uid}", params={"min_seq": seq}))
    assert body["data"]["text"] == "after the new checkpoint"
    assert server.app.state.live.models.parts["traces"].base_seq == checkpoint > before
    count = {"sql": "SELECT count(*) FROM traces"}
    assert envelope(httpx.post(f"{server.url}/v1/sql", json=count))["data"]["rows"] == [[5]]


def test_the_event_stream_is_live(
    live_server: Callable[..., LiveServer], writer: Writer, seeded: Seeded
) -> None:
    server = live_server()
    written: list[int] = []
    events: list[dict[str, object]] = []
    with (
        httpx.Client(base_url=server.url, timeout=10) as http,
        http.stream("GET", "/v1/journal/stream", params={"after": seeded.head}) as stream,
    ):
        assert stream.headers["x-lakehouse-watermark"] == str(seeded.head)
        for i in range(3):
            written.append(writer.ask(f"add streamed {i}")[0])
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "record":
                events.append(orjson.loads(line.removeprefix("data: ")))
                if len(events) == 3:
                    break
    assert [event["seq"] for event in events] == written
    assert [event["kind"] for event in events] == ["trace.added"] * 3


def test_the_server_never_blocks_a_writer(
    live_server: Callable[..., LiveServer], seeded: Seeded
) -> None:
    server = live_server(sql_timeout=3.0)
    slow = threading.Thread(
        target=httpx.post,
        args=(f"{server.url}/v1/sql",),
        kwargs={"json": {"sql": "SELECT count(*) FROM range(100000000000)"}, "timeout": 10},
    )
    slow.start()
    time.sleep(0.3)  # the query is running, the watcher is watching
    started = time.monotonic()
    seq = run_cli_add(seeded.root, "written while the server is busy")
    assert time.monotonic() - started < 2.5
    assert envelope(httpx.get(f"{server.url}/health", params={"min_seq": seq}))
    slow.join()
