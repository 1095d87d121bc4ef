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

/** Build the tab bar that switches between the decision tables and the DRD of a DMN file. */
export function dmnViewTabs(viewer, container) {
  const nav = document.createElement("nav");
  nav.className = "dmn-views";
  const show = () => {
    nav.replaceChildren();
    const active = viewer.getActiveView();
    for (const view of viewer.getViews()) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = view.name || view.element.name || view.element.id;
      button.dataset.viewType = view.type;
      button.setAttribute("aria-pressed", String(view === active));
      button.addEventListener("click", () => viewer.open(view));
      nav.append(button);
    }
  };
  viewer.on("views.changed", show);
  container.before(nav);
  show();
}

/** Describe an import warning of bpmn-js or dmn-js as one line of text. */
export function describeWarning(warning) {
  return warning?.message ?? String(warning);
}
