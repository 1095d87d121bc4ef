"""The production server answers over real HTTP; the worker sweeps and survives failures."""

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from webapp.worker import JobWorker


def serve(instance_folder, *options: str):
    """Run `tirkeu serve` in a process of its own until the block ends; yield its URL and
    its standard error, which is read after the server stops."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TIRKEU_INSTANCE_PATH": str(instance_folder)}
    command = [sys.executable, "-c", "from webapp.cli import main; main()"]
    log = instance_folder / f"serve-{port}.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"{url}/login", timeout=5)
            break
        except httpx.TransportError:
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    return server, url, log


def stop(server) -> None:
    """Stop a server started by `serve` and wait for it."""
    server.terminate()
    server.wait(timeout=30)


def test_tirkeu_serve_answers_over_real_http(instance_folder):
    """`tirkeu serve` (granian and its in-process worker) in a process of its own."""
    server, url, _log = serve(instance_folder)
    try:
        response = httpx.get(f"{url}/login", timeout=5)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
    finally:
        stop(server)


SERVERS = pytest.mark.parametrize("options", [(), ("--workers", "2")], ids=["granian", "gunicorn"])


@SERVERS
def test_serve_writes_one_masked_access_line_per_request_with_its_id(instance_folder, options):
    server, url, log = serve(instance_folder, *options)
    try:
        found = httpx.get(f"{url}/no-such-page?iin=850314304175", timeout=10)
        given = httpx.get(f"{url}/login", headers={"X-Request-ID": "proxy-id-0001"}, timeout=10)
    finally:
        stop(server)
    request_id = found.headers["X-Request-ID"]
    assert len(request_id) == 16 and given.headers["X-Request-ID"] == "proxy-id-0001"
    lines = log.read_text().splitlines()
    [line] = [line for line in lines if f" {request_id} " in line]
    assert re.search(rf"tirkeu.access: {request_id} GET /no-such-page\?iin=\*{{8}}4175 404 "
                     r"[0-9.]+ ms$", line), line  # fmt: skip
    assert "850314304175" not in log.read_text()
    assert any(re.search(r"proxy-id-0001 GET /login 200 [0-9.]+ ms$", line) for line in lines)


@SERVERS
def test_a_body_over_the_limit_is_refused_before_it_is_sent(instance_folder, options):
    """A client announcing 64 MiB gets its 413 after the headers alone: nothing waits for,
    or keeps, the body."""
    server, url, _log = serve(instance_folder, *options)
    try:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 67108864\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername="
            )
            status_line = client.makefile("rb").readline()
    finally:
        stop(server)
    assert status_line.split()[1] == b"413", status_line


def test_worker_keeps_sweeping_after_a_failed_sweep(runtime, monkeypatch):
    sweeps = []
    run_due_jobs = runtime.run_due_jobs

    def once_broken(**options) -> int:
        sweeps.append(options)
        if len(sweeps) == 1:
            raise RuntimeError("the database went away")
        return run_due_jobs(**options)

    monkeypatch.setattr(runtime, "run_due_jobs", once_broken)
    worker = JobWorker(runtime, interval=0.01)
    worker.start()
    deadline = time.monotonic() + 5
    while len(sweeps) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    worker.join(timeout=5)
    assert len(sweeps) >= 3 and not worker.is_alive()
