"""The review queue's study selections, cached: selecting a study's posts may encode every one of
them (a topic or narrative description), seconds at a realistic size, and a queue is paged and
redrawn after every decision.

The rule: an entry is keyed by the study's rules that select posts
(:func:`claimwatch.analysis.study.selection_key`), the narrative filtered on and the store's
change marks (:func:`claimwatch.store.change_marks.change_marks`: the last post, post
version, ingest run, match and decision ids, the match count, and the stored topic's counts —
what can change the selection). A changed study, or a store change a mark sees, makes a new key
(the old entry just ages out); ``change_marks`` says which change none of them sees. The marks are read before the selection is computed, so a write landing
in between at worst makes the next request compute again. Bounded (least recently used entries
go first) and thread-safe: the web app serves requests from a thread pool.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence

#: selections kept per workspace, and post ids kept in all (8 bytes each: 32 MB)
SIZE, MAX_IDS = 16, 4_000_000


class SelectionCache:
    """Least recently used first out, past ``size`` entries or ``max_ids`` ids in all (a study
    with no accounts selects every post: a million ids)."""

    def __init__(self, size: int = SIZE, max_ids: int = MAX_IDS) -> None:
        self.size, self.max_ids = size, max_ids
        self._entries: OrderedDict[Hashable, array[int]] = OrderedDict()
        self._ids = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> list[int] | None:
        with self._lock:
            ids = self._entries.get(key)
            if ids is None:
                return None
            self._entries.move_to_end(key)
            return ids.tolist()

    def put(self, key: Hashable, ids: Sequence[int]) -> None:
        if len(ids) > self.max_ids:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            self._ids += len(ids) - (len(old) if old is not None else 0)
            self._entries[key] = array("q", ids)
            while len(self._entries) > self.size or self._ids > self.max_ids:
                _, dropped = self._entries.popitem(last=False)
                self._ids -= len(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
