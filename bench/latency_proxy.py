"""A TCP relay that adds a fixed delay to every request, like an S3 endpoint across a network.

A local S3 server answers in 3 to 5 ms, most of it its own CPU; AWS S3 answers a small
PutObject in tens of milliseconds, nearly all of it waiting. Putting this relay between
the workers and the local server gives the benchmark that shape: each request waits
``delay`` seconds on the way in without costing CPU, as on a real network link. Bytes
are forwarded unchanged and in order (keep-alive works); the delay is applied per chunk
at the time it arrived, so a request split over several segments is delayed once, not
once per segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class LatencyProxy:
    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0
        threading.Thread(target=self._run, args=(ready,), name="latency-proxy", daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("latency proxy did not start")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, up_w, self.delay), self._pipe(up_r, client_w, 0.0))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def forward() -> None:
            while True:
                due, data = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(forward())
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, data))
        queue.put_nowait((loop.time() + delay, b""))
        with contextlib.suppress(OSError):
            await sender
        with contextlib.suppress(OSError):
            writer.close()
