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

from lakehouse.server._errors import ServerRefused

MAX_TOKEN_BYTES = 1024  # a longer Authorization header is refused without comparing


@dataclass(frozen=True)
class ServerConfig:
    """A server's store, token and limits (every limit bounds one way to exhaust it)."""

    root: Path
    token: bytes | None = None  # None: no authentication (loopback only)
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


def token_from_env(name: str) -> bytes:
    """The bearer token held in environment variable `name`."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ServerRefused(
            f"environment variable {name} holds no token",
            hint=f"export {name}=<a long random string>, e.g. from `openssl rand -hex 32`",
            variable=name,
        )
    return _checked(value.encode(), f"${name}")


def token_from_file(path: Path) -> bytes:
    """The bearer token in `path`, which only its owner may read (mode 0600 or 0400)."""
    try:
        info = path.stat()
        data = path.read_bytes().strip()
    except OSError as exc:
        raise ServerRefused(
            f"cannot read the token file {path}: {exc.strerror}",
            hint="pass a readable file holding only the token",
            path=str(path),
        ) from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ServerRefused(
            f"the token file {path} is open to others (mode {stat.S_IMODE(info.st_mode):04o})",
            hint=f"chmod 600 {path}",
            path=str(path),
            mode=f"{stat.S_IMODE(info.st_mode):04o}",
        )
    if not data:
        raise ServerRefused(
            f"the token file {path} is empty",
            hint="write a long random string into it, e.g. `openssl rand -hex 32`",
            path=str(path),
        )
    return _checked(data, str(path))


def _checked(token: bytes, where: str) -> bytes:
    if len(token) < 16 or len(token) > MAX_TOKEN_BYTES or any(b < 33 or b > 126 for b in token):
        raise ServerRefused(
            f"the token in {where} must be 16 to {MAX_TOKEN_BYTES} printable ASCII characters",
            hint="use a long random string, e.g. `openssl rand -hex 32`",
        )
    return token


def is_loopback(host: str) -> bool:
    """True if `host` names only this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: bytes | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if token is None and not is_loopback(host):
        raise ServerRefused(
            f"refusing to serve on {host} without a bearer token: anyone who can reach it "
            "could read the whole store",
            hint="pass --token-env NAME or --token-file PATH, or bind to 127.0.0.1",
            host=host,
        )
