"""`lakehouse serve` as a command: it listens, answers, stops on SIGTERM, answers --get
in-process, and costs the other verbs nothing at import."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from tests.server.conftest import Seeded, envelope

LAKEHOUSE = Path(sys.executable).with_name("lakehouse")


def test_importing_the_cli_loads_no_web_stack() -> None:
    code = (
        "import sys, lakehouse.cli\n"
        "print(sorted({'fastapi', 'uvicorn', 'starlette', 'watchfiles', 'lakehouse.server'}"
        " & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_serve_listens_answers_and_stops_on_sigterm(seeded: Seeded) -> None:
    child = subprocess.Popen(
        [str(LAKEHOUSE), "--store", str(seeded.root), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        said = (
            r"on (http://127\.0\.0\.1:\d+) \(watermark (\d+); token off; at most \d+ connections\)"
        )
        found = re.search(said, line)
        assert found, line
        url, watermark = found.group(1), int(found.group(2))
        assert watermark == seeded.head
        health = envelope(httpx.get(f"{url}/health", timeout=5))
        assert health["data"]["watching"] is True
        with (
            httpx.Client(timeout=5) as http,
            http.stream("GET", f"{url}/v1/journal/stream") as stream,
        ):
            assert stream.status_code == 200  # an open stream must not hold up the stop
            child.send_signal(signal.SIGTERM)
            started = time.monotonic()
            # uvicorn shuts down, then re-raises the signal: the usual exit of a server
            assert child.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 3
        logged = child.stderr.read().splitlines()  # the child is gone: all of it
        assert re.fullmatch(r"\S+ \S+ GET /health 200 \d+\.\dms watermark=\d+", logged[0])
        assert re.fullmatch(r"\S+ \S+ GET /v1/journal/stream 200 .*", logged[1])
    finally:
        child.kill()
        child.wait()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()


def test_serve_refuses_a_port_in_use(seeded: Seeded) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["--store", str(seeded.root), "serve", "--port", str(port)]
        )
    assert result.exit_code == 3
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "hint: pick another --port" in result.stderr


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("/health", 0),
        ("/v1/datasets/staff", 0),
        ("v1/traces/search?q=refund+policy&k=1", 0),
        ("/v1/datasets/nope", 5),
        ("/v1/traces/search?k=0&q=x", 3),
        ("/v1/nothing", 5),
    ],
)
def test_serve_get_answers_in_process(seeded: Seeded, target: str, code: int) -> None:
    result = CliRunner().invoke(cli, ["--store", str(seeded.root), "serve", "--get", target])
    assert result.exit_code == code, result.output
    body = orjson.loads(result.stdout)
    assert body["ok"] is (code == 0)
    assert body["watermark"] == seeded.head
    if code:
        assert result.stderr.startswith(f"error: {body['error']['message']}\nhint: ")


def test_serve_get_waits_for_min_seq_and_needs_no_token(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LH_TOKEN", "0123456789abcdef0123")
    args = [
        "--store",
        str(seeded.root),
        "serve",
        "--token-env",
        "LH_TOKEN",
        "--min-seq-wait",
        "0.1",
    ]
    ok = CliRunner().invoke(cli, [*args, "--get", f"/health?min_seq={seeded.head}"])
    assert ok.exit_code == 0
    late = CliRunner().invoke(cli, [*args, "--get", f"/health?min_seq={seeded.head + 1}"])
    assert late.exit_code == 6
    assert orjson.loads(late.stdout)["error"]["code"] == "not_caught_up"


def test_serve_on_a_missing_store_exits_5(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "none"), "serve", "--get", "/health"]
    )
    assert result.exit_code == 5
    assert result.stderr.startswith("error: no store at")


@pytest.mark.parametrize(
    ("sizes", "code", "said"),
    [
        (["--max-bytes", "1KiB", "--result-memory", "3KiB"], 0, ""),
        (["--max-bytes", "1000", "--result-memory", "3KB"], 0, ""),
        (["--max-bytes", "1x"], 2, "'1x' is not a size such as 1000000, 500KB or 32MiB"),
        (["--max-bytes", "1MB", "--result-memory", "2MB"], 2, "at least three times max_bytes"),
        (["--max-connections", "8", "--client-timeout", "2", "--keep-alive-timeout", "1"], 0, ""),
        (["--max-connections", "0"], 2, "0 is not in the range x>=1"),
        (["--client-timeout", "0"], 2, "0 is not in the range x>=0.1"),
    ],
)
def test_serve_takes_its_limits_and_checks_them(
    seeded: Seeded, sizes: list[str], code: int, said: str
) -> None:
    result = CliRunner().invoke(
        cli, ["--store", str(seeded.root), "serve", *sizes, "--get", "/health"]
    )
    assert result.exit_code == code, result.output
    assert said in result.stderr
