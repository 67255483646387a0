"""What the operating system knows about a store: its mount, and who holds its lock.

Both are read without touching the store: the mount table (``/proc/self/mounts``) and
the kernel's table of file locks (``/proc/locks``). Asking the lock itself would mean
taking it, if only for an instant; the doctor never does (tests/doctor/test_quick.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

MOUNTS = Path("/proc/self/mounts")
LOCKS = Path("/proc/locks")
# filesystems whose locks, fsync or rename are not the local kernel's to promise
NETWORK = frozenset(
    {
        "9p",
        "afs",
        "beegfs",
        "ceph",
        "cifs",
        "coda",
        "davfs",
        "fuse",
        "gfs2",
        "glusterfs",
        "gpfs",
        "lustre",
        "ncpfs",
        "nfs",
        "nfs4",
        "ocfs2",
        "smb3",
        "smbfs",
        "sshfs",
        "virtiofs",
    }
)
_ESCAPE = re.compile(r"\\([0-7]{3})")
_HOLDER_BYTES = 256  # the LOCK file's holder stamp (journal/_lock.py writes it)


@dataclass(frozen=True)
class Mount:
    """One line of the mount table: what is mounted where, with which filesystem type."""

    source: str
    point: str
    fstype: str

    @property
    def network(self) -> bool:
        """True for a network or user-space (FUSE) filesystem; fuseblk is a local disk."""
        return self.fstype in NETWORK or (
            self.fstype.startswith("fuse.") and self.fstype != "fuseblk"
        )


def _unescape(field: str) -> str:
    """The mount table writes a space as \\040, a tab as \\011, a backslash as \\134."""
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def mount_of(path: Path, table: Path = MOUNTS) -> Mount | None:
    """The mount `path` lies on: the longest mount point that is a prefix of its real path.

    When two mounts share a mount point, the later line (the one on top) wins. None if
    the table cannot be read (not Linux).
    """
    try:
        text = table.read_text(errors="replace")
    except OSError:
        return None
    real = os.path.realpath(path)
    best: Mount | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2])
        point = mount.point.rstrip("/") or "/"
        inside = point in (real, "/") or real.startswith(point + "/")
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best


def lock_holder(root: Path, *, locks: Path = LOCKS) -> dict[str, str] | None:
    """Who holds the store lock now, from the kernel's lock table; None if nobody does.

    Raises LookupError when the table cannot answer (no /proc/locks): the caller then
    asks the journal, which probes the lock without waiting. The holder's name and time
    come from the stamp it wrote into the LOCK file; its pid from the lock table.
    """
    path = root / "LOCK"
    try:
        info = os.stat(path)
        text = locks.read_text()
    except FileNotFoundError:
        if not locks.exists():
            raise LookupError(str(locks)) from None
        return None  # no LOCK file: nobody has ever written to this store
    except OSError as exc:
        raise LookupError(str(locks)) from exc
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in text.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 31752 fe:00:2154501 0 EOF"; waiters have a "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return {**_stamp(path), "pid": fields[4]}
    return None


def _stamp(path: Path) -> dict[str, str]:
    """The holder stamp in the LOCK file ({"writer": ..., "since": ...}), or {}."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_HOLDER_BYTES).strip()
        stamp = orjson.loads(raw) if raw else {}
    except (OSError, orjson.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in stamp.items()} if isinstance(stamp, dict) else {}
