"""shared.heap: what an export freezes is skipped by the collector until released, then collected."""

from __future__ import annotations

import gc
import weakref

from shared import heap


class Node:
    """Something that can be part of a reference cycle (only the cyclic collector frees it)."""

    partner: Node | None = None


def test_settle_freezes_what_exists_and_release_gives_it_back() -> None:
    heap.release()
    kept = [[index] for index in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    heap.release()
    assert gc.get_freeze_count() == 0


def test_a_cycle_frozen_by_settle_is_collected_once_released() -> None:
    heap.release()
    node = Node()
    node.partner = node
    alive = weakref.ref(node)
    heap.settle()
    del node
    gc.collect()
    assert alive() is not None, "a frozen cycle is skipped by a full collection"
    heap.release()
    gc.collect()
    assert alive() is None
