// A simulation's page while the worker runs it: poll its progress, reload once it has ended.
(function () {
  "use strict";
  var box = document.getElementById("simulation-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var state = box.querySelector("[data-state]");
  var bar = box.querySelector("progress");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        if (job.status === "done" || job.status === "failed") {
          window.location.reload();
          return;
        }
        state.textContent = job.text;
        bar.max = job.total;
        bar.value = job.done;
      })
      .catch(function () { /* a missed poll is retried on the next tick */ });
  }

  window.setInterval(poll, 2000);
})();
