"""`CsvOptions`: what the caller says about a CSV, beside what DuckDB's sniffer decides."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV: DuckDB sniffs what is not given."""

    delimiter: str | None = None
    null_values: tuple[str, ...] | None = None  # None: the empty field, DuckDB's default
    columns: tuple[tuple[str, str], ...] = ()  # (name, DuckDB type), types canonical

    def typed(self, name: str) -> bool:
        """Whether the caller gave column `name` its type."""
        return any(column == name for column, _ in self.columns)
