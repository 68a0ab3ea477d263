"""Run one stage of a batch pipeline a batch ahead, in a background thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def overlapped(items: Iterable[T], stage: Callable[[T], U]) -> Iterator[tuple[T, U]]:
    """Yield ``(item, stage(item))`` in order, computing ``stage`` of the next item while the
    caller works on the current one.

    Worth it when ``stage`` releases the GIL (ONNX Runtime encoding, Lingua) and the caller's
    work is Python: on 2 cores the two then run side by side instead of taking turns.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claimwatch-stage") as pool:
        it = iter(items)
        current = next(it, None)
        pending = pool.submit(stage, current) if current is not None else None
        while current is not None and pending is not None:
            upcoming = next(it, None)
            done = pending.result()
            pending = pool.submit(stage, upcoming) if upcoming is not None else None
            yield current, done
            current = upcoming
