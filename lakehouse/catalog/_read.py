"""Reading a dataset's rows: `store.datasets.read(name)` as Arrow, and export to a file.

The rows are the dataset's Parquet objects in the store, opened one directory at a time
without following a symlink (journal.open_file), as every path below the root is.
`export` writes a Parquet file (row groups streamed from the objects, the schema as
stored) or a CSV file (the rows as `lakehouse sql --format csv` writes them), to a temp
file beside the target, fsync'd and then linked into place: a reader of the target sees
nothing or all of it, and an existing file is never replaced unless `force`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journal import fsync_dir, open_file
from lakehouse._errors import InvalidInput, NotFound
from lakehouse.catalog._family import CATALOG
from lakehouse.catalog._models import ENTITY, dataset_id

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakehouse._kernel import Host
    from lakehouse.catalog._models import DatasetHead

EXPORT_FORMATS = {".parquet": "parquet", ".csv": "csv"}


def dataset_head(store: Host, name: str) -> DatasetHead:
    """The head of dataset `name` (a dropped one too); NotFound if there never was one."""
    head = store.heads().get(CATALOG, name)
    if head is None:
        raise not_found(name)
    return head


def not_found(name: str) -> NotFound:
    """The error for a dataset name no record has created."""
    return NotFound(
        f"no dataset {name!r}",
        hint="list datasets with 'lakehouse dataset list'",
        entity=ENTITY,
        id=name,
        dataset_id=dataset_id(name),
    )


def live_head(store: Host, name: str) -> DatasetHead:
    """The head of dataset `name` if it is not dropped; NotFound otherwise."""
    head = dataset_head(store, name)  # NotFound if there never was one
    if head["dropped"]:
        raise NotFound(
            f"dataset {name!r} was dropped at seq {head['seq']}",
            hint="'lakehouse dataset list' shows the datasets there are",
            entity="dataset",
            id=name,
        )
    return head


def parquet_files(store: Host, head: DatasetHead) -> Iterator[pq.ParquetFile]:
    """Each of the dataset's Parquet objects, opened safely, in the order recorded."""
    import pyarrow.parquet as pq

    for file in head.get("files") or []:
        fd = open_file(store.root, file["path"], os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            yield pq.ParquetFile(handle)


def read(store: Host, name: str) -> pa.Table:
    """Dataset `name`'s rows as one Arrow table, in the schema it was stored with."""
    import pyarrow as pa

    head = live_head(store, name)
    tables = [parquet.read() for parquet in parquet_files(store, head)]
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables)


def export(store: Host, name: str, to: str | os.PathLike[str], *, force: bool) -> dict[str, Any]:
    """Write dataset `name` to `to` (.parquet or .csv), atomically; what was written."""
    target = Path(to)
    fmt = EXPORT_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"cannot tell the format of {str(target)!r} from its suffix",
            hint="name the file FILE.parquet or FILE.csv",
            field="to",
        )
    _check_target(store, target, force=force)
    head = live_head(store, name)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        if fmt == "parquet":
            rows = _write_parquet(store, head, temp)
        else:
            rows = _write_csv(store, name, temp)
        _publish(temp, target, force=force)
    except OSError as error:
        raise InvalidInput(
            f"cannot write {str(target)!r}: {error.strerror or error}",
            hint="check that its directory is writable and its disk has room",
            field="to",
        ) from error
    finally:
        temp.unlink(missing_ok=True)
    return {"dataset": name, "rev": head["rev"], "rows": rows, "format": fmt, "path": str(target)}


def _check_target(store: Host, target: Path, *, force: bool) -> None:
    where = target.resolve()
    if where.is_relative_to(store.root.resolve()):
        raise InvalidInput(
            f"{str(target)!r} is inside the store; the store holds only what it writes itself",
            hint="export to a path outside the store directory",
            field="to",
        )
    if not where.parent.is_dir():
        raise InvalidInput(
            f"the directory of {str(target)!r} does not exist",
            hint="create the directory first, or export elsewhere",
            field="to",
        )
    if (target.exists() or target.is_symlink()) and not force:
        raise InvalidInput(
            f"{str(target)!r} exists already",
            hint="pass --force to replace it, or export to a new name",
            field="to",
        )


def _write_parquet(store: Host, head: DatasetHead, temp: Path) -> int:
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    rows = 0
    with _created(temp) as sink:
        try:
            for parquet in parquet_files(store, head):
                if writer is None:
                    writer = pq.ParquetWriter(sink, parquet.schema_arrow, compression="zstd")
                for group in range(parquet.num_row_groups):
                    table = parquet.read_row_group(group)
                    writer.write_table(table)
                    rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # no file: an empty Parquet file of no columns
            import pyarrow as pa

            pq.write_table(pa.table({}), sink)
        _sync(sink)
    return rows


def _write_csv(store: Host, name: str, temp: Path) -> int:
    from lakehouse._query import sql
    from projections import quote, render

    # through the dataset's view, so the file is what `lakehouse sql --format csv` prints
    result = sql(store, f"SELECT * FROM {quote(name)}", timeout=None)
    with _created(temp) as sink:
        for piece in render(result, "csv"):
            sink.write(piece.encode())
        _sync(sink)
    return int(result.table.num_rows)


def _created(temp: Path) -> Any:
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    return os.fdopen(fd, "wb")


def _sync(sink: Any) -> None:
    sink.flush()
    os.fsync(sink.fileno())  # before the link: a crash must not publish a short file


def _publish(temp: Path, target: Path, *, force: bool) -> None:
    """Put `temp` in place as `target`: replacing it only if `force`, else refusing."""
    if force:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)  # fails if the target appeared meanwhile: never replaced
        except FileExistsError:
            raise InvalidInput(
                f"{str(target)!r} exists already",
                hint="pass --force to replace it, or export to a new name",
                field="to",
            ) from None
    fsync_dir(target.parent)  # the new name survives a crash
