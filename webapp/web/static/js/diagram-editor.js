// BPMN and DMN modelers with a small properties panel and a save that shows the server's verdict.
//
// Markup (the page loads bpmn-modeler and/or dmn-modeler from vendor/ first, and has
// <meta name="csrf-token" content="...">):
//   <div data-bpmn-editor data-bpmn-url="/x.bpmn" data-save-url="/validate"
//        data-deploy-url="/deploy" data-operators='{"population.person": ["iin"]}'
//        data-forms='["check_documents.schema.json"]'></div>
//   <div data-dmn-editor data-dmn-url="/x.dmn" data-save-url="/validate"></div>
// data-deploy-url, data-operators (operator id -> parameter names) and data-forms are optional.
// Saving POSTs the XML (Content-Type application/xml, header X-CSRFToken) and expects JSON
// {"problems": [{"file", "line", "element", "message"}], "deployed": [...]}; the container then
// fires "diagram:saved" with detail {action, status, answer}. After loading it has
// data-diagram-state="ready" and fires "diagram:ready" with detail {warnings}.

import {
  announce,
  describeWarning,
  diagramSource,
  jsonAttribute,
  library,
  t,
} from "./diagram-common.js";

const SPIFF_DESCRIPTOR_URL = new URL("./spiffworkflow-moddle.json", import.meta.url);
const FORM_PROPERTIES = [
  ["formJsonSchemaFilename", "Form schema file"],
  ["formUiSchemaFilename", "Form UI schema file"],
];

const STATUS_TEXT = { ok: "Saved", problems: "Problems found", error: "Not saved" };
// Problems that let a version be proposed but not take effect: texts still to translate.
const isWarning = (problem) => problem.warning === true;

const editors = new WeakMap();
let spiffDescriptor;

/** Return the modeler opened in a container, if any. */
export function editorOf(container) {
  return editors.get(container);
}

/** Load the SpiffWorkflow moddle descriptor once. */
function loadSpiffDescriptor() {
  spiffDescriptor ??= fetch(SPIFF_DESCRIPTOR_URL).then((response) => response.json());
  return spiffDescriptor;
}

/** Create an element with properties and children. */
function el(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

/** Return the CSRF token the page carries in its meta tag. */
function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** Describe one deployed entry of the server's answer (its links are shown apart). */
function describeDeployed(entry) {
  if (typeof entry !== "object" || entry === null) {
    return String(entry);
  }
  return Object.entries(entry)
    .filter(([key]) => !key.endsWith("url"))
    .map(([key, value]) => `${key}: ${value}`)
    .join(", ");
}

/** Return a list of problems, each with where it is and a button that selects its element. */
function problemList(problems, className, onElement) {
  const list = el("ol", { className });
  for (const problem of problems) {
    const where = [problem.file, problem.line && t("line %(n)s", { n: problem.line })]
      .filter(Boolean)
      .join(", ");
    const item = el("li", {}, el("span", { className: "problem-where", textContent: where }));
    if (problem.element) {
      const link = el("button", {
        type: "button",
        className: "problem-element",
        textContent: problem.element,
      });
      link.addEventListener("click", () => onElement(problem.element));
      item.append(" ", link);
    }
    item.append(" ", el("span", { className: "problem-message", textContent: problem.message }));
    list.append(item);
  }
  return list;
}

/** Show the server's answer to a save: its problems or a clean bill, and what it deployed. */
function showAnswer(results, status, answer, onElement) {
  const problems = (answer.problems || []).filter((problem) => !isWarning(problem));
  const warnings = (answer.problems || []).filter(isWarning);
  const deployed = answer.deployed || [];
  results.replaceChildren();
  results.dataset.outcome = problems.length ? "problems" : status < 400 ? "ok" : "error";
  if (problems.length) {
    const count = t("Problems found: %(n)s", { n: problems.length });
    results.append(el("h3", { textContent: count }), problemList(problems, "problems", onElement));
  } else if (status < 400) {
    results.append(el("p", { textContent: t("No problems found.") }));
  } else {
    const text = answer.error || t("The server answered %(status)s.", { status });
    results.append(el("p", { textContent: text }));
  }
  if (warnings.length) {
    const heading = t("Texts to translate before the version can take effect: %(n)s", {
      n: warnings.length,
    });
    results.append(el("h3", { textContent: heading }), problemList(warnings, "warnings", onElement));
  }
  if (deployed.length) {
    // A deployment made here waits for a second person: say so, and link its review page.
    const review = deployed.find((entry) => entry?.status === "pending")?.review_url;
    const list = el("ul", { className: "deployed" });
    list.append(...deployed.map((entry) => el("li", { textContent: describeDeployed(entry) })));
    const heading = review ? t("Awaiting approval by another process owner") : t("Deployed");
    results.append(el("h3", { textContent: heading }), list);
    if (review) {
      results.append(el("a", { className: "review-link", href: review, textContent: t("Review") }));
    }
  }
}

/** POST the modeler's XML to url and return {status, answer}. */
async function postXml(modeler, url) {
  const { xml } = await modeler.saveXML({ format: true });
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/xml",
      Accept: "application/json",
      "X-CSRFToken": csrfToken(),
    },
    body: xml,
  });
  let answer;
  try {
    answer = await response.json();
  } catch {
    answer = { error: t("The server answered %(status)s.", { status: response.status }) };
  }
  return { status: response.status, answer };
}

