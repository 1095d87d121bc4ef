// JSON form schemas edited in a textarea with a live preview rendered by the server.
//
// Markup (the page has <meta name="csrf-token" content="...">):
//   <details data-form-editor data-name="x.schema.json" data-preview-url="/preview"
//            data-save-url="/save" data-deploy-url="/save?deploy=1" data-ui-name="x.uischema.json">
//     <textarea></textarea> <div class="form-live-preview"></div>
//     <button data-action="save"></button> <button data-action="deploy"></button>
//     <span class="editor-status"></span> <ol class="problems"></ol>
//   </details>
// The preview follows typing (debounced); UI schema files preview with their form schema.
// Saving POSTs the text and shows the server's problems, or the deployed versions.

import { t } from "./diagram-common.js";

const DELAY_MS = 300;

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

function editorNamed(name) {
  return document.querySelector(`[data-form-editor][data-name="${CSS.escape(name)}"]`);
}

function textOf(editor) {
  return editor?.querySelector("textarea").value ?? "";
}

/** Ask the server to render the form and show it beside the textarea. */
async function preview(editor) {
  const name = editor.dataset.name;
  const isUi = name.endsWith(".uischema.json");
  const schemaEditor = isUi ? editorNamed(name.replace(".uischema.json", ".schema.json")) : editor;
  const uiEditor = isUi ? editor : editorNamed(editor.dataset.uiName ?? "");
  const target = editor.querySelector(".form-live-preview");
  try {
    const response = await fetch(editor.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ schema: textOf(schemaEditor), ui_schema: textOf(uiEditor) || null }),
    });
    target.innerHTML = await response.text();
    editor.dataset.previewState = response.ok ? "ready" : "error";
  } catch (error) {
    // The server could not be reached (or the page is being left): keep the last preview.
    editor.dataset.previewState = "error";
  }
}

/** Send the text to the save (or deploy) URL and list the answer. */
async function save(editor, action) {
  const status = editor.querySelector(".editor-status");
  const list = editor.querySelector(".problems");
  status.textContent = "…";
  const url = action === "deploy" ? editor.dataset.deployUrl : editor.dataset.saveUrl;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: textOf(editor),
    });
  } catch (error) {
    editor.dataset.outcome = "problems";
    status.textContent = t("The server could not be reached; try again.");
    return;
  }
  const answer = await response.json().catch(() => ({ problems: [] }));
  list.replaceChildren();
  for (const problem of answer.problems ?? []) {
    const item = document.createElement("li");
    const where = [problem.file, problem.line, problem.element].filter(Boolean).join(":");
    item.textContent = `${where} ${problem.message}`;
    list.append(item);
  }
  let pending = false;
  for (const deployed of answer.deployed ?? []) {
    const item = document.createElement("li");
    pending ||= deployed.status === "pending";
    const waiting = deployed.status === "pending" ? ` (${t("awaiting approval")})` : "";
    item.textContent = `${deployed.process_id} v${deployed.version}${waiting}`;
    list.append(item);
  }
  // Texts still to translate are listed but let a version be proposed; approval waits for them.
  const ok = response.ok && !(answer.problems ?? []).some((problem) => !problem.warning);
  editor.dataset.outcome = ok ? "ok" : "problems";
  const done = pending ? t("Awaiting approval") : t("Deployed");
  status.textContent = ok ? (action === "deploy" ? done : t("Valid")) : t("Problems found");
}

for (const editor of document.querySelectorAll("[data-form-editor]")) {
  let timer;
  editor.querySelector("textarea").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => preview(editor), DELAY_MS);
  });
  editor.addEventListener("toggle", () => editor.open && preview(editor), { once: true });
  for (const button of editor.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => save(editor, button.dataset.action));
  }
}
