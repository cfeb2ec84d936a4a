"""Virtual sensors served over TCP from a thread of their own, for tests whose service runs elsewhere (FastAPI's
TestClient thread or a subprocess): the same bytes on the same kind of link as real sensors on a serial-over-TCP
bridge."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

from hardware.simulator.device import VirtualSensor
from hardware.simulator.serve import SimulatorServer


class ServedSensors:
    """``with ServedSensors(sensors) as served: served.urls`` → placement → ``socket://127.0.0.1:PORT``."""

    def __init__(self, sensors: Mapping[str, VirtualSensor]) -> None:
        self.sensors = dict(sensors)
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with SimulatorServer(self.sensors) as sim:
            self.urls = {e.placement: e.url for e in await sim.open_tcp()}
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServedSensors:
        self._thread.start()
        assert self._ready.wait(10), "the virtual sensors did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
