"""Responsiveness of a served product while hostile diagram code runs in one of its threads.

The product is served over real HTTP (werkzeug, threaded) from a temporary folder. One thread
of it starts instances whose script tasks hold the hostile forms of the security review (a string of
4 GB, a power of 33 million bits, a shift, a list of 10**10 items, a widening str method, a
comprehension of 10**10 items, a memory-growing loop) and one loop that only its time budget
ends. Meanwhile a client in another process (as a browser would be: a client thread in the
server's process would wait for the interpreter lock itself) asks for the login page again and
again; the figures are that page's latency without and with the attack (target: every answer
under 100 ms), and how long each hostile evaluation lasted before it was refused or stopped.
"""

import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

from werkzeug.serving import make_server

from .report import percentile, table
from .tasklist import build_app

BASELINE_SECONDS = 1.0
# Asks for the page until a line arrives on its input; prints the latencies in ms as JSON.
CLIENT = """
import json, select, sys, time, urllib.request
latencies = []
while not select.select([sys.stdin], [], [], 0)[0]:
    start = time.perf_counter()
    with urllib.request.urlopen(sys.argv[1], timeout=120) as response:
        response.read()
    latencies.append((time.perf_counter() - start) * 1000)
print(json.dumps(latencies))
"""
# (label, script over the start data's `n`, n): data-dependent, so validation lets them deploy.
HOSTILE = (
    ("'x' * (4 * 10**9)", "x = len('x' * (4 * 10**n))", 9),
    ("7 ** (12 * 10**6) % 2", "x = 7 ** (12 * 10**n) % 2", 6),
    ("1 << 10**10", "x = (1 << 10**n) > 0", 10),
    ("[0] * 10**10", "x = len([0] * 10**n)", 10),
    ("'x'.ljust(10**10)", "x = len('x'.ljust(10**n))", 10),
    ("comprehension of 10**10", "x = len([0 for a in range(10**n) for b in range(10**n)])", 5),
    ("memory-growing loop", "x = []\nwhile True:\n    x.append('x' * 10**n)", 6),
    ("endless loop of big powers", "while True:\n    x = 7 ** 35000 % n", 3),
)


def script_process(process_id: str, script: str) -> bytes:
    """Return a BPMN file whose process runs one script task."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_{process_id}" targetNamespace="https://tirkeu.kz/bench">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="Event_Start"/>
    <bpmn:sequenceFlow id="Flow_Start" sourceRef="Event_Start" targetRef="Task_Script"/>
    <bpmn:scriptTask id="Task_Script"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Task_Script" targetRef="Event_End"/>
    <bpmn:endEvent id="Event_End"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def latencies_while(url: str, work) -> list[float]:
    """Return the page's latencies (ms) seen by a client process while `work()` runs."""
    command = [sys.executable, "-c", CLIENT, url]
    client = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        work()
    finally:
        output, _ = client.communicate("stop\n", timeout=120)
    return json.loads(output)


def run() -> None:
    """Serve the product, attack it from one thread and time another client's requests."""
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        runtime = app.extensions["tirkeu"]
        runtime.deploy(
            {
                f"hostile_{index}.bpmn": script_process(f"hostile_{index}", script)
                for index, (_, script, _) in enumerate(HOSTILE)
            },
            deployed_by="bench",
        )
        # One line per request on the terminal would bury the figures.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        url = f"http://127.0.0.1:{server.port}/login"
        try:
            baseline = latencies_while(url, lambda: time.sleep(BASELINE_SECONDS))
            outcomes: list[tuple[str, str, float]] = []

            def attack() -> None:
                for index, (label, _, n) in enumerate(HOSTILE):
                    start = time.perf_counter()
                    view = runtime.instance(runtime.start(f"hostile_{index}", {"n": n}).id)
                    seconds = time.perf_counter() - start
                    reason = view.incidents[0].message if view.incidents else view.status
                    outcomes.append((label, reason.split(":", 1)[-1].strip()[:60], seconds))

            attacker = threading.Thread(target=attack)
            during = latencies_while(url, lambda: (attacker.start(), attacker.join()))
        finally:
            server.shutdown()
            serving.join(timeout=5)
            runtime.session_factory.kw["bind"].dispose()
    table(
        "Login page latency while one thread runs hostile diagram code (target: max under 100 ms)",
        ("while", "requests", "p50 ms", "p95 ms", "max ms"),
        [
            (label, len(samples), *(f"{percentile(samples, s):.1f}" for s in (0.5, 0.95, 1.0)))
            for label, samples in (("nothing else runs", baseline), ("under attack", during))
        ],
    )
    table(
        "Hostile scripts: how each ended and when",
        ("script", "ended with", "seconds"),
        [(label, reason, f"{seconds:.3f}") for label, reason, seconds in outcomes],
    )
