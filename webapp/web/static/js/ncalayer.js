// Signs the shown document with NCALayer, the national signing app on the signer's machine.
// NCALayer listens on a local WebSocket; its commonUtils module's createCAdESFromBase64 takes
// the storage type, the key type, the document's bytes in base64 and whether to attach them,
// and answers {code: "200", responseObject: <CMS in base64>} or an error code and message.
// The CMS is posted to the server, which renders the document again and verifies it.
(function () {
  "use strict";
  const box = document.getElementById("ncalayer");
  if (!box) {
    return;
  }
  const button = document.getElementById("sign-with-ncalayer");
  const status = document.getElementById("ncalayer-status");
  const form = document.getElementById("ncalayer-form");
  const texts = box.dataset;
  // NCALayer greets a new connection with its version; older ones say nothing.
  const GREETING_WAIT_MS = 1500;

  function show(message, kind) {
    status.textContent = message;
    status.className = "ncalayer-status " + kind;
  }

  function request() {
    return JSON.stringify({
      module: "kz.gov.pki.knca.commonUtils",
      method: "createCAdESFromBase64",
      args: ["PKCS12", "SIGNATURE", texts.content, true],
    });
  }

  function cancelled(answer) {
    return /cancel/i.test(String(answer.message || "")) || String(answer.code) === "-1";
  }

  function sign() {
    button.disabled = true;
    show(texts.connecting, "info");
    let socket;
    try {
      socket = new WebSocket(texts.url);
    } catch (error) {
      show(texts.notRunning, "error");
      button.disabled = false;
      return;
    }
    let asked = false;
    let done = false;
    const stop = function (message) {
      done = true;
      button.disabled = false;
      show(message, "error");
      socket.close();
    };
    const ask = function () {
      if (!asked && !done) {
        asked = true;
        show(texts.chooseKey, "info");
        socket.send(request());
      }
    };
    socket.addEventListener("open", function () {
      window.setTimeout(ask, GREETING_WAIT_MS);
    });
    socket.addEventListener("message", function (event) {
      let answer;
      try {
        answer = JSON.parse(event.data);
      } catch (error) {
        stop(texts.failed);
        return;
      }
      if (!asked) {
        ask();
        return;
      }
      if (String(answer.code) === "200" && answer.responseObject) {
        done = true;
        socket.close();
        show(texts.sending, "info");
        document.getElementById("ncalayer-cms").value = answer.responseObject;
        form.submit();
      } else if (cancelled(answer)) {
        stop(texts.cancelled);
      } else {
        stop(texts.failed + " " + String(answer.message || answer.code || ""));
      }
    });
    socket.addEventListener("error", function () {
      if (!done) {
        stop(texts.notRunning);
      }
    });
    socket.addEventListener("close", function () {
      if (!done) {
        stop(asked ? texts.failed : texts.notRunning);
      }
    });
  }

  button.addEventListener("click", sign);
})();
