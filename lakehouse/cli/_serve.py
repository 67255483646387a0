"""`lakehouse serve`: the read-only query endpoint over HTTP (see lakehouse/server/).

The web stack (fastapi, uvicorn) is imported inside the command only, so the other verbs
start as fast as before.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from lakehouse.clikit import examples, state

if TYPE_CHECKING:
    import socket

    from lakehouse.server import ServerConfig

# the exit code for a --get answer, by HTTP status (the CLI contract's codes)
EXIT_BY_STATUS = {400: 3, 404: 5, 405: 2, 406: 3, 409: 4, 413: 3, 422: 3, 429: 6, 503: 6}
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}


class Size(click.ParamType[int]):
    """A size in bytes: 1000000, 500KB, 32MiB, 1GB (KB is 1000 bytes, KiB 1024)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The size in bytes, or a usage error naming what a size looks like."""
        if isinstance(value, int):
            return value
        found = re.fullmatch(r"\s*(\d+)\s*([kmg]i?b|b)?\s*", str(value), re.IGNORECASE)
        if found is None or int(found.group(1)) < 1:
            self.fail(f"{value!r} is not a size such as 1000000, 500KB or 32MiB", param, ctx)
        return int(found.group(1)) * _UNITS[(found.group(2) or "").lower()]


SIZE = Size()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed on stderr).",
)
@click.option(
    "--token-env",
    metavar="NAME",
    help="Require the bearer token in this env variable (or either of two, space-separated).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Require the bearer token in this file: a regular file, mode 0600, at most 4 KiB; "
    "a second line holds a second token accepted too (to rotate one out).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="One line per request on stderr: time, method, path (no query string), status, "
    "milliseconds, watermark; never a header, so never the token.",
)
@click.option(
    "--get",
    "target",
    metavar="PATH",
    help="Answer one GET in-process (no socket), print the body; exit 0 only on 200.",
)
@click.option(
    "--sql-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop a query after this long.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    metavar="N",
    help="Rows a query returns at most (truncated beyond).",
)
@click.option(
    "--max-queries",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    metavar="N",
    help="Queries running at once; 429 beyond.",
)
@click.option(
    "--max-bytes",
    type=SIZE,
    default="32MiB",
    show_default=True,
    metavar="SIZE",
    help="Bytes one answer holds at most, as rows and as encoded (truncated beyond).",
)
@click.option(
    "--result-memory",
    type=SIZE,
    default="160MiB",
    show_default=True,
    metavar="SIZE",
    help="Bytes all answers in flight hold together (429 beyond); at least 3x --max-bytes.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    metavar="N",
    help="Connections open at once (fewer if `ulimit -n` is low); at the cap the oldest "
    "idle one is closed, and if none is idle the new one gets 503.",
)
@click.option(
    "--client-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection that takes longer to send a whole request (from connecting or "
    "its first byte), or that stops reading an answer for this long.",
)
@click.option(
    "--keep-alive-timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection idle this long between two requests.",
)
@click.option(
    "--min-seq-wait",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a request waits for its min_seq before 503.",
)
@examples("""
lakehouse serve                                   # http://127.0.0.1:8765
LH_TOKEN=$(openssl rand -hex 32) lakehouse serve --host 0.0.0.0 --token-env LH_TOKEN
lakehouse serve --get '/v1/traces/search?q=refund+policy&k=3'
curl -s localhost:8765/v1/sql --json '{"sql": "SELECT count(*) FROM traces"}'
""")
def serve(
    *,
    host: str,
    port: int,
    token_env: str | None,
    token_file: Path | None,
    access_log: bool,
    target: str | None,
    **limits: Any,
) -> None:
    """Serve read-only SQL, entity reads, search and the journal feed over HTTP.

    Every response carries the watermark it reflects; pass min_seq=N to wait for your own
    write. Beyond loopback a bearer token is required (--token-env or --token-file); only
    /health is open. The server takes no lock: mutation verbs never wait for it.
    """
    from lakehouse.server import ServerConfig, check_bind, token_from_env, token_from_file

    if token_env and token_file:
        raise click.UsageError("pass --token-env or --token-file, not both")
    token: tuple[bytes, ...] | None = None
    if token_env:
        token = token_from_env(token_env)
    elif token_file:
        token = token_from_file(token_file)
    if target is None:
        check_bind(host, token)
    try:
        config = ServerConfig(
            state().store,
            token=None if target is not None else token,  # in-process: no one to authenticate
            watch=target is None,
            **limits,  # the options below --get are named as ServerConfig's fields
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if target is not None:
        _answer_once(config, target)
    else:
        if access_log:
            _log_access()
        _run(config, host, port)


def _answer_once(config: ServerConfig, target: str) -> None:
    from lakehouse.server import create_app, get

    status, _headers, body = get(create_app(config), target)
    sys.stdout.buffer.write(body if body.endswith(b"\n") else body + b"\n")
    sys.stdout.flush()
    if status != 200:
        try:
            error = orjson.loads(body)["error"]
            click.echo(f"error: {error['message']}", err=True)
            if error.get("hint"):
                click.echo(f"hint: {error['hint']}", err=True)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            click.echo(f"error: HTTP {status}", err=True)
        click.get_current_context().exit(EXIT_BY_STATUS.get(status, 1))


def _run(config: ServerConfig, host: str, port: int) -> None:
    from lakehouse.server import create_app, make_server

    app = create_app(config)
    server = make_server(app)  # before listening: it may refuse for want of descriptors
    sock = _listen(host, port)
    where = f"[{host}]" if ":" in host else host
    limit = server.guard.limit
    fewer = f", fewer than --max-connections {config.max_connections}: see ulimit -n"
    click.echo(
        f"serving {config.root} on http://{where}:{sock.getsockname()[1]} "
        f"(watermark {app.state.live.watermark}; {_token_note(config.tokens)}; "
        f"at most {limit} connections{fewer if limit < config.max_connections else ''})",
        err=True,
    )
    server.run(sockets=[sock])


def _log_access() -> None:
    """Send the access log (lakehouse.server.access, see _middleware) to stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("lakehouse.server.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _token_note(tokens: tuple[bytes, ...]) -> str:
    if not tokens:
        return "token off"
    return "token required" if len(tokens) == 1 else f"token required, any of {len(tokens)}"


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket bound to host:port (its port is known even when 0 was asked)."""
    import socket

    from lakehouse.httpkit import ServerRefused

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServerRefused(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port (0 picks a free one) or another --host",
            host=host,
            port=port,
        ) from exc
    sock.set_inheritable(True)
    return sock
