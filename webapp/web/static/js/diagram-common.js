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
