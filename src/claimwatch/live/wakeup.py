"""A wake-up call for a loop that sleeps until there is work: ``set()`` from anywhere (the event
loop's thread or a worker thread doing store work), ``wait(stop, timeout)`` in the loop."""

from __future__ import annotations

import asyncio


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Note the running loop (a ``set()`` from another thread is handed to it)."""
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        loop = self._loop
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is not None and here is not loop and loop.is_running():
            loop.call_soon_threadsafe(self._event.set)
        else:
            self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, stop: asyncio.Event, timeout: float) -> None:
        """Until a ``set()``, ``stop``, or ``timeout`` seconds, whichever comes first."""
        woken = asyncio.ensure_future(self._event.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({woken, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            stopping.cancel()
