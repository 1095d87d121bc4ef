// Read-only BPMN and DMN diagrams: instance markers, counts and version-diff highlighting.
//
// Markup (the page loads bpmn-navigated-viewer and/or dmn-viewer from vendor/ first):
//   <div class="diagram" data-bpmn-url="/x.bpmn"
//        data-markers='{"completed": [ids], "active": [ids], "failed": [ids], "cancelled": [ids]}'
//        data-counts='{"Task_A": {"count": 3, "label": "3 waiting", "heat": 2}}'
//        data-diff='{"added": [ids], "removed": [ids], "changed": [ids]}'
//        data-process="Process_A"></div>
//   <div class="diagram" data-dmn-url="/x.dmn" data-diff='{"changed": [rule ids]}'></div>
// (a decision table marks the rows of the rules a diff names)
// Instead of a URL the XML may sit inline in a child <script type="application/bpmn+xml"> (or
// application/dmn+xml). Every such container is rendered when the module loads. When done the
// container gets data-diagram-state="ready" (or "error") and fires "diagram:ready" with
// detail {warnings, unknownIds} (or "diagram:error" with detail {message}). unknownIds lists the
// marked ids the diagram lacks: in a diff, "removed" ids are found on the older version only.
// data-process opens the diagram that draws that process when the file holds several.
// A count's "heat" (1 to 4) shades its element as a heatmap does. A BPMN diagram opens at a
// readable zoom with zoom in, out and fit buttons (labels from data-zoom-*-label); the mouse
// wheel zooms and dragging pans.

import {
  announce,
  describeWarning,
  diagramSource,
  jsonAttribute,
  library,
  readableZoom,
  zoomControls,
} from "./diagram-common.js";

const MARKER_KINDS = ["completed", "active", "failed", "cancelled"];
const DIFF_KINDS = ["added", "removed", "changed"];

const instances = new WeakMap();

/** Return the bpmn-js or dmn-js instance rendered into a container, if any. */
export function viewerOf(container) {
  return instances.get(container);
}

/** Add a CSS marker to each known element id; return the ids the diagram does not have. */
export function addMarkers(viewer, ids, marker) {
  const registry = viewer.get("elementRegistry");
  const canvas = viewer.get("canvas");
  const unknown = [];
  for (const id of ids) {
    if (registry.get(id)) {
      canvas.addMarker(id, marker);
    } else {
      unknown.push(id);
    }
  }
  return unknown;
}

/** Put a count badge (with its label as tooltip) on each element that has a count. */
export function addCounts(viewer, counts) {
  const registry = viewer.get("elementRegistry");
  const overlays = viewer.get("overlays");
  const unknown = [];
  const canvas = viewer.get("canvas");
  for (const [id, { count, label, heat }] of Object.entries(counts)) {
    if (!registry.get(id)) {
      unknown.push(id);
      continue;
    }
    if (heat) {
      canvas.addMarker(id, `heat-${heat}`);
    }
    const badge = document.createElement("span");
    badge.className = "diagram-count";
    badge.textContent = String(count);
    if (label) {
      badge.title = label;
      badge.setAttribute("aria-label", label);
    }
    overlays.add(id, "diagram-count", { position: { bottom: 10, right: 10 }, html: badge });
  }
  return unknown;
}

/** Apply the markers, counts and diff of a container's data attributes to its viewer. */
export function decorate(viewer, container) {
  const markers = jsonAttribute(container, "markers", {});
  const diff = jsonAttribute(container, "diff", {});
  const unknown = [];
  for (const kind of MARKER_KINDS) {
    unknown.push(...addMarkers(viewer, markers[kind] || [], `marker-${kind}`));
  }
  for (const kind of DIFF_KINDS) {
    unknown.push(...addMarkers(viewer, diff[kind] || [], `diff-${kind}`));
  }
  unknown.push(...addCounts(viewer, jsonAttribute(container, "counts", {})));
  return unknown;
}

/** Return the id of the diagram that draws a process, itself or as a pool, if any. */
function diagramOfProcess(viewer, processId) {
  const drawn = (element) =>
    element.id === processId ||
    (element.participants || []).some((pool) => pool.processRef?.id === processId);
  return viewer.getDefinitions().diagrams.find((d) => d.plane && drawn(d.plane.bpmnElement))?.id;
}

