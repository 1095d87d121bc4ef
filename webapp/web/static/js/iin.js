// Check IIN and address registration code fields as they are typed (the server checks again).
(function () {
  "use strict";
  var FIRST = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  var SECOND = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

  function checkDigit(digits, weights) {
    var sum = 0;
    for (var i = 0; i < 11; i++) { sum += digits[i] * weights[i]; }
    return sum % 11;
  }

  function isValidIin(value) {
    if (!/^[0-9]{12}$/.test(value)) { return false; }
    var digits = value.split("").map(Number);
    var check = checkDigit(digits, FIRST);
    if (check === 10) { check = checkDigit(digits, SECOND); }
    return check !== 10 && check === digits[11];
  }

  function isValidArc(value) { return /^[0-9]{10,20}$/.test(value); }

  window.tirkeuIsValidIin = isValidIin;

  var form = document.querySelector("form[data-iin-invalid]");
  if (!form) { return; }

  function update(input) {
    var kind = input.getAttribute("data-check");
    var value = input.value.trim();
    var live = document.getElementById("live-" + input.name);
    var ok = kind === "iin" ? isValidIin(value) : isValidArc(value);
    var message = "";
    if (value && !ok) {
      message = form.getAttribute(kind === "iin" ? "data-iin-invalid" : "data-arc-invalid");
    }
    input.setCustomValidity(message);
    input.setAttribute("aria-invalid", value && !ok ? "true" : "false");
    if (live) {
      live.textContent = message || (value && kind === "iin" ? form.getAttribute("data-iin-valid") : "");
      live.className = "field-live " + (message ? "is-invalid" : "is-valid");
    }
  }

  form.querySelectorAll("input[data-check]").forEach(function (input) {
    // The server's message, if any, stays until the user types; then the live check takes over.
    var serverError = document.getElementById("error-" + input.name);
    input.addEventListener("input", function () {
      input.value = input.value.replace(/[^0-9]/g, "");
      if (serverError) { serverError.remove(); serverError = null; }
      update(input);
    });
    if (input.value && !serverError) { update(input); }
  });
})();
