"""What every command line group shares: the state of the running command, `--json` and
`--format`, the mutation options, the outcome and row printers, the error boundary.

The `lakehouse` root group (lakehouse.cli) and every family's group (`lakehouse/<family>/
_cli.py`) build on these, so a family's group never imports the package that registers
it. Only click and orjson are loaded here: a mutation verb must start fast.
"""

from lakehouse.clikit._common import (
    CONTEXT,
    SEQ,
    FloatRange,
    IntRange,
    LakehouseGroup,
    State,
    emit,
    examples,
    json_option,
    progress,
    report_error,
    state,
    store_path,
)
from lakehouse.clikit._mutation import (
    describe,
    mutation_options,
    open_store,
    print_head,
    print_outcome,
)
from lakehouse.clikit._output import FORMATS, chosen_format, format_option, print_result, print_rows

__all__ = [
    "CONTEXT",
    "FORMATS",
    "SEQ",
    "FloatRange",
    "IntRange",
    "LakehouseGroup",
    "State",
    "chosen_format",
    "describe",
    "emit",
    "examples",
    "format_option",
    "json_option",
    "mutation_options",
    "open_store",
    "print_head",
    "print_outcome",
    "print_result",
    "print_rows",
    "progress",
    "report_error",
    "state",
    "store_path",
]