/** Centre the view on the first changed or added element a diff names, if it is off screen. */
function centreOnChange(viewer, diff) {
  const registry = viewer.get("elementRegistry");
  const canvas = viewer.get("canvas");
  const element = [...(diff.changed || []), ...(diff.added || [])]
    .map((id) => registry.get(id))
    .find((found) => found && !found.waypoints);
  if (!element) {
    return;
  }
  const box = canvas.viewbox();
  const inside =
    element.x >= box.x &&
    element.y >= box.y &&
    element.x + element.width <= box.x + box.width &&
    element.y + element.height <= box.y + box.height;
  if (!inside) {
    canvas.viewbox({
      ...box,
      x: element.x + element.width / 2 - box.width / 2,
      y: element.y + element.height / 2 - box.height / 2,
    });
  }
}

/** Render a BPMN container with the navigated viewer and decorate it. */
export async function renderBpmn(container) {
  container.classList.add("diagram-canvas");
  const viewer = new (library("BpmnJS", "bpmn-js/bpmn-navigated-viewer"))({ container });
  instances.set(container, viewer);
  const { warnings } = await viewer.importXML(await diagramSource(container, "bpmn"));
  const diagram = container.dataset.process && diagramOfProcess(viewer, container.dataset.process);
  if (diagram && diagram !== viewer.getDefinitions().diagrams[0].id) {
    warnings.push(...(await viewer.open(diagram)).warnings);
  }
  const canvas = viewer.get("canvas");
  readableZoom(canvas);
  zoomControls(container, canvas);
  centreOnChange(viewer, jsonAttribute(container, "diff", {}));
  return { warnings: warnings.map(describeWarning), unknownIds: decorate(viewer, container) };
}

/** Render a DMN container with the viewer, opening the first decision table. */
export async function renderDmn(container) {
  container.classList.add("diagram-canvas", "dmn-canvas");
  const viewer = new (library("DmnJS", "dmn-js/dmn-viewer"))({ container });
  instances.set(container, viewer);
  const { warnings } = await viewer.importXML(await diagramSource(container, "dmn"));
  const table = viewer.getViews().find((view) => view.type === "decisionTable");
  if (table) {
    await viewer.open(table);
  }
  return { warnings: warnings.map(describeWarning), unknownIds: markRules(container) };
}

/** Mark the decision table's rows that a diff names; return the ids with no row shown. */
function markRules(container) {
  const diff = jsonAttribute(container, "diff", {});
  const unknown = [];
  for (const kind of DIFF_KINDS) {
    for (const id of diff[kind] || []) {
      // dmn-js names a rule on each of its cells.
      const cells = container.querySelectorAll(`[data-row-id="${CSS.escape(id)}"]`);
      cells.forEach((cell) => cell.closest("tr")?.classList.add(`diff-${kind}`));
      if (!cells.length) {
        unknown.push(id);
      }
    }
  }
  return unknown;
}

/** Tell whether a container holds a DMN or a BPMN diagram. */
function kindOf(container) {
  const inlineDmn = container.querySelector('script[type="application/dmn+xml"]');
  return "dmnUrl" in container.dataset || inlineDmn ? "dmn" : "bpmn";
}

/** Render one container, announcing the outcome on it. */
export async function render(container) {
  announce(container, "loading", {});
  try {
    const result =
      kindOf(container) === "dmn" ? await renderDmn(container) : await renderBpmn(container);
    announce(container, "ready", result);
    return result;
  } catch (error) {
    container.dataset.diagramError = error.message;
    announce(container, "error", { message: error.message });
    throw error;
  }
}

/** Render every diagram container of the page. */
export function renderAll(root = document) {
  const containers = root.querySelectorAll(
    ":is([data-bpmn-url], [data-dmn-url], " +
      ":has(> script[type='application/bpmn+xml'], > script[type='application/dmn+xml']))" +
      ":not([data-bpmn-editor], [data-dmn-editor])",
  );
  return Promise.allSettled([...containers].map(render));
}

renderAll();
