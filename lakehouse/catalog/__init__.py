"""The catalog family: tabular datasets ingested as content-addressed Parquet objects.

Importing this package is cheap: pyarrow is imported only inside the functions that read
or write data, so the CLI's mutation verbs that import it still start fast.
"""

from lakehouse.catalog._api import Datasets
from lakehouse.catalog._family import CATALOG, CatalogFamily
from lakehouse.catalog._ingest import (
    SourceInfo,
    ingest_file,
    inspect_parquet,
    read_table,
    write_object,
)
from lakehouse.catalog._models import NAMESPACE, dataset_id
from lakehouse.catalog._names import RESERVED_NAMES, validate_dataset_name
from lakehouse.catalog._objects import ObjectInfo
from lakehouse.catalog._schema import columns_fingerprint, schema_columns, schema_fingerprint
from lakehouse.catalog._sources import detect_format

__all__ = [
    "CATALOG",
    "NAMESPACE",
    "RESERVED_NAMES",
    "CatalogFamily",
    "Datasets",
    "ObjectInfo",
    "SourceInfo",
    "columns_fingerprint",
    "dataset_id",
    "detect_format",
    "ingest_file",
    "inspect_parquet",
    "read_table",
    "schema_columns",
    "schema_fingerprint",
    "validate_dataset_name",
    "write_object",
]