/** Build the toolbar, canvas, side panel and results area inside an editor container. */
function editorLayout(container, withPanel) {
  const status = el("span", { className: "editor-status", role: "status" });
  const toolbar = el("div", { className: "editor-toolbar" });
  const canvas = el("div", { className: "diagram-canvas" });
  const body = el("div", { className: "editor-body" }, canvas);
  const panel = el("aside", { className: "properties-panel", ariaLabel: t("Properties") });
  if (withPanel) {
    body.append(panel);
  }
  const results = el("section", { className: "save-results", ariaLive: "polite" });
  toolbar.append(status);
  container.classList.add("diagram-editor");
  container.append(toolbar, body, results);
  return { toolbar, status, canvas, panel, results };
}

/** Wire the save (and deploy) buttons of an editor to its modeler. */
function wireSaving(container, modeler, layout, onElement) {
  const actions = [["save", t("Save"), container.dataset.saveUrl]];
  if (container.dataset.deployUrl) {
    actions.push(["deploy", t("Save and deploy"), container.dataset.deployUrl]);
  }
  for (const [action, label, url] of actions) {
    if (!url) {
      continue;
    }
    const button = el("button", { type: "button", textContent: label });
    button.dataset.action = action;
    button.addEventListener("click", async () => {
      button.disabled = true;
      layout.status.textContent = t("Saving…");
      try {
        const { status, answer } = await postXml(modeler, url);
        showAnswer(layout.results, status, answer, onElement);
        layout.status.textContent = t(STATUS_TEXT[layout.results.dataset.outcome]);
        container.dispatchEvent(
          new CustomEvent("diagram:saved", { detail: { action, status, answer }, bubbles: true }),
        );
      } catch (error) {
        layout.status.textContent = t("Not saved");
        showAnswer(layout.results, 0, { error: error.message }, onElement);
      } finally {
        button.disabled = false;
      }
    });
    layout.toolbar.insertBefore(button, layout.status);
  }
}

/** Edit SpiffWorkflow extension elements of one diagram element through bpmn-js commands. */
class Extensions {
  constructor(modeler, element) {
    this.modeling = modeler.get("modeling");
    this.moddle = modeler.get("moddle");
    this.element = element;
    this.bo = element.businessObject;
  }

  /** Return the first extension element of a type, or undefined. */
  find(type) {
    return this.bo.extensionElements?.get("values").find((value) => value.$instanceOf(type));
  }

  /** Create a moddle element whose parent is known, as the serializer needs. */
  create(type, attrs, parent) {
    const created = this.moddle.create(type, attrs);
    created.$parent = parent;
    return created;
  }

  /** Return the extension element of a type, creating it (and extensionElements) if absent. */
  ensure(type, attrs = {}) {
    let container = this.bo.extensionElements;
    if (!container) {
      container = this.create("bpmn:ExtensionElements", { values: [] }, this.bo);
      this.modeling.updateProperties(this.element, { extensionElements: container });
    }
    let found = this.find(type);
    if (!found) {
      found = this.create(type, attrs, container);
      this.update(container, { values: [...container.get("values"), found] });
    }
    return found;
  }

  /** Remove an extension element. */
  remove(item) {
    const container = this.bo.extensionElements;
    this.update(container, { values: container.get("values").filter((value) => value !== item) });
  }

