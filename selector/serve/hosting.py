"""Running the proxy: in the foreground for the command line, or on a background thread with its
own event loop (tests and `bench serve` talk to it over loopback like any client)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


def run_server(app: web.Application, host: str, port: int) -> None:
    """Serve until interrupted; the request log is the proxy's own, so aiohttp's is off."""
    web.run_app(app, host=host, port=port, access_log=None, print=lambda text: print(text, flush=True))


class ServerThread:
    """`app` served on `host` (port 0: a free one) from a daemon thread, until `close()`.

        with ServerThread(build_app(selector, settings)) as server:
            OpenAI(base_url=server.url + "/v1", api_key="x")...
    """

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.host, self.port = app, host, port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="frame-selector-serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.app, access_log=None)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as error:
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ServerThread", "run_server"]
