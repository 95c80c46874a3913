"""What every platform simulator shares: a real HTTP server on 127.0.0.1,
on a free port, in a thread of the test process."""

import threading
from http.server import ThreadingHTTPServer


class SimulatorServer:
    """Base of the simulators: ``handler`` is the request handler class (it
    gets the simulator as its ``sim``), ``thread_name`` names the thread.
    Usable as a context manager."""

    handler = None
    thread_name = "simulator"
    _server = None
    _thread = None
    _outage = None  # [status, answers left (None: until cleared), retry_after]

    def _next_outage(self):
        """One answer of the outage a test set (``_outage``): its
        ``(status, retry_after)``, or None when there is none (any more)."""
        if not self._outage:
            return None
        status, remaining, retry_after = self._outage
        if remaining is not None:
            if remaining <= 0:
                self._outage = None
                return None
            self._outage[1] = remaining - 1
        return status, retry_after

    def start(self):
        simulator = self

        class Handler(self.handler):
            sim = simulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05),
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
