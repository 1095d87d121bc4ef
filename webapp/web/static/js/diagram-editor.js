// BPMN and DMN modelers with a small properties panel and a save that shows the server's verdict.
//
// Markup (the page loads bpmn-modeler and/or dmn-modeler from vendor/ first, and has
// <meta name="csrf-token" content="...">):
//   <div data-bpmn-editor data-bpmn-url="/x.bpmn" data-save-url="/validate"
//        data-deploy-url="/deploy" data-operators='{"population.person": ["iin"]}'
//        data-forms='["check_documents.schema.json"]'></div>
//   <div data-dmn-editor data-dmn-url="/x.dmn" data-save-url="/validate"></div>
// data-deploy-url, data-operators (operator id -> parameter names) and data-forms are optional;
// data-labels (JSON, key -> text) gives the page's language to the texts in LABELS.
// The diagram opens at a readable zoom, with zoom buttons; a Diagram / XML switch shows the
// XML to read and edit, and switching back imports it (an XML that does not import keeps the
// XML view open with the reason). A service task's operator is picked from data-operators.
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
  MIN_READABLE_SCALE,
  t,
  zoomAtStart,
  zoomControls,
} from "./diagram-common.js";

const SPIFF_DESCRIPTOR_URL = new URL("./spiffworkflow-moddle.json", import.meta.url);
const FORM_PROPERTIES = [
  ["formJsonSchemaFilename", "formSchema"],
  ["formUiSchemaFilename", "formUiSchema"],
];

const STATUS_TEXT = { ok: "saved", problems: "problemsFound", error: "notSaved" };
// Texts a page may translate through data-labels; %(name)s marks a value put in.
const LABELS = {
  saved: "Saved",
  problemsFound: "Problems found",
  notSaved: "Not saved",
  saving: "Saving…",
  unsavedChanges: "Unsaved changes",
  save: "Save",
  saveDeploy: "Save and deploy",
  noProblems: "No problems found.",
  oneProblem: "1 problem",
  problems: "%(n)s problems",
  line: "line %(n)s",
  serverAnswered: "The server answered %(status)s.",
  properties: "Properties",
  selectElement: "Select an element.",
  id: "Id",
  name: "Name",
  lane: "Lane",
  operator: "Operator",
  resultVariable: "Result variable",
  parameters: "Parameters",
  parameter: "Parameter",
  type: "Type",
  value: "Value",
  addParameter: "Add parameter",
  removeParameter: "Remove parameter",
  instructions: "Instructions",
  formSchema: "Form schema file",
  formUiSchema: "Form UI schema file",
  diagram: "Diagram",
  xml: "XML",
  xmlInvalid: "The XML cannot be read: %(reason)s",
  chooseOperator: "Choose an operator",
  unknownOperator: "%(id)s (not in the operator table)",
  operatorTakes: "Takes: %(names)s",
  operatorTakesNothing: "Takes no parameters",
  missingParameters: "Missing: %(names)s",
  proposed: "Version %(version)s of %(process)s is saved and awaits approval by another process owner; running instances are not affected until then.",
  deployedVersion: "Version %(version)s of %(process)s is deployed.",
  unchanged: "%(process)s is unchanged: version %(version)s already has this content.",
  review: "Review the change",
  openVersion: "Open version %(version)s",
  textsToTranslate: "Texts to translate before the version can take effect: %(n)s",
  // The panel's heading: the selected element's type.
  "bpmn:Task": "Task",
  "bpmn:UserTask": "User task",
  "bpmn:ServiceTask": "Service task",
  "bpmn:ScriptTask": "Script task",
  "bpmn:BusinessRuleTask": "Business rule task",
  "bpmn:ManualTask": "Manual task",
  "bpmn:SendTask": "Send task",
  "bpmn:ReceiveTask": "Receive task",
  "bpmn:CallActivity": "Call activity",
  "bpmn:SubProcess": "Subprocess",
  "bpmn:Transaction": "Transaction",
  "bpmn:StartEvent": "Start event",
  "bpmn:EndEvent": "End event",
  "bpmn:IntermediateCatchEvent": "Intermediate catch event",
  "bpmn:IntermediateThrowEvent": "Intermediate throw event",
  "bpmn:BoundaryEvent": "Boundary event",
  "bpmn:ExclusiveGateway": "Exclusive gateway",
  "bpmn:ParallelGateway": "Parallel gateway",
  "bpmn:InclusiveGateway": "Inclusive gateway",
  "bpmn:EventBasedGateway": "Event-based gateway",
  "bpmn:ComplexGateway": "Complex gateway",
  "bpmn:SequenceFlow": "Sequence flow",
  "bpmn:MessageFlow": "Message flow",
  "bpmn:Association": "Association",
  "bpmn:DataObjectReference": "Data object",
  "bpmn:DataStoreReference": "Data store",
  "bpmn:TextAnnotation": "Text annotation",
  "bpmn:Participant": "Pool",
  "bpmn:Group": "Group",
};

