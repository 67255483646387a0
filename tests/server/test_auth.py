"""The bearer token: where it comes from, how it is checked, and where it never appears."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from lakehouse.cli import cli
from lakehouse.server import ServerRefused, check_bind, is_loopback, token_from_env, token_from_file
from tests.server.conftest import LiveServer, Seeded, TestClient, envelope

TOKEN = "s3cret-token-0123456789abcdef"


@pytest.fixture
def guarded(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(token=TOKEN.encode())) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},  # a prefix of the token
        {"Authorization": f"Bearer {TOKEN}x"},  # the token as a prefix
        {"Authorization": f"Bearer {TOKEN * 300}"},  # oversized
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "prefix", "longer", "oversized", "no-scheme", "basic", "empty"],
)
def test_a_missing_or_wrong_token_is_a_401(guarded: TestClient, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/v1/datasets"),
        ("POST", "/v1/sql"),
        ("GET", "/nope"),
        ("GET", "/openapi.json"),
    ]:
        response = guarded.request(method, path, headers=headers, json={"sql": "SELECT 1"})
        error = envelope(response, 401)["error"]
        assert error["code"] == "unauthorized"
        assert "Authorization: Bearer" in error["hint"]
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text


def test_the_token_in_the_url_is_not_accepted(guarded: TestClient) -> None:
    assert envelope(guarded.get(f"/v1/datasets?token={TOKEN}&access_token={TOKEN}"), 401)


def test_the_right_token_opens_every_route_and_health_is_open(guarded: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert envelope(guarded.get("/v1/datasets", headers=auth))
    assert envelope(guarded.post("/v1/sql", headers=auth, json={"sql": "SELECT 1"}))
    assert envelope(guarded.get("/v1/datasets", headers={"Authorization": f"bearer {TOKEN}"}))
    assert guarded.get("/openapi.json", headers=auth).status_code == 200
    assert envelope(guarded.get("/nope", headers=auth), 404)
    assert envelope(guarded.get("/health"))  # open, no token


def test_the_token_is_never_logged(
    live_server: Callable[..., LiveServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    server = live_server(token=TOKEN.encode())
    with caplog.at_level(logging.DEBUG):
        for token in (TOKEN, "wrong-token-0123456789abcdef"):
            httpx.get(f"{server.url}/v1/datasets", headers={"Authorization": f"Bearer {token}"})
            httpx.post(
                f"{server.url}/v1/sql",
                headers={"Authorization": f"Bearer {token}"},
                json={"sql": "SELECT"},
            )
    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text + out + err


def test_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LH_TOKEN", f"  {TOKEN}\n")
    assert token_from_env("LH_TOKEN") == (TOKEN.encode(),)
    monkeypatch.setenv("LH_TOKEN", "")
    with pytest.raises(ServerRefused, match="holds no token") as caught:
        token_from_env("LH_TOKEN")
    assert caught.value.exit_code == 3
    monkeypatch.setenv("LH_TOKEN", "short")
    with pytest.raises(ServerRefused, match="16 to 1024"):
        token_from_env("LH_TOKEN")


def test_a_token_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    assert token_from_file(path) == (TOKEN.encode(),)
    path.chmod(0o400)
    assert token_from_file(path) == (TOKEN.encode(),)
    for mode in (0o640, 0o604, 0o644):
        path.chmod(mode)
        with pytest.raises(ServerRefused, match="open to others") as caught:
            token_from_file(path)
        assert caught.value.hint == f"chmod 600 {path}"
    with pytest.raises(ServerRefused, match="cannot read"):
        token_from_file(tmp_path / "missing")


OLD = "old-token-0123456789abcdef"


def test_a_token_file_of_two_lines_gives_two_tokens_for_a_rotation(
    make_app: Callable[..., FastAPI], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "token"
    path.write_text(f"\n  {TOKEN}\n{OLD}  \n\n")
    path.chmod(0o600)
    tokens = token_from_file(path)
    assert tokens == (TOKEN.encode(), OLD.encode())
    monkeypatch.setenv("LH_TOKEN", f"{TOKEN} {OLD}")
    assert token_from_env("LH_TOKEN") == tokens
    with TestClient(make_app(token=tokens)) as client:
        for token in (TOKEN, OLD):
            auth = {"Authorization": f"Bearer {token}"}
            assert envelope(client.get("/v1/datasets", headers=auth))
        wrong = {"Authorization": f"Bearer {TOKEN} {OLD}"}  # both at once: neither
        assert envelope(client.get("/v1/datasets", headers=wrong), 401)
    path.write_text(f"{TOKEN}\n{OLD}\nthird-token-0123456789abcdef\n")
    with pytest.raises(ServerRefused, match="holds 3 tokens; at most 2") as caught:
        token_from_file(path)
    assert caught.value.exit_code == 3
    path.write_text(f"{TOKEN}\nshort\n")
    with pytest.raises(ServerRefused, match="16 to 1024"):
        token_from_file(path)
    path.write_text(TOKEN + " " * 4096)  # over the 4 KiB a token file may hold
    with pytest.raises(ServerRefused, match=r"larger than 4 KiB \(4,096 bytes\)"):
        token_from_file(path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_only_loopback_may_go_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_bind(host, None)
    else:
        with pytest.raises(ServerRefused, match="without a bearer token"):
            check_bind(host, None)
    check_bind(host, TOKEN.encode())


def test_serve_beyond_loopback_without_a_token_refuses_to_start(seeded: Seeded) -> None:
    result = CliRunner().invoke(cli, ["--store", str(seeded.root), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 3
    assert "error: refusing to serve on 0.0.0.0 without a bearer token" in result.stderr
    assert "hint: pass --token-env NAME or --token-file PATH, or bind to 127.0.0.1" in result.stderr


def test_serve_refuses_an_open_token_file_and_two_token_sources(
    seeded: Seeded, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o644)
    args = ["--store", str(seeded.root), "serve", "--host", "0.0.0.0", "--token-file", str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    assert f"hint: chmod 600 {path}" in result.stderr
    both = CliRunner().invoke(cli, [*args, "--token-env", "X"])
    assert both.exit_code == 2
    assert "not both" in both.stderr
    assert os.stat(path).st_mode & 0o777 == 0o644  # the server changes nothing
