"""Every diagram we ship, and a sample of SpiffWorkflow's own, imports in bpmn-js and dmn-js."""

import pytest

from .diagram_pages import CORPUS, REPO_ROOT, import_diagram, open_ready

PROCESSES = REPO_ROOT / "processes"
OUR_DIAGRAMS = (
    sorted(p for p in PROCESSES.rglob("*") if p.suffix in {".bpmn", ".dmn"})
    if PROCESSES.is_dir()
    else []
)
HARNESS_DIAGRAMS = [
    REPO_ROOT / "tests" / "browser" / "pages" / n for n in ("sample.bpmn", "sample.dmn")
]
# SpiffWorkflow's test diagrams that use its extension elements, plus two decision tables.
CORPUS_DIAGRAMS = [
    "spiffworkflow/spiff/data/service_task.bpmn",
    "spiffworkflow/spiff/data/service_task_retry_without_backoff.bpmn",
    "spiffworkflow/spiff/data/receive_correlations.bpmn",
    "spiffworkflow/spiff/data/script_task_with_unit_tests.bpmn",
    "spiffworkflow/spiff/data/prescript_postscript.bpmn",
    "spiffworkflow/spiff/data/spiff_properties.bpmn",
    "spiffworkflow/spiff/data/human_task_metadata.bpmn",
    "spiffworkflow/spiff/data/error_event_payload.bpmn",
    "spiffworkflow/bpmn/data/collaboration.bpmn",
    "spiffworkflow/spiff/data/dmn/business_rules.dmn",
    "spiffworkflow/dmn/data/collect_hit.dmn",
]


def harness_page(diagram: str, editor: bool) -> str:
    """Return the harness page whose bundles can import this diagram."""
    if not editor:
        return "viewer.html"
    return "dmn-editor.html" if diagram.endswith(".dmn") else "editor.html"


@pytest.fixture(scope="module")
def importer(browser, static_server):
    """Return a function importing a diagram URL in the viewer or modeler, on pages kept open."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    pages = {}
    errors: list[str] = []

    def run(url: str, editor: bool) -> dict:
        name = harness_page(url, editor)
        if name not in pages:
            pages[name] = context.new_page()
            pages[name].on("pageerror", lambda error: errors.append(str(error)))
            open_ready(pages[name], f"{static_server.url}/pages/{name}")
        return import_diagram(pages[name], static_server.url, url, editor=editor)

    yield run
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.mark.parametrize("editor", [False, True], ids=["viewer", "modeler"])
@pytest.mark.parametrize(
    "path", OUR_DIAGRAMS + HARNESS_DIAGRAMS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix()
)
def test_our_diagram_imports_without_warnings(importer, static_server, path, editor):
    relative = path.relative_to(REPO_ROOT)
    if relative.parts[0] == "processes":
        url = f"{static_server.url}/processes/{path.relative_to(PROCESSES).as_posix()}"
    else:
        url = f"{static_server.url}/pages/{path.name}"
    assert importer(url, editor) == {"warnings": []}


@pytest.mark.parametrize("editor", [False, True], ids=["viewer", "modeler"])
@pytest.mark.parametrize("relative", CORPUS_DIAGRAMS)
def test_spiffworkflow_corpus_diagram_imports_with_its_extensions_understood(
    importer, static_server, relative, editor
):
    if not (CORPUS / relative).is_file():
        pytest.skip(f"the shared diagram corpus is not beside the repository ({relative})")
    result = importer(f"{static_server.url}/corpus/{relative}", editor)
    # Some of these test files carry dangling references of their own; what matters here is
    # that they load and that no SpiffWorkflow extension is reported as unknown.
    assert "error" not in result, result
    assert [w for w in result["warnings"] if "spiffworkflow" in w] == []
