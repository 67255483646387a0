"""A writer in a process of its own: one command per stdin line, one answer per stdout line.

    add TEXT          -> "<seq> <uid>"        (store.traces.add)
    revise UID TEXT   -> "<seq> <new uid>"    (store.traces.revise: two records, one batch)
    checkpoint        -> "<seq> checkpoint"   (store.checkpoint)

Run as ``python tests/server/_writer.py STORE``; the tests talk to it through pipes, so
the mutations come from another process, as they would from `lakehouse trace add`.
"""

from __future__ import annotations

import sys

from lakehouse import Store


def main(root: str) -> None:
    """Answer commands until stdin closes."""
    with Store.open(root, checkpoint_every=0) as store:
        for line in sys.stdin:
            verb, _, rest = line.rstrip("\n").partition(" ")
            if verb == "add":
                outcome = store.traces.add(text=rest)
                answer = f"{outcome.seq} {outcome.id}"
            elif verb == "revise":
                uid, _, text = rest.partition(" ")
                outcome = store.traces.revise(uid, text=text)
                answer = f"{outcome.seq} {outcome.id}"
            elif verb == "checkpoint":
                answer = f"{store.checkpoint().seq} checkpoint"
            else:
                answer = f"error unknown verb {verb!r}"
            print(answer, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
