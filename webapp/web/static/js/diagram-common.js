// Helpers shared by the diagram viewer and editor: reading a container's attributes and XML.

/** Parse a JSON data attribute, returning fallback when it is absent. */
export function jsonAttribute(container, name, fallback) {
  const raw = container.dataset[name];
  return raw ? JSON.parse(raw) : fallback;
}

/** Fetch the diagram XML named by a container's URL attribute or inline script. */
export async function diagramSource(container, kind) {
  const url = container.dataset[`${kind}Url`];
  if (url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(`${url}: ${response.status} ${response.statusText}`);
    }
    return response.text();
  }
  const inline = container.querySelector(`script[type="application/${kind}+xml"]`);
  if (inline) {
    return inline.textContent.trim();
  }
  throw new Error(`no data-${kind}-url and no inline ${kind} XML`);
}

/** Mark a container's state and tell listeners. */
export function announce(container, state, detail) {
  container.dataset.diagramState = state;
  container.dispatchEvent(new CustomEvent(`diagram:${state}`, { detail, bubbles: true }));
}

/** Describe an import warning of bpmn-js or dmn-js as one line of text. */
export function describeWarning(warning) {
  return warning?.message ?? String(warning);
}

/** Return a global that a vendored bundle defines, or say which bundle the page must load. */
export function library(globalName, bundle) {
  const found = window[globalName];
  if (!found) {
    throw new Error(`${globalName} is missing: load vendor/${bundle}.production.min.js first`);
  }
  return found;
}

let messages;

/** Return a text of our scripts in the page's language (the page's `#ui-messages` JSON), with
 * `%(name)s` placeholders filled from values; English where the page carries none. */
export function t(text, values = {}) {
  messages ??= JSON.parse(document.getElementById("ui-messages")?.textContent || "{}");
  const shown = messages[text] || text;
  return shown.replace(/%\((\w+)\)s/g, (_match, name) => String(values[name] ?? ""));
}

// Below this scale a diagram's labels cannot be read: a large diagram opens at a readable scale
// at its top left (where it starts) instead of fitted whole; the reader pans and zooms on.
export const MIN_READABLE_SCALE = 0.75;
const READABLE_SCALE = 0.9;
const ZOOM_STEP = 1.25;

/** Open a diagram at a readable zoom: fitted when that is readable, else at its top left. */
export function readableZoom(canvas) {
  const fitted = canvas.zoom("fit-viewport", "auto");
  return fitted >= MIN_READABLE_SCALE ? fitted : zoomAtStart(canvas);
}

/**
 * Show a diagram too large to read whole from its top left corner, `left` pixels in from the
 * canvas's edge, at a readable scale: its whole height when that is readable.
 */
export function zoomAtStart(canvas, left = 80) {
  const { inner, outer } = canvas.viewbox();
  const margin = 24;
  const scale = Math.min(
    READABLE_SCALE,
    Math.max(MIN_READABLE_SCALE, (outer.height - 2 * margin) / inner.height),
  );
  const fits = inner.height * scale <= outer.height - 2 * margin;
  canvas.viewbox({
    x: inner.x - left / scale,
    y: fits ? inner.y + inner.height / 2 - outer.height / scale / 2 : inner.y - margin / scale,
    width: outer.width / scale,
    height: outer.height / scale,
  });
  return canvas.zoom();
}

/** Add zoom in, zoom out and fit buttons over a diagram's canvas. */
export function zoomControls(host, canvas, fit = () => canvas.zoom("fit-viewport", "auto")) {
  const bar = document.createElement("div");
  bar.className = "zoom-controls";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", host.dataset.zoomLabel || "Zoom");
  const buttons = [
    ["zoom-in", "+", host.dataset.zoomInLabel || "Zoom in", () => canvas.zoom(canvas.zoom() * ZOOM_STEP)],
    ["zoom-out", "\u2212", host.dataset.zoomOutLabel || "Zoom out", () => canvas.zoom(canvas.zoom() / ZOOM_STEP)],
    ["zoom-fit", "\u2922", host.dataset.zoomFitLabel || "Fit the whole diagram", fit],
  ];
  for (const [action, text, label, run] of buttons) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.title = label;
    button.setAttribute("aria-label", label);
    button.dataset.zoom = action;
    button.addEventListener("click", run);
    bar.append(button);
  }
  host.append(bar);
  return bar;
}
