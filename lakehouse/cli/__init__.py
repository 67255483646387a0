"""The `lakehouse` command line: `lakehouse [--store PATH] [--json] <group> <verb> ...`.

Exit codes: 0 ok, 2 usage, 3 invalid input, 4 conflict, 5 not found, 6 store busy,
7 damage found, 1 anything unexpected. Errors go to stderr as `error:` and `hint:`.
The root group (`_root.py`) holds the store's own verbs and lists each family's group
from the registry; the helpers every group shares are in lakehouse.clikit.
"""

from lakehouse.cli._root import cli, main

__all__ = ["cli", "main"]
