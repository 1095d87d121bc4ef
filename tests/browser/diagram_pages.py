"""Helpers the browser tests share for opening harness pages and importing diagrams."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Third-party diagrams are kept beside the repository, not in it; a checkout elsewhere names
# their folder in TIRKEU_CORPUS_DIR.
CORPUS = Path(os.environ.get("TIRKEU_CORPUS_DIR", REPO_ROOT.parent / "shared" / "corpus"))


def open_ready(page, url: str, selector: str = "[data-diagram-state]") -> None:
    """Load a page and wait until every diagram container on it has finished loading."""
    page.goto(url)
    page.wait_for_function(
        """(selector) => {
            const found = [...document.querySelectorAll(selector)];
            return found.length && found.every(
                (node) => ["ready", "error"].includes(node.dataset.diagramState));
        }""",
        arg=selector,
    )
    failed = page.eval_on_selector_all(
        "[data-diagram-state='error']", "nodes => nodes.map(n => n.dataset.diagramError)"
    )
    assert not failed, failed


IMPORT_SCRIPT = """async ([moduleUrl, opener, attribute, url]) => {
    const module = await import(moduleUrl);
    const container = document.createElement("div");
    container.setAttribute(attribute, url);
    if (opener === "openEditor") {
        container.setAttribute(attribute.replace("-url", "-editor"), "");
    }
    document.body.append(container);
    try {
        const { warnings } = await module[opener](container);
        return { warnings };
    } catch (error) {
        return { error: String(error && error.message || error) };
    } finally {
        container.remove();
    }
}"""


def import_diagram(page, base_url: str, diagram_url: str, *, editor: bool) -> dict:
    """Import one diagram in the viewer or the modeler of an open harness page."""
    kind = "dmn" if diagram_url.endswith(".dmn") else "bpmn"
    module = "diagram-editor.js" if editor else "diagram-viewer.js"
    opener = "openEditor" if editor else "render"
    return page.evaluate(
        IMPORT_SCRIPT,
        [f"{base_url}/static/js/{module}", opener, f"data-{kind}-url", diagram_url],
    )
