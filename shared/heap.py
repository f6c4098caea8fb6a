"""Keeping the cyclic garbage collector from pausing the event loop while an export holds a big heap.

A 127,000-event export keeps a few million objects alive for its whole run: the catalog's events,
then the tables and layouts the writers share. Python's collector runs a full collection each time
the long-lived heap has grown by a quarter, and a full collection walks every tracked object with the
GIL held: 100-280 ms each, several per export, and a `/status` poll that arrives meanwhile waits for
all of it (issue 14).

`settle()` moves every object that exists now into the permanent generation (`gc.freeze()`, a
constant-time move), which the collector skips; an export calls it after each step that leaves many
objects behind. `release()` at the end of every export moves them back to the oldest generation
(`gc.unfreeze()`), so what became garbage meanwhile is found by the next full collection. Freezing
only delays the collection of reference cycles; everything else is freed by reference counting as
usual. With several exports at once, the first to end releases the others' objects too, and their
next `settle()` freezes them again: no cycle waits longer than one export.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Keep the objects that exist now out of the collector's full collections until `release()`."""
    gc.freeze()


def release() -> None:
    """Give the frozen objects back to the collector."""
    gc.unfreeze()