  /** Set properties of any moddle element that belongs to this diagram element. */
  update(target, properties) {
    this.modeling.updateModdleProperties(this.element, target, properties);
  }

  /** Return the service task operator's parameters list, creating it if absent. */
  parameterList(operator) {
    if (!operator.parameterList) {
      const list = this.create("spiffworkflow:parameters", { parameters: [] }, operator);
      this.update(operator, { parameterList: list });
    }
    return operator.parameterList;
  }

  /** Append a parameter row to the service task operator. */
  addParameter(id = "") {
    const list = this.parameterList(this.ensure("spiffworkflow:serviceTaskOperator"));
    const parameter = this.create("spiffworkflow:parameter", { id, type: "str", value: "" }, list);
    this.update(list, { parameters: [...list.get("parameters"), parameter] });
  }

  /** Remove a parameter of the service task operator. */
  removeParameter(parameter) {
    const list = parameter.$parent;
    this.update(list, { parameters: list.get("parameters").filter((p) => p !== parameter) });
  }

  /** Return the value of a spiffworkflow:property, or "". */
  property(name) {
    const properties = this.find("spiffworkflow:properties");
    return properties?.get("properties").find((p) => p.name === name)?.value ?? "";
  }

  /** Set (or with an empty value remove) a spiffworkflow:property. */
  setProperty(name, value) {
    const properties = this.ensure("spiffworkflow:properties");
    const existing = properties.get("properties").find((p) => p.name === name);
    const others = properties.get("properties").filter((p) => p !== existing);
    if (!value) {
      this.update(properties, { properties: others });
    } else if (existing) {
      this.update(existing, { value });
    } else {
      const created = this.create("spiffworkflow:property", { name, value }, properties);
      this.update(properties, { properties: [...properties.get("properties"), created] });
    }
    if (!properties.get("properties").length) {
      this.remove(properties);
    }
  }

  /** Return the text of a body-only extension element such as instructionsForEndUser. */
  text(type) {
    return this.find(type)?.value ?? "";
  }

  /** Set (or with an empty value remove) a body-only extension element. */
  setText(type, value) {
    const existing = this.find(type);
    if (!value) {
      if (existing) {
        this.remove(existing);
      }
    } else {
      this.update(this.ensure(type), { value });
    }
  }
}

/** Return the name of the lane that holds an element, or "". */
function laneOf(modeler, element) {
  const lane = modeler
    .get("elementRegistry")
    .find(
      (candidate) =>
        candidate.type === "bpmn:Lane" &&
        (candidate.businessObject.flowNodeRef || []).includes(element.businessObject),
    );
  return lane?.businessObject.name ?? "";
}

