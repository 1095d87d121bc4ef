// A batch retry or terminate: runs the batch a chunk at a time and shows each instance's result.
//
// The server does the work: each POST to data-chunk-url changes the next few instances (each
// in its own transaction) and answers their results with the cursor of the next chunk. The page
// only asks for chunks until the cursor is null, so a closed tab stops the batch between two
// instances, and running it again takes up what is left.

const section = document.getElementById("batch");
const button = document.getElementById("batch-run");

/** Fill a translated text's {name} placeholders. */
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Add one instance's result to the table, its outcome in the page's language. */
function show(result, body, texts) {
  const row = body.insertRow();
  const outcome = texts[result.outcome] || result.outcome;
  for (const text of [result.business_key || String(result.instance_id), outcome, result.message || ""]) {
    row.insertCell().textContent = text;
  }
  row.className = `batch-${result.outcome}`;
}

/** Ask for the next chunk after `after`; return the server's answer. */
async function chunk(after) {
  const response = await fetch(section.dataset.chunkUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf },
    body: JSON.stringify({
      kind: section.dataset.kind,
      upto: Number(section.dataset.upto),
      after,
      filters: JSON.parse(section.dataset.filters),
    }),
  });
  const answer = await response.json();
  if (!response.ok) {
    throw new Error(answer.message || String(response.status));
  }
  return answer;
}

/** Run the whole batch, chunk after chunk, showing progress. */
async function run() {
  const texts = document.getElementById("batch-texts").dataset;
  const progress = document.getElementById("batch-progress");
  const status = document.getElementById("batch-status");
  const table = document.getElementById("batch-results");
  const total = Number(section.dataset.total);
  button.disabled = true;
  progress.hidden = false;
  table.hidden = false;
  let after = 0;
  let done = 0;
  try {
    do {
      const answer = await chunk(after);
      for (const result of answer.results) {
        show(result, table.tBodies[0], texts);
      }
      done += answer.results.length;
      progress.value = done;
      status.textContent = fill(texts.done, { done, total });
      after = answer.after;
    } while (after !== null);
    section.dataset.state = "done";
  } catch (error) {
    status.textContent = fill(texts.failed, { message: error.message });
    section.dataset.state = "failed";
  }
}

button?.addEventListener("click", run);
