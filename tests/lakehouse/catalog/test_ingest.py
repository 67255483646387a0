"""Ingest: CSV/Parquet in, content-addressed Parquet out; every refusal names the file and
leaves nothing under objects/."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse._errors import InvalidInput
from lakehouse.catalog import (
    RESERVED_NAMES,
    ObjectInfo,
    _objects,
    columns_fingerprint,
    csv_options,
    detect_format,
    ingest_file,
    inspect_parquet,
    read_table,
    schema_columns,
    schema_fingerprint,
    validate_dataset_name,
    write_object,
)
from lakehouse.catalog._prefetch import prefetch

TYPED_CSV = (
    "id,rate,active,start,name\n"
    "1,12.5,true,2024-01-02,Ana\n"
    "2,7,false,2023-12-31,Ben\n"
    "3,,true,2022-02-28,\n"
)


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def left_under_objects(store: Path) -> list[str]:
    """objects/ itself (if it exists) and everything under it."""
    found = [*store.glob("objects"), *store.glob("objects/**/*")]
    return sorted(str(p.relative_to(store)) for p in found)


def refusal(store: Path, path: Path, name: str = "staff") -> InvalidInput:
    """Ingest `path`, expect InvalidInput naming the file, and that objects/ stayed empty."""
    with pytest.raises(InvalidInput) as caught:
        ingest_file(store, name, path)
    error = caught.value
    assert error.fields["field"] == "file"
    assert error.fields["file"] == str(path)
    assert str(path) in error.message
    assert error.hint
    assert left_under_objects(store) == []
    return error


SAMPLE_ROWS = 20_480  # DuckDB sniffs the types of a CSV from this many rows


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """1000-row groups, 1 KiB dictionaries: small files cross every edge."""
    monkeypatch.setattr(_objects, "ROW_GROUP_ROWS", 1000)
    options = {**_objects.PARQUET_OPTIONS, "dictionary_pagesize_limit": 1024}
    monkeypatch.setattr(_objects, "PARQUET_OPTIONS", options)
    return 1 << 16


# --- reading CSV -------------------------------------------------------------------------


def test_csv_types_are_inferred(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "staff.csv", TYPED_CSV)
    table, source_format = read_table(csv)
    assert source_format == "csv"
    expected = [
        ("id", pa.int64()),
        ("rate", pa.float64()),
        ("active", pa.bool_()),
        ("start", pa.date32()),
        ("name", pa.string()),
    ]
    assert [(f.name, f.type) for f in table.schema] == expected
    info = ingest_file(store, "staff", csv)
    stored = pq.read_table(store / info.path)
    assert [(f.name, f.type) for f in stored.schema] == expected
    assert stored.to_pylist()[2] == {
        "id": 3,
        "rate": None,  # an empty field is NULL, as DuckDB's read_csv reads it
        "active": True,
        "start": datetime.date(2022, 2, 28),
        "name": None,  # in a text column too
    }
    assert info.schema == [{"name": n, "type": str(t)} for n, t in expected]
    assert info.rows == 3


def test_quoted_commas_quotes_and_line_breaks_round_trip(tmp_path: Path, store: Path) -> None:
    notes = ["plain", "a, b, c", 'she said ""hi""', "line one\nline two, too", "crlf\r\nend", ""]
    body = "".join(f'{i},"{note}"\n' for i, note in enumerate(notes))
    csv = write(tmp_path / "notes.csv", "id,notes\n" + body)
    info = ingest_file(store, "notes", csv)
    stored = pq.read_table(store / info.path).column("notes").to_pylist()
    # a quoted empty field is NULL too, as DuckDB's read_csv reads it
    assert stored == [note.replace('""', '"') or None for note in notes]
    assert info.rows == len(notes)


def test_header_only_is_zero_rows_and_an_empty_file_is_refused(tmp_path: Path, store: Path) -> None:
    for name, data in [("with_newline", "id,name\n"), ("without_newline", "id,name")]:
        info = ingest_file(store, name, write(tmp_path / f"{name}.csv", data))
        assert info.rows == 0
        assert [c["name"] for c in info.schema] == ["id", "name"]
        assert pq.read_metadata(store / info.path).num_rows == 0
    store_b = tmp_path / "b"
    store_b.mkdir()
    error = refusal(store_b, write(tmp_path / "empty.csv", b""))
    assert "is empty" in error.message
    error = refusal(store_b, write(tmp_path / "blank.csv", b"\n"))
    assert "no header row" in error.message


def test_ragged_row_is_refused_naming_file_and_row(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "ragged.csv", 'a,b,c\n1,2,3\n4,"5\n5"\n6,7,8\n')
    error = refusal(store, csv)
    assert "line 3 has 2 fields, expected 3 (as the header has)" in error.message
    assert error.hint is not None and "every row needs 3 fields" in error.hint
    assert (error.fields["line"], error.fields["expected_columns"]) == (3, 3)
    assert error.fields["actual_columns"] == 2
    assert "duckdb" in type(error.__cause__).__module__  # chained at the boundary


def test_ragged_row_deep_in_a_big_file_is_located(
    tmp_path: Path, store: Path, small_blocks: int
) -> None:
    lines = ["a,b,c"] + [f"{i},x{i},{i}.5" for i in range(40_000)]
    lines[30_001] = "30000,too,many,columns"
    csv = write(tmp_path / "big.csv", "\n".join(lines) + "\n")
    assert csv.stat().st_size > 4 * small_blocks  # parsed on threads: pyarrow knows no row
    error = refusal(store, csv)
    assert error.fields["line"] == 30_002
    assert "has 4 fields, expected 3" in error.message


def test_latin1_is_refused_with_the_encoding_hint(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "latin.csv", "id,city\n1,Kraków\n2,São Paulo\n".encode("latin-1"))
    error = refusal(store, csv)
    offset = csv.read_bytes().index("ó".encode("latin-1"))
    assert f"line 2 (byte offset {offset}) is not valid UTF-8" in error.message
    assert (error.fields["line"], error.fields["offset"]) == (2, offset)
    assert error.hint is not None and "UTF-8" in error.hint
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_table(csv)
    header = write(tmp_path / "header.csv", "id,ciudad_añadida\n1,x\n".encode("latin-1"))
    assert "not valid UTF-8" in refusal(store, header).message


def test_latin1_after_the_first_block_is_refused(
    tmp_path: Path, store: Path, small_blocks: int
) -> None:
    good = "".join(f"{i},city{i}\n" for i in range(20_000)).encode()
    csv = write(tmp_path / "late.csv", b"id,city\n" + good + "20000,Kraków\n".encode("latin-1"))
    assert csv.stat().st_size > 4 * small_blocks
    error = refusal(store, csv)
    assert "not UTF-8" in error.message and error.fields["line"] == 20_002


def test_duplicate_and_unnamed_csv_columns_are_named_as_read_csv_names_them(
    tmp_path: Path, store: Path
) -> None:
    import duckdb

    for name, text in [
        ("dup", "id,name,id\n1,a,2\n"),
        ("case", "Name,name\na,b\n"),
        ("blank", "id,,name\n1,2,3\n"),
    ]:
        csv = write(tmp_path / f"{name}.csv", text)
        columns = duckdb.sql(f"SELECT * FROM read_csv('{csv}')").columns
        assert len({column.lower() for column in columns}) == len(columns)
        assert [c["name"] for c in ingest_file(store, f"{name}_csv", csv).schema] == columns


def test_duplicate_and_unnamed_parquet_columns_are_refused(tmp_path: Path, store: Path) -> None:
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table([[1], ["a"], [2]], names=["id", "name", "id"]), dup)
    error = refusal(store, dup)
    assert "duplicate column name 'id'" in error.message
    assert error.fields["column"] == "id"
    case = tmp_path / "case.parquet"
    pq.write_table(pa.table([["a"], ["b"]], names=["Name", "name"]), case)
    assert "duplicate column name 'name' (also spelled 'Name')" in refusal(store, case).message
    blank = tmp_path / "blank.parquet"
    pq.write_table(pa.table([[1], [2]], names=["id", " "]), blank)
    assert "column 2 has no name" in refusal(store, blank).message


def test_a_parquet_named_file_that_is_not_parquet_is_refused(tmp_path: Path, store: Path) -> None:
    fake = write(tmp_path / "data.parquet", TYPED_CSV)
    error = refusal(store, fake)
    assert f"{fake} is not a Parquet file" in error.message
    with pytest.raises(InvalidInput, match="is not a Parquet file"):
        inspect_parquet(write(tmp_path / "data.csv", TYPED_CSV))
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), good)
    truncated = write(tmp_path / "truncated.csv", good.read_bytes()[:-10])
    assert "truncated?" in refusal(store, truncated).message


def test_broken_gzip_other_compressions_missing_and_directory_inputs_are_refused(
    tmp_path: Path, store: Path
) -> None:
    gz = write(tmp_path / "staff.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    assert "is not a whole gzip file" in refusal(store, gz).message
    whole = gzip.compress(TYPED_CSV.encode())
    cut = write(tmp_path / "cut.csv.gz", whole[: len(whole) // 2])
    assert "is not a whole gzip file" in refusal(store, cut).message
    zst = write(tmp_path / "staff.csv.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    assert "zstd-compressed" in refusal(store, zst).message
    assert "cannot read" in refusal(store, tmp_path / "missing.csv").message
    assert "cannot read" in refusal(store, tmp_path).message


# --- writing objects ---------------------------------------------------------------------


def test_same_csv_twice_gives_the_same_object_and_no_second_file(
    tmp_path: Path, store: Path
) -> None:
    csv = write(tmp_path / "staff.csv", TYPED_CSV)
    first = ingest_file(store, "staff", csv)
    second = ingest_file(store, "staff", csv)
    assert first == second
    assert (first.created, second.created) == (True, False)
    directory = store / "objects" / "datasets" / "staff"
    assert [p.name for p in directory.iterdir()] == [Path(first.path).name]
    data = (store / first.path).read_bytes()
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.bytes == len(data)
    assert first.path == f"objects/datasets/staff/{first.fingerprint}-{first.sha256}.parquet"


def test_the_object_depends_on_the_data_not_on_the_path_it_took(
    tmp_path: Path, store: Path, small_blocks: int
) -> None:
    rows = "".join(f"{i},name {i},{i * 0.25},2024-01-{i % 28 + 1:02d}\n" for i in range(9_500))
    csv = write(tmp_path / "big.csv", "id,name,score,day\n" + rows)
    assert csv.stat().st_size > 4 * small_blocks  # several CSV blocks
    streamed = ingest_file(store, "a", csv)
    table, _ = read_table(csv)
    whole = write_object(store, "b", table)
    assert streamed.sha256 == whole.sha256
    assert pq.read_metadata(store / streamed.path).num_row_groups == 10  # 1000-row groups
    with_metadata = tmp_path / "with_metadata.parquet"
    pq.write_table(table.replace_schema_metadata({"pandas": "{}"}), with_metadata)
    registered = ingest_file(store, "c", with_metadata)  # a Parquet copy, re-encoded
    assert registered.sha256 == streamed.sha256


def test_a_type_that_widens_after_the_sample_matches_read_csv_of_every_row(
    tmp_path: Path, store: Path, small_blocks: int
) -> None:
    import duckdb

    ints = "".join(f"{i},{i}\n" for i in range(SAMPLE_ROWS + 500))
    csv = write(tmp_path / "widen.csv", "id,amount\n" + ints + "1,2.5\n2,unknown\n")
    # DuckDB's read_csv sniffs BIGINT from its sample and then fails on 'unknown' ...
    with pytest.raises(duckdb.ConversionException):
        duckdb.sql(f"SELECT * FROM read_csv('{csv}')").fetchall()
    # ... so ingest reads the file again with every row sniffed, as sample_size=-1 does
    info = ingest_file(store, "widen", csv)
    want = duckdb.sql(f"SELECT * FROM read_csv('{csv}', sample_size=-1)").to_arrow_table()
    table, _ = read_table(csv)
    assert [c["type"] for c in info.schema] == ["int64", "string"]
    assert schema_fingerprint(table.schema) == info.fingerprint == schema_fingerprint(want.schema)
    assert pq.read_table(store / info.path).equals(table)
    assert table.to_pylist() == want.to_pylist()
    # a HUGEINT column (stored as DECIMAL(38,0)) widens to text the same way
    huge = "".join(f"{i},{2**70 + i}\n" for i in range(SAMPLE_ROWS + 500))
    csv = write(tmp_path / "huge.csv", "id,x\n" + huge + "1,abc\n")
    assert [c["type"] for c in ingest_file(store, "huge", csv).schema] == ["int64", "string"]


# --- numbers: never a value that differs from its text without a word ---------------------


def test_an_int_beyond_bigint_is_kept_exactly_as_decimal(tmp_path: Path, store: Path) -> None:
    import duckdb

    big = [2**63, 2**64, -(2**100), 10**38 - 1]
    csv = write(tmp_path / "big.csv", "n,big\n" + "".join(f"{i},{v}\n" for i, v in enumerate(big)))
    sniffed = duckdb.sql(f"SELECT * FROM read_csv('{csv}')")
    assert [str(kind) for kind in sniffed.types] == ["BIGINT", "HUGEINT"]  # what DuckDB makes
    info = ingest_file(store, "big", csv)
    assert info.schema[1] == {"name": "big", "type": "decimal128(38, 0)"}
    assert [int(v) for v in pq.read_table(store / info.path).column("big").to_pylist()] == big


@pytest.mark.parametrize(
    ("value", "other", "what"),
    [
        (str(10**38), "4", "more than the 38 digits a Parquet DECIMAL(38,0) holds"),
        (str(10**40), "4", "holds integers beyond HUGEINT (DuckDB's BIGNUM)"),
        ("1e400", "4.5", "beyond what a DOUBLE holds (it would be stored as infinity)"),
        (str(2**70 + 1), "4.5", "an integer a DOUBLE cannot hold exactly (it would be 1.1805"),
    ],
    ids=["hugeint-39-digits", "bignum", "double-overflow", "double-inexact"],
)
def test_a_number_that_cannot_be_stored_as_written_is_refused(
    tmp_path: Path, store: Path, value: str, other: str, what: str
) -> None:
    csv = write(tmp_path / "n.csv", f"id,x\n1,2\n2,{value}\n3,{other}\n")
    error = refusal(store, csv)
    assert what in error.message and "'x'" in error.message
    assert error.fields["column"] == "x"
    assert error.hint is not None and "--column x=VARCHAR" in error.hint
    kept = ingest_file(store, "kept", csv, options=csv_options(None, None, {"x": "VARCHAR"}))
    assert pq.read_table(store / kept.path).column("x").to_pylist() == ["2", value, other]


def test_a_double_that_holds_its_integers_exactly_is_kept(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "n.csv", f"id,x\n1,{2**60}\n2,1e300\n3,4.5\n")
    info = ingest_file(store, "n", csv)
    assert pq.read_table(store / info.path).column("x").to_pylist() == [2.0**60, 1e300, 4.5]


def test_an_infinity_written_as_such_is_kept(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "inf.csv", "id,x\n1,1.5\n2,inf\n3,-Infinity\n4,NaN\n")
    info = ingest_file(store, "inf", csv)
    values = pq.read_table(store / info.path).column("x").to_pylist()
    assert values[:3] == [1.5, float("inf"), float("-inf")] and values[3] != values[3]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": "NOPE"}, "--column id=NOPE: 'NOPE' is not a DuckDB type"),
        ({"id": "INTERVAL"}, "--column id=INTERVAL: a dataset column cannot be INTERVAL"),
        ({"id": "INTEGER[]"}, "--column id=INTEGER[]: a dataset column cannot be INTEGER[]"),
    ],
)
def test_a_column_type_must_be_one_a_dataset_holds(columns: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_options(None, None, columns)
    assert caught.value.message.startswith(message)
    assert caught.value.fields["field"] == "columns"


def test_a_value_that_is_not_its_given_type_is_refused_naming_it(
    tmp_path: Path, store: Path
) -> None:
    csv = write(tmp_path / "t.csv", "id,x\n1,2\n2,two\n")
    with pytest.raises(InvalidInput) as caught:
        ingest_file(store, "t", csv, options=csv_options(None, None, {"x": "INT"}))
    assert caught.value.message == (
        f"{csv}: line 3: column 'x' holds 'two', which is not a INTEGER"
    )
    assert (caught.value.fields["line"], caught.value.fields["column"]) == (3, "x")
    assert left_under_objects(store) == []


def test_a_damaged_object_is_replaced_by_a_good_copy(tmp_path: Path, store: Path) -> None:
    csv = write(tmp_path / "staff.csv", TYPED_CSV)
    info = ingest_file(store, "staff", csv)
    target = store / info.path
    target.write_bytes(target.read_bytes()[:-5] + b"XXXXX")
    again = ingest_file(store, "staff", csv)
    assert again.created is True
    assert hashlib.sha256(target.read_bytes()).hexdigest() == info.sha256


@pytest.mark.parametrize("failing", ["file", "directory"])
def test_a_failed_fsync_leaves_nothing_behind(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    real_fsync, calls = os.fsync, []

    def broken_fsync(fd: int) -> None:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        calls.append("directory" if is_dir else "file")
        if calls[-1] == failing:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        ingest_file(store, "staff", write(tmp_path / "staff.csv", TYPED_CSV))
    assert calls[-1] == failing
    assert left_under_objects(store) == []


def test_a_refusal_mid_stream_removes_the_temp_file(
    tmp_path: Path, store: Path, small_blocks: int
) -> None:
    lines = "".join(f"{i},x\n" for i in range(60_000))
    csv = write(tmp_path / "late.csv", "a,b\n" + lines + "1,2,3\n")
    assert csv.stat().st_size > 4 * small_blocks  # the temp file exists when the row is met
    (store / "objects").mkdir()  # a directory that was there before is kept
    with pytest.raises(InvalidInput) as caught:
        ingest_file(store, "late", csv)
    assert caught.value.fields["line"] == 60_002
    assert left_under_objects(store) == ["objects"]


def test_progress_reports_bytes_in_the_calling_thread(tmp_path: Path, store: Path) -> None:
    rows = "".join(f"{i},{i * 3},text {i}\n" for i in range(200_000))
    csv = write(tmp_path / "big.csv", "a,b,c\n" + rows)
    size, calls, threads = csv.stat().st_size, [], set()

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        threads.add(threading.get_ident())

    ingest_file(store, "big", csv, progress=progress)
    assert len(calls) >= 3  # two row groups, then the end
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert threads == {threading.get_ident()}


def test_inspect_parquet_reads_the_footer(tmp_path: Path, store: Path) -> None:
    path = tmp_path / "given.parquet"
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    pq.write_table(table, path)
    info = inspect_parquet(path)
    assert (info.format, info.rows, info.bytes) == ("parquet", 3, path.stat().st_size)
    assert info.schema == [{"name": "id", "type": "int64"}, {"name": "name", "type": "string"}]
    assert info.fingerprint == schema_fingerprint(table.schema)
    assert detect_format(path) == "parquet"
    copied = ingest_file(store, "given", path)
    assert (copied.fingerprint, copied.rows) == (info.fingerprint, 3)
    assert pq.read_table(store / copied.path).equals(table)


def test_object_info_is_json_ready() -> None:
    info = ObjectInfo("objects/x.parquet", "ab", 10, 2, [{"name": "a", "type": "int64"}], "cd")
    assert orjson.loads(orjson.dumps(info.to_dict()))["schema"][0] == {"name": "a", "type": "int64"}


# --- fingerprints and names --------------------------------------------------------------


def test_fingerprint_is_stable_and_sees_renames_reorders_and_types() -> None:
    base = pa.schema([("id", pa.int64()), ("name", pa.string())])
    pairs = orjson.dumps([["id", "int64"], ["name", "string"]])
    assert schema_fingerprint(base) == hashlib.sha256(pairs).hexdigest()  # pinned encoding
    same = pa.schema([pa.field("id", pa.int64(), nullable=False), ("name", pa.string())])
    assert schema_fingerprint(same.with_metadata({"k": "v"})) == schema_fingerprint(base)
    assert columns_fingerprint(schema_columns(base)) == schema_fingerprint(base)
    others = [
        pa.schema([("ID", pa.int64()), ("name", pa.string())]),
        pa.schema([("name", pa.string()), ("id", pa.int64())]),
        pa.schema([("id", pa.int32()), ("name", pa.string())]),
        pa.schema([("id", pa.int64()), ("name", pa.large_string())]),
        pa.schema([("id", pa.int64())]),
    ]
    fingerprints = {schema_fingerprint(s) for s in [base, *others]}
    assert len(fingerprints) == len(others) + 1


@pytest.mark.parametrize("name", ["staff", "_x", "Staff_2024", "a" * 63, "journal_data"])
def test_good_dataset_names_pass(name: str) -> None:
    assert validate_dataset_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "2024_staff", "staff-2024", "staff 2024", "a" * 64, "staff\n", "../x", "café", "a.b"],
)
def test_bad_dataset_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_dataset_name(name)
    assert caught.value.fields == {"field": "name"}
    assert caught.value.hint is not None and "letters, digits or underscores" in caught.value.hint


@pytest.mark.parametrize("name", ["journal", "Traces", "trace_revisions", "datasets", "select"])
def test_reserved_dataset_names_are_refused(name: str, tmp_path: Path) -> None:
    assert name.lower() in RESERVED_NAMES
    with pytest.raises(InvalidInput, match=r"built-in read model|reserved SQL word") as caught:
        validate_dataset_name(name)
    assert caught.value.fields == {"field": "name"}
    csv = write(tmp_path / "staff.csv", TYPED_CSV)
    with pytest.raises(InvalidInput):
        ingest_file(tmp_path, name, csv)
    assert left_under_objects(tmp_path) == []


# --- the machinery -----------------------------------------------------------------------


def test_prefetch_raises_producer_errors_and_joins_when_abandoned() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("bad item")

    stream = prefetch(items())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="bad item"):
        next(stream)
    before = threading.active_count()
    endless = prefetch(iter(range(10**9)), depth=2)
    assert [next(endless), next(endless)] == [0, 1]
    endless.close()
    assert threading.active_count() == before


def test_importing_the_catalog_does_not_import_pyarrow() -> None:
    code = "import sys, lakehouse.catalog; print('pyarrow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
