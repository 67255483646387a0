"""The catalog family: tabular datasets ingested as content-addressed Parquet objects.

Importing this package is cheap: duckdb and pyarrow are imported only inside the functions that read
or write data, so the CLI's mutation verbs that import it still start fast.
"""

from lakehouse.catalog._api import Datasets
from lakehouse.catalog._csv import csv_options
from lakehouse.catalog._csv_options import CsvOptions
from lakehouse.catalog._family import CATALOG, CatalogFamily
from lakehouse.catalog._ingest import (
    Ingested,
    SourceInfo,
    ingest,
    ingest_file,
    inspect_parquet,
    read_table,
    write_object,
)
from lakehouse.catalog._inputs import MAX_INPUT_BYTES, detect_format
from lakehouse.catalog._manifest import install_manifest
from lakehouse.catalog._models import NAMESPACE, dataset_id
from lakehouse.catalog._names import RESERVED_NAMES, validate_dataset_name
from lakehouse.catalog._objects import ObjectInfo
from lakehouse.catalog._plugin import PLUGIN
from lakehouse.catalog._schema import columns_fingerprint, schema_columns, schema_fingerprint

__all__ = [
    "CATALOG",
    "MAX_INPUT_BYTES",
    "NAMESPACE",
    "PLUGIN",
    "RESERVED_NAMES",
    "CatalogFamily",
    "CsvOptions",
    "Datasets",
    "Ingested",
    "ObjectInfo",
    "SourceInfo",
    "columns_fingerprint",
    "csv_options",
    "dataset_id",
    "detect_format",
    "ingest",
    "ingest_file",
    "inspect_parquet",
    "install_manifest",
    "read_table",
    "schema_columns",
    "schema_fingerprint",
    "validate_dataset_name",
    "write_object",
]
