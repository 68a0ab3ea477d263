"""Run one stage of a batch pipeline ahead of the caller, in background threads."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def overlapped(items: Iterable[T], stage: Callable[[T], U], workers: int = 1) -> Iterator[tuple[T, U]]:
    """Yield ``(item, stage(item))`` in order, while ``stage`` already runs on the next
    ``workers`` items in background threads.

    Worth it when ``stage`` releases the GIL (ONNX Runtime encoding) and the caller's work is
    Python: on 2 cores, two single-threaded encoders plus the caller keep both cores busy,
    where one encoder with two threads stalls at every operator whenever the caller runs.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="claimwatch-stage") as pool:
        it = iter(items)
        pending: deque[tuple[T, Future[U]]] = deque()
        for item in it:
            pending.append((item, pool.submit(stage, item)))
            if len(pending) > workers:
                break
        while pending:
            item, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(stage, nxt)))
            yield item, fut.result()
