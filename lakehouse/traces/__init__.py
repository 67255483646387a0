"""The pathway-traces family: a versioned memory of reasoning traces with history."""

from lakehouse.traces._api import Traces, predecessors
from lakehouse.traces._family import TRACES, TracesFamily
from lakehouse.traces._plugin import PLUGIN

__all__ = ["PLUGIN", "TRACES", "Traces", "TracesFamily", "predecessors"]
