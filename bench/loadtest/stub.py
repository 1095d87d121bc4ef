"""The national registries on loopback over the sandbox, failing or stalling part of the time."""

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service_tasks.rest import answer
from service_tasks.sandbox import SandboxStore


class FaultyRegistries:
    """Serve the registries; a share of calls answer 503 and another share answer too late.

    A late answer is made first and then held past the client's timeout, so the write is
    done while the caller believes it failed: the retry must not write a second time. With
    `kill_caller`, a share of the writes (`kill_rate`) is made and then its caller is killed
    with SIGKILL before the answer reaches it, so its step dies before its commit.
    """

    def __init__(
        self,
        store: SandboxStore,
        error_rate: float,
        timeout_rate: float,
        delay: float,
        kill_caller: Callable[[int], str | None] | None = None,
        kill_rate: float = 0.0,
    ):
        self.store = store
        self.registries = store.registries()
        self.error_rate = error_rate
        self.timeout_rate = timeout_rate
        self.delay = delay
        self.kill_caller = kill_caller
        self.kill_rate = kill_rate
        self.killed: list[str] = []
        self.counts = {"calls": 0, "errors": 0, "timeouts": 0, "killed_at_writes": 0}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self, name: str) -> None:
        """Count one call or fault."""
        with self.lock:
            self.counts[name] += 1

    def kill_at_write(self, port: int) -> bool:
        """Kill, now and then, the caller of a write the registry has just made."""
        if self.kill_caller is None or random.random() >= self.kill_rate:
            return False
        victim = self.kill_caller(port)
        if victim is None:
            return False
        self.count("killed_at_writes")
        with self.lock:
            self.killed.append(victim)
        return True

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """Return the request handler bound to this stub."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def handle_request(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                stub.count("calls")
                roll = random.random()
                if roll < stub.error_rate:
                    stub.count("errors")
                    status, result = 503, {}
                else:
                    key = self.headers.get("Idempotency-Key")
                    status, result = answer(stub.registries, self.command, self.path, body, key)
                    if self.command == "POST" and stub.kill_at_write(self.client_address[1]):
                        return
                    if roll < stub.error_rate + stub.timeout_rate:
                        stub.count("timeouts")
                        time.sleep(stub.delay)
                data = json.dumps(result).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = handle_request

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        """Serve in a thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