/** Return a readable name for a BPMN type such as "bpmn:UserTask" ("User task"). */
function typeLabel(type) {
  const words = type.replace(/^bpmn:/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
  return words.charAt(0) + words.slice(1).toLowerCase();
}

/** Build a labelled input that commits its value on change. */
function field(label, name, value, onCommit, options = {}) {
  const input = el(options.multiline ? "textarea" : "input", { value, name });
  if (options.readOnly) {
    input.readOnly = true;
  }
  if (options.list) {
    input.setAttribute("list", options.list);
  }
  input.addEventListener("change", () => onCommit(input.value.trim()));
  return el("label", { className: "panel-field" }, el("span", { textContent: label }), input);
}

/** Build a datalist with the given options and return its id. */
function datalist(panel, id, values) {
  panel.append(el("datalist", { id }, ...values.map((value) => el("option", { value }))));
  return id;
}

const PANEL_EDIT = "propertiesPanel.edit";

/** A command whose nested commands (run before it) undo and redo as one step. */
class PanelEditHandler {
  preExecute(context) {
    context.edit();
  }

  execute() {
    return [];
  }

  revert() {
    return [];
  }
}

/** The properties panel: fields for the selected element, applied as undoable commands. */
class PropertiesPanel {
  constructor(modeler, panel, container) {
    modeler.get("commandStack").registerHandler(PANEL_EDIT, PanelEditHandler);
    this.modeler = modeler;
    this.panel = panel;
    this.operators = jsonAttribute(container, "operators", {});
    this.forms = jsonAttribute(container, "forms", []);
    this.listPrefix = `${container.id || "editor"}-${Math.random().toString(36).slice(2, 8)}`;
    this.element = null;
    this.applying = false;
    modeler.on("selection.changed", ({ newSelection }) => this.show(newSelection[0] || null));
    modeler.on("commandStack.changed", () => {
      if (!this.applying) {
        this.show(this.element);
      }
    });
  }

  /** Run one panel edit as a single undoable command; redraw afterwards if it adds or removes. */
  apply(edit, { redraw = false } = {}) {
    this.applying = true;
    try {
      this.modeler.get("commandStack").execute(PANEL_EDIT, {
        edit: () => edit(new Extensions(this.modeler, this.element)),
      });
    } finally {
      this.applying = false;
    }
    if (redraw) {
      this.show(this.element);
    }
  }

  /** Show the fields of an element (or a hint when nothing is selected). */
  show(element) {
    const registry = this.modeler.get("elementRegistry");
    // An external label stands for the event or flow it names.
    const target = element?.labelTarget ?? element;
    this.element = target && registry.get(target.id) ? target : null;
    this.panel.replaceChildren();
    delete this.panel.dataset.elementId;
    if (!this.element) {
      this.panel.append(el("p", { className: "panel-hint", textContent: t("Select an element.") }));
      return;
    }
    const bo = this.element.businessObject;
    this.panel.dataset.elementId = bo.id;
    this.panel.append(
      el("h2", { textContent: typeLabel(this.element.type) }),
      field(t("Id"), "id", bo.id, () => {}, { readOnly: true }),
      field(t("Name"), "name", bo.name ?? "", (name) =>
        this.apply((ext) => ext.modeling.updateProperties(this.element, { name: name || undefined })),
      ),
    );
    const lane = laneOf(this.modeler, this.element);
    if (lane) {
      this.panel.append(field(t("Lane"), "lane", lane, () => {}, { readOnly: true }));
    }
    if (this.element.type === "bpmn:ServiceTask") {
      this.showServiceTask(new Extensions(this.modeler, this.element));
    }
    if (this.element.type === "bpmn:UserTask") {
      this.showUserTask(new Extensions(this.modeler, this.element));
    }
  }

  /** Show the operator, result variable and parameter rows of a service task. */
  showServiceTask(extensions) {
    const operator = extensions.find("spiffworkflow:serviceTaskOperator");
    const listId = datalist(this.panel, `${this.listPrefix}-operators`, Object.keys(this.operators));
    const parameters = operator?.parameterList?.get("parameters") ?? [];
    this.panel.append(
      field(t("Operator"), "operator", operator?.id ?? "", (id) => this.setOperator(id), {
        list: listId,
      }),
      field(t("Result variable"), "resultVariable", operator?.resultVariable ?? "", (name) =>
        this.apply((ext) => {
          ext.update(ext.ensure("spiffworkflow:serviceTaskOperator"), {
            resultVariable: name || undefined,
          });
        }),
      ),
    );
    const table = el("table", { className: "parameters" });
    table.append(
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...[t("Parameter"), t("Type"), t("Value"), ""].map((text) =>
            el("th", { textContent: text }),
          ),
        ),
      ),
    );
    const body = el("tbody");
    parameters.forEach((parameter, index) => body.append(this.parameterRow(parameter, index)));
    const add = el("button", { type: "button", textContent: t("Add parameter") });
    add.dataset.action = "add-parameter";
    add.addEventListener("click", () =>
      this.apply((ext) => ext.addParameter(), { redraw: true }),
    );
    table.append(body);
    this.panel.append(el("h3", { textContent: t("Parameters") }), table, add);
  }

  /** Build one editable parameter row. */
  parameterRow(parameter, index) {
    const row = el("tr");
    row.dataset.parameterIndex = String(index);
    for (const name of ["id", "type", "value"]) {
      const input = el("input", { value: parameter[name] ?? "", name: `parameter-${name}` });
      input.setAttribute("aria-label", t("Parameter %(n)s %(name)s", { n: index + 1, name }));
      if (name === "value") {
        input.title = t("A Python expression over the task data");
      }
      input.addEventListener("change", () =>
        this.apply((ext) => ext.update(parameter, { [name]: input.value.trim() })),
      );
      row.append(el("td", {}, input));
    }
    const remove = el("button", { type: "button", textContent: "×", title: t("Remove parameter") });
    remove.dataset.action = "remove-parameter";
    remove.addEventListener("click", () =>
      this.apply((ext) => ext.removeParameter(parameter), { redraw: true }),
    );
    row.append(el("td", {}, remove));
    return row;
  }

  /** Set the operator id; a known operator without parameters gets a row per parameter. */
  setOperator(id) {
    this.apply(
      (ext) => {
        const operator = ext.ensure("spiffworkflow:serviceTaskOperator");
        ext.update(operator, { id: id || undefined });
        const hasParameters = operator.parameterList?.get("parameters").length;
        if (!hasParameters) {
          for (const name of this.operators[id] || []) {
            ext.addParameter(name);
          }
        }
      },
      { redraw: true },
    );
  }

  /** Show the form files and the instructions of a user task. */
  showUserTask(extensions) {
    const listId = datalist(this.panel, `${this.listPrefix}-forms`, this.forms);
    for (const [name, label] of FORM_PROPERTIES) {
      this.panel.append(
        field(
          t(label),
          name,
          extensions.property(name),
          (value) => this.apply((ext) => ext.setProperty(name, value)),
          { list: listId },
        ),
      );
    }
    this.panel.append(
      field(
        t("Instructions"),
        "instructions",
        extensions.text("spiffworkflow:instructionsForEndUser"),
        (value) => this.apply((ext) => ext.setText("spiffworkflow:instructionsForEndUser", value)),
        { multiline: true },
      ),
    );
  }
}