/** Return a text of LABELS in the container's language with its values put in. */
function label(container, key, values = {}) {
  const texts = { ...LABELS, ...jsonAttribute(container, "labels", {}) };
  return texts[key].replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}
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

/** Return one list item saying what became of a process: proposed, deployed or unchanged. */
function deployedItem(container, entry) {
  const values = { process: entry.process_id ?? entry.process, version: entry.version };
  const key =
    entry.status === "pending" ? "proposed" : entry.created === false ? "unchanged" : "deployedVersion";
  const item = el("li", { className: `deployed-${entry.status ?? "done"}` });
  item.dataset.version = String(entry.version);
  item.append(el("span", { textContent: label(container, key, values) }));
  if (entry.review_url && entry.status === "pending") {
    item.append(" ", el("a", { className: "review-link", href: entry.review_url, textContent: label(container, "review") }));
  }
  if (entry.url) {
    item.append(" ", el("a", { className: "version-link", href: entry.url, textContent: label(container, "openVersion", values) }));
  }
  return item;
}

/** Return a list of problems, each with where it is and a button that selects its element. */
function problemList(container, problems, className, onElement) {
  const list = el("ol", { className });
  for (const problem of problems) {
    const where = [problem.file, problem.line && label(container, "line", { n: problem.line })]
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
  const container = results.closest(".diagram-editor");
  const problems = (answer.problems || []).filter((problem) => !isWarning(problem));
  const warnings = (answer.problems || []).filter(isWarning);
  const deployed = answer.deployed || [];
  results.replaceChildren();
  results.dataset.outcome = problems.length ? "problems" : status < 400 ? "ok" : "error";
  if (problems.length) {
    const count =
      problems.length === 1
        ? label(container, "oneProblem")
        : label(container, "problems", { n: problems.length });
    results.append(el("h3", { textContent: count }), problemList(container, problems, "problems", onElement));
  } else if (status < 400) {
    results.append(el("p", { textContent: label(container, "noProblems") }));
  } else {
    const text = answer.error || label(container, "serverAnswered", { status });
    results.append(el("p", { textContent: text }));
  }
  if (deployed.length) {
    // A deployment made here waits for a second person: each line says so and links its review.
    const list = el("ul", { className: "deployed" });
    list.append(...deployed.map((entry) => deployedItem(container, entry)));
    results.dataset.outcome = "ok";
    results.replaceChildren(list);
  }
  if (warnings.length) {
    const heading = label(container, "textsToTranslate", { n: warnings.length });
    results.append(
      el("h3", { textContent: heading }),
      problemList(container, warnings, "warnings", onElement),
    );
  }
}

/** POST the editor's XML to url and return {status, answer}. */
async function postXml(container, modeler, url) {
  const xml = await currentXml(container, modeler);
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
  const panel = el("aside", {
    className: "properties-panel",
    ariaLabel: label(container, "properties"),
  });
  if (withPanel) {
    body.append(panel);
  }
  const results = el("section", { className: "save-results", ariaLive: "polite" });
  const xml = el("textarea", { className: "xml-source", spellcheck: false, hidden: true });
  xml.setAttribute("aria-label", label(container, "xml"));
  const xmlError = el("p", { className: "xml-error", role: "alert", hidden: true });
  const views = el("div", { className: "editor-views", role: "group" });
  toolbar.append(views, status);
  container.classList.add("diagram-editor");
  container.append(toolbar, body, xmlError, xml, results);
  return { toolbar, views, status, canvas, body, panel, results, xml, xmlError };
}

/** Add the Diagram / XML switch: the XML view shows the XML, switching back imports it. */
function wireXmlView(container, modeler, layout, reopen) {
  const buttons = {};
  const show = async (view) => {
    if (view === "xml") {
      layout.xml.value = (await modeler.saveXML({ format: true })).xml;
    } else {
      try {
        await modeler.importXML(layout.xml.value);
        await reopen();
      } catch (error) {
        layout.xmlError.textContent = label(container, "xmlInvalid", { reason: error.message });
        layout.xmlError.hidden = false;
        return;
      }
    }
    layout.xmlError.hidden = true;
    layout.body.hidden = view === "xml";
    layout.xml.hidden = view !== "xml";
    container.dataset.view = view;
    for (const [name, button] of Object.entries(buttons)) {
      button.setAttribute("aria-pressed", String(name === view));
    }
  };
  for (const view of ["diagram", "xml"]) {
    const button = el("button", { type: "button", textContent: label(container, view) });
    button.dataset.view = view;
    button.setAttribute("aria-pressed", String(view === "diagram"));
    button.addEventListener("click", () => show(view));
    buttons[view] = button;
    layout.views.append(button);
  }
  container.dataset.view = "diagram";
}

/** Return the editor's XML: the XML view's text while it is shown, else the modeler's. */
async function currentXml(container, modeler) {
  if (container.dataset.view === "xml") {
    return container.querySelector(".xml-source").value;
  }
  return (await modeler.saveXML({ format: true })).xml;
}

/** Wire the save (and deploy) buttons of an editor to its modeler. */
function wireSaving(container, modeler, layout, onElement) {
  const actions = [["save", label(container, "save"), container.dataset.saveUrl]];
  if (container.dataset.deployUrl) {
    actions.push(["deploy", label(container, "saveDeploy"), container.dataset.deployUrl]);
  }
  for (const [action, caption, url] of actions) {
    if (!url) {
      continue;
    }
    const button = el("button", { type: "button", textContent: caption });
    button.dataset.action = action;
    button.addEventListener("click", async () => {
      button.disabled = true;
      layout.status.textContent = label(container, "saving");
      try {
        const { status, answer } = await postXml(container, modeler, url);
        showAnswer(layout.results, status, answer, onElement);
        layout.status.textContent = label(container, STATUS_TEXT[layout.results.dataset.outcome]);
        container.dispatchEvent(
          new CustomEvent("diagram:saved", { detail: { action, status, answer }, bubbles: true }),
        );
      } catch (error) {
        layout.status.textContent = label(container, "notSaved");
        showAnswer(layout.results, 0, { error: error.message }, onElement);
      } finally {
        button.disabled = false;
      }
    });
    layout.toolbar.insertBefore(button, layout.views);
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

/** Return the heading of a BPMN type in the container's language: LABELS names the types the
 * palette and the replace menu make (lanes by the lane key); any other is spelt from its type,
 * "bpmn:DataInputAssociation" as "Data input association". */
function typeLabel(container, type) {
  const key = type === "bpmn:Lane" ? "lane" : type;
  if (key in LABELS) {
    return label(container, key);
  }
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
    this.container = container;
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
      const hint = label(this.container, "selectElement");
      this.panel.append(el("p", { className: "panel-hint", textContent: hint }));
      return;
    }
    const bo = this.element.businessObject;
    this.panel.dataset.elementId = bo.id;
    this.panel.append(
      el("h2", { textContent: typeLabel(this.container, this.element.type) }),
      field(this.text("id"), "id", bo.id, () => {}, { readOnly: true }),
      field(this.text("name"), "name", bo.name ?? "", (name) =>
        this.apply((ext) => ext.modeling.updateProperties(this.element, { name: name || undefined })),
      ),
    );
    const lane = laneOf(this.modeler, this.element);
    if (lane) {
      this.panel.append(field(this.text("lane"), "lane", lane, () => {}, { readOnly: true }));
    }
    if (this.element.type === "bpmn:ServiceTask") {
      this.showServiceTask(new Extensions(this.modeler, this.element));
    }
    if (this.element.type === "bpmn:UserTask") {
      this.showUserTask(new Extensions(this.modeler, this.element));
    }
  }

  /** Return a text of LABELS in the page's language. */
  text(key) {
    return label(this.container, key);
  }

  /** Build the operator select: the operator table's entries, and the current one if unknown. */
  operatorSelect(current) {
    const select = el("select", { name: "operator" });
    select.append(el("option", { value: "", textContent: label(this.container, "chooseOperator") }));
    const ids = Object.keys(this.operators);
    if (current && !ids.includes(current)) {
      const text = label(this.container, "unknownOperator", { id: current });
      select.append(el("option", { value: current, textContent: text }));
    }
    select.append(...ids.map((id) => el("option", { value: id, textContent: id })));
    select.value = current;
    select.addEventListener("change", () => this.setOperator(select.value));
    const caption = el("span", { textContent: this.text("operator") });
    return el("label", { className: "panel-field" }, caption, select);
  }

  /** Say which parameters the operator takes, and which of them the task does not give. */
  operatorHint(id, parameters) {
    const wanted = this.operators[id];
    if (!wanted) {
      return null;
    }
    const given = new Set(parameters.map((parameter) => parameter.id));
    const missing = wanted.filter((name) => !given.has(name));
    const hint = el("p", { className: "operator-parameters panel-hint" });
    hint.append(
      wanted.length
        ? label(this.container, "operatorTakes", { names: wanted.join(", ") })
        : label(this.container, "operatorTakesNothing"),
    );
    if (missing.length) {
      const warning = el("strong", {
        className: "missing-parameters",
        textContent: label(this.container, "missingParameters", { names: missing.join(", ") }),
      });
      hint.append(el("br"), warning);
    }
    return hint;
  }

  /** Show the operator, result variable and parameter rows of a service task. */
  showServiceTask(extensions) {
    const operator = extensions.find("spiffworkflow:serviceTaskOperator");
    const parameters = operator?.parameterList?.get("parameters") ?? [];
    this.panel.append(this.operatorSelect(operator?.id ?? ""));
    const hint = this.operatorHint(operator?.id, parameters);
    if (hint) {
      this.panel.append(hint);
    }
    this.panel.append(
      field(this.text("resultVariable"), "resultVariable", operator?.resultVariable ?? "", (name) =>
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
          ...["parameter", "type", "value"].map((key) => el("th", { textContent: this.text(key) })),
          el("th"),
        ),
      ),
    );
    const body = el("tbody");
    parameters.forEach((parameter, index) => body.append(this.parameterRow(parameter, index)));
    const add = el("button", { type: "button", textContent: this.text("addParameter") });
    add.dataset.action = "add-parameter";
    add.addEventListener("click", () =>
      this.apply((ext) => ext.addParameter(), { redraw: true }),
    );
    table.append(body);
    this.panel.append(el("h3", { textContent: this.text("parameters") }), table, add);
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
    const remove = el("button", {
      type: "button",
      textContent: "×",
      title: this.text("removeParameter"),
    });
    remove.dataset.action = "remove-parameter";
    remove.addEventListener("click", () =>
      this.apply((ext) => ext.removeParameter(parameter), { redraw: true }),
    );
    row.append(el("td", {}, remove));
    return row;
  }

  /** Set the operator id and add a row for each of its parameters the task does not give. */
  setOperator(id) {
    this.apply(
      (ext) => {
        const operator = ext.ensure("spiffworkflow:serviceTaskOperator");
        ext.update(operator, { id: id || undefined });
        const given = new Set((operator.parameterList?.get("parameters") ?? []).map((p) => p.id));
        for (const name of this.operators[id] || []) {
          if (!given.has(name)) {
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
    for (const [name, key] of FORM_PROPERTIES) {
      this.panel.append(
        field(
          this.text(key),
          name,
          extensions.property(name),
          (value) => this.apply((ext) => ext.setProperty(name, value)),
          { list: listId },
        ),
      );
    }
    this.panel.append(
      field(
        this.text("instructions"),
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
  const left = besidePalette(canvasElement);
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

/** Return the left edge, in pixels, of the canvas the tool palette leaves free. */
function besidePalette(canvasElement) {
  const palette = canvasElement.querySelector(".djs-palette");
  return (palette ? palette.offsetLeft + palette.offsetWidth : 0) + 24;
}

/** Open at the whole diagram when that is readable, else at its top left beside the palette. */
function readableStart(modeler, canvasElement) {
  fitBesidePalette(modeler, canvasElement);
  const canvas = modeler.get("canvas");
  if (canvas.zoom() < MIN_READABLE_SCALE) {
    zoomAtStart(canvas, besidePalette(canvasElement) + 16);
  }
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
  readableStart(modeler, layout.canvas);
  zoomControls(layout.canvas, modeler.get("canvas"), () => fitBesidePalette(modeler, layout.canvas));
  wireXmlView(container, modeler, layout, async () => panel.show(null));
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
    layout.status.textContent = label(container, "unsavedChanges");
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
  const openTable = async () => {
    const table = modeler.getViews().find((view) => view.type === "decisionTable");
    if (table) {
      await modeler.open(table);
    }
  };
  await openTable();
  wireXmlView(container, modeler, layout, openTable);
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
