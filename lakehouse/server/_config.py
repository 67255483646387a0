"""What a server is started with: its limits, its token and the address it may bind.

Nothing here imports the web stack, so the CLI can check a token and a bind address (and
refuse to start) before anything heavy is loaded.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse._errors import InvalidInput
from lakehouse._userfile import read_user_file
from lakehouse.httpkit import ServerRefused

if TYPE_CHECKING:
    from starlette.requests import Request

MAX_TOKEN_BYTES = 1024  # a longer Authorization header is refused without comparing
MAX_TOKENS = 2  # accepted at once: the new one and, while rotating, the old one
MAX_TOKEN_FILE = 4096  # bytes a token file holds at most: two tokens and their newlines
FITS = "a token file holds one or two tokens of at most 1,024 characters, one a line"
Tokens = tuple[bytes, ...]


@dataclass(frozen=True)
class ServerConfig:
    """A server's store, token and limits (every limit bounds one way to exhaust it)."""

    root: Path
    # None: no authentication (loopback only); several: any of them (rotation)
    token: bytes | Tokens | None = None
    sql_timeout: float = 10.0  # seconds a query may run before the watchdog stops it
    max_rows: int = 10_000  # rows a query returns at most (truncated beyond)
    max_bytes: int = 32 * 1024 * 1024  # bytes an answer holds at most (truncated beyond)
    result_memory: int = 160 * 1024 * 1024  # bytes all answers in flight hold; 429 beyond
    max_queries: int = 4  # queries running at once; 429 beyond
    min_seq_wait: float = 5.0  # seconds a request waits for its min_seq
    max_body_bytes: int = 1024 * 1024  # request body cap; 413 beyond
    memory_limit: str = "1GB"  # what queries may use in a generation, beyond its tail tables
    threads: int = 2  # DuckDB's worker threads, per generation of read models
    watch: bool = True  # follow the journal with watchfiles (off: refresh on min_seq only)
    max_connections: int = 512  # open at once; the oldest idle closed beyond, then 503
    client_timeout: float = 10.0  # seconds to send a whole request, or stop reading an answer
    keep_alive_timeout: float = 5.0  # seconds an idle connection lives between requests
    log_interval: float = 10.0  # seconds between log lines about refused connections

    def __post_init__(self) -> None:
        if self.sql_timeout <= 0 or self.min_seq_wait < 0:
            raise ValueError("sql_timeout must be > 0 and min_seq_wait >= 0")
        if min(self.max_rows, self.max_bytes, self.max_queries, self.max_body_bytes) < 1:
            raise ValueError("max_rows, max_bytes, max_queries and max_body_bytes must be >= 1")
        if self.max_connections < 1 or min(self.client_timeout, self.keep_alive_timeout) <= 0:
            raise ValueError("max_connections must be >= 1 and the timeouts > 0")
        if self.result_memory < 3 * self.max_bytes:  # an answer's rows, their encoding, room
            raise ValueError(
                "result_memory must be at least three times max_bytes "
                "(--result-memory, --max-bytes), so that one answer at the cap always fits"
            )

    @property
    def tokens(self) -> Tokens:
        """The bearer tokens accepted (none: no authentication)."""
        if self.token is None:
            return ()
        return (self.token,) if isinstance(self.token, bytes) else tuple(self.token)


def token_from_env(name: str) -> Tokens:
    """The bearer tokens held in environment variable `name`: one, or two (old and new,
    while rotating) separated by whitespace."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ServerRefused(
            f"environment variable {name} holds no token",
            hint=f"export {name}=<a long random string>, e.g. from `openssl rand -hex 32`",
            variable=name,
        )
    return _tokens(value.encode(), f"${name}")


def token_from_file(path: Path) -> Tokens:
    """The bearer tokens in `path`, which only its owner may read (mode 0600 or 0400): one
    line, or two (old and new, while rotating). A regular file of at most 4 KiB."""

    def private(path: Path, info: os.stat_result) -> None:
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            mode = f"{stat.S_IMODE(info.st_mode):04o}"
            raise ServerRefused(
                f"the token file {path} is open to others (mode {mode})",
                hint=f"chmod 600 {path}",
                path=str(path),
                mode=mode,
            )

    try:
        data = read_user_file(
            path, limit=MAX_TOKEN_FILE, field="--token-file", fits=FITS, stdin=False, check=private
        )
    except InvalidInput as error:  # the server refuses to start: one error for all of it
        raise ServerRefused(error.message, hint=error.hint, **error.fields) from error
    if not data.strip():
        raise ServerRefused(
            f"the token file {path} is empty",
            hint="write a long random string into it, e.g. `openssl rand -hex 32`",
            path=str(path),
        )
    return _tokens(data, str(path))


def _tokens(data: bytes, where: str) -> Tokens:
    """One or two tokens, split on whitespace (a token holds none), each checked."""
    tokens = tuple(dict.fromkeys(data.split()))
    if len(tokens) > MAX_TOKENS:
        raise ServerRefused(
            f"{where} holds {len(tokens)} tokens; at most {MAX_TOKENS} are accepted at once",
            hint="keep the new token and, while clients move to it, the old one: one a line",
        )
    for token in tokens:
        if len(token) < 16 or len(token) > MAX_TOKEN_BYTES or any(b < 33 or b > 126 for b in token):
            raise ServerRefused(
                f"the token in {where} must be 16 to {MAX_TOKEN_BYTES} printable ASCII characters",
                hint="use a long random string, e.g. `openssl rand -hex 32`",
            )
    return tokens


def is_loopback(host: str) -> bool:
    """True if `host` names only this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: bytes | Tokens | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if not token and not is_loopback(host):
        raise ServerRefused(
            f"refusing to serve on {host} without a bearer token: anyone who can reach it "
            "could read the whole store",
            hint="pass --token-env NAME or --token-file PATH, or bind to 127.0.0.1",
            host=host,
        )


def config_of(request: Request) -> ServerConfig:
    """The server's configuration."""
    config: ServerConfig = request.app.state.config
    return config