/** Fit the whole diagram into the canvas to the right of the tool palette that overlays it. */
function fitBesidePalette(modeler, canvasElement) {
  const canvas = modeler.get("canvas");
  const { inner, outer } = canvas.viewbox();
  const palette = canvasElement.querySelector(".djs-palette");
  const left = (palette ? palette.offsetLeft + palette.offsetWidth : 0) + 24;
  const margin = 24;
  const scale = Math.min(
    1,
    (outer.width - left - margin) / inner.width,
    (outer.height - 2 * margin) / inner.height,
  );
  canvas.viewbox({
    x: inner.x - left / scale,
    y: inner.y - (outer.height / scale - inner.height) / 2,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

/** Open the BPMN modeler with the SpiffWorkflow descriptor and our properties panel. */
export async function openBpmnEditor(container) {
  const layout = editorLayout(container, true);
  const modeler = new (library("BpmnJS", "bpmn-js/bpmn-modeler"))({
    container: layout.canvas,
    moddleExtensions: { spiffworkflow: await loadSpiffDescriptor() },
  });
  editors.set(container, modeler);
  const panel = new PropertiesPanel(modeler, layout.panel, container);
  const { warnings } = await modeler.importXML(await diagramSource(container, "bpmn"));
  fitBesidePalette(modeler, layout.canvas);
  panel.show(null);
  const select = (id) => {
    const element = modeler.get("elementRegistry").get(id);
    if (element) {
      modeler.get("selection").select(element);
      modeler.get("canvas").scrollToElement(element);
    }
  };
  wireSaving(container, modeler, layout, select);
  modeler.on("commandStack.changed", () => {
    layout.status.textContent = t("Unsaved changes");
  });
  return { warnings: warnings.map(describeWarning) };
}

/** Open the DMN modeler with its own editing views. */
export async function openDmnEditor(container) {
  const layout = editorLayout(container, false);
  layout.canvas.classList.add("dmn-canvas");
  const modeler = new (library("DmnJS", "dmn-js/dmn-modeler"))({ container: layout.canvas });
  editors.set(container, modeler);
  const { warnings } = await modeler.importXML(await diagramSource(container, "dmn"));
  const table = modeler.getViews().find((view) => view.type === "decisionTable");
  if (table) {
    await modeler.open(table);
  }
  wireSaving(container, modeler, layout, () => {});
  return { warnings: warnings.map(describeWarning) };
}

/** Open one editor container, announcing the outcome on it. */
export async function openEditor(container) {
  announce(container, "loading", {});
  try {
    const result =
      "dmnEditor" in container.dataset
        ? await openDmnEditor(container)
        : await openBpmnEditor(container);
    announce(container, "ready", result);
    return result;
  } catch (error) {
    container.dataset.diagramError = error.message;
    announce(container, "error", { message: error.message });
    throw error;
  }
}

/** Open every editor container of the page. */
export function openAll(root = document) {
  const containers = root.querySelectorAll("[data-bpmn-editor], [data-dmn-editor]");
  return Promise.allSettled([...containers].map(openEditor));
}

openAll();
