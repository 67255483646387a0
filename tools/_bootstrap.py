"""Make sure ``.venv`` exists with the project installed, then re-run the caller inside it.

Standard library only: it runs on a fresh machine that has nothing but ``python3``.
The install is redone only when pyproject.toml changes (its hash is kept in a stamp).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".lakehouse-stamp"


def ensure_venv() -> None:
    """Create or refresh .venv, then exec the running script with its python."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if sys.version_info < (3, 11):  # noqa: UP036 - this file must run on any python3
        sys.exit(f"python >= 3.11 is needed, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if not PYTHON.exists() or not STAMP.exists() or STAMP.read_text().strip() != wanted:
        _install(wanted)
    os.execv(PYTHON, [str(PYTHON), *sys.argv])


def _install(wanted: str) -> None:
    print("bootstrap: installing dependencies into .venv (first run only)...", file=sys.stderr)
    # A venv without pip is half-made (ensurepip missing): running venv again completes it.
    if not (VENV / "bin" / "pip").exists() and _run([sys.executable, "-m", "venv", str(VENV)]):
        sys.exit(
            f"bootstrap: could not create {VENV} (see above); on Debian/Ubuntu install "
            "the python3-venv package, then rerun"
        )
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    if _run([*pip, "install", "-e", f"{REPO}[dev]"]):
        sys.exit("bootstrap: pip could not install the dependencies into .venv (see above)")
    STAMP.write_text(wanted + "\n")


def _run(command: list[str]) -> int:
    return subprocess.run(command, cwd=REPO, check=False).returncode
