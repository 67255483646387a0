"""Run an iterator on a background thread a few items ahead of its consumer.

Ingest overlaps CSV parsing (pyarrow releases the GIL) with Parquet encoding, so that a
streamed file goes about as fast as `read_csv` + `write_table`, which parse on every core.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()
_POLL_SECONDS = 0.1  # how soon an abandoned producer notices that nobody is listening


def prefetch(items: Iterable[T], *, depth: int = 2) -> Generator[T, None, None]:
    """Yield `items`, produced on a thread at most `depth` ahead; its errors raise here.

    Close the generator (or exhaust it) to stop and join the thread: use it under
    ``contextlib.closing`` when the consumer may fail halfway.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as error:  # handed to the consumer, raised in its thread
            offer(error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator: run its cleanup on the thread that ran it
                close()

    thread = threading.Thread(target=produce, name="lakehouse-prefetch", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stop.set()
        thread.join()
