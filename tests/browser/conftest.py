"""Browser fixtures: a static file server for the diagram pages and a fresh page per test."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

from .diagram_pages import CORPUS, REPO_ROOT
from .tour import tour  # noqa: F401  (the tour of every role's pages, for any browser test)

# URL prefix -> folder served under it.
SERVED_FOLDERS = {
    "/static/": REPO_ROOT / "webapp" / "web" / "static",
    "/pages/": REPO_ROOT / "tests" / "browser" / "pages",
    "/processes/": REPO_ROOT / "processes",
    "/corpus/": CORPUS,
}


@dataclass
class PostedRequest:
    """One POST the static server received."""

    path: str
    headers: dict[str, str]
    body: str


@dataclass
class StaticServer:
    """The harness server: its base URL, what it was sent and the JSON it answers POSTs with."""

    url: str
    posted: list[PostedRequest] = field(default_factory=list)
    answers: dict[str, tuple[int, dict]] = field(default_factory=dict)

    def answer(self, path: str) -> tuple[int, dict]:
        """Return the status and JSON body configured for a POST path."""
        return self.answers.get(path, (200, {"problems": [], "deployed": []}))


def make_handler(server_state: StaticServer) -> type[SimpleHTTPRequestHandler]:
    """Build a request handler that serves SERVED_FOLDERS and records POSTs."""

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {
            **SimpleHTTPRequestHandler.extensions_map,
            ".js": "text/javascript",
            ".json": "application/json",
            ".bpmn": "application/xml",
            ".dmn": "application/xml",
        }

        def translate_path(self, path: str) -> str:
            """Map a URL path into one of the served folders, or nowhere."""
            clean = unquote(urlsplit(path).path)
            for prefix, folder in SERVED_FOLDERS.items():
                if clean.startswith(prefix):
                    target = (folder / clean[len(prefix) :]).resolve()
                    if target.is_relative_to(folder.resolve()):
                        return str(target)
            return str(REPO_ROOT / "does-not-exist")

        def do_POST(self) -> None:
            """Record the posted body and answer with the configured JSON."""
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            path = urlsplit(self.path).path
            server_state.posted.append(PostedRequest(path, dict(self.headers), body))
            status, answer = server_state.answer(path)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet."""

    return Handler


@pytest.fixture(scope="session")
def static_server() -> Iterator[StaticServer]:
    """Serve the static assets, the harness pages, processes/ and the corpus on 127.0.0.1."""
    state = StaticServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def harness(static_server: StaticServer) -> Iterator[StaticServer]:
    """Give a test the static server with no recorded POSTs and default answers."""
    static_server.posted.clear()
    static_server.answers.clear()
    yield static_server
    static_server.posted.clear()
    static_server.answers.clear()


@pytest.fixture
def page(browser):
    """Open a fresh page; fail the test if the page raised an uncaught JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    yield new_page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
