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
from collections import OrderedDict
from collections.abc import Hashable, Sequence

#: selections kept per workspace (each a tuple of post ids)
SIZE = 16


class SelectionCache:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[int, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> list[int] | None:
        with self._lock:
            ids = self._entries.get(key)
            if ids is None:
                return None
            self._entries.move_to_end(key)
            return list(ids)

    def put(self, key: Hashable, ids: Sequence[int]) -> None:
        with self._lock:
            self._entries[key] = tuple(ids)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
