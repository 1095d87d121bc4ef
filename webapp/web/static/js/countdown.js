// Live countdown to each task's due time; overdue tasks turn red.
(function () {
  "use strict";
  var items = document.querySelectorAll(".countdown[data-due]");
  if (!items.length) { return; }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function format(seconds) {
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + two(m) : m) + ":" + two(r);
  }

  function tick() {
    var now = Date.now();
    items.forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      if (isNaN(left)) { return; }
      var overdue = left < 0;
      el.textContent = overdue ? el.getAttribute("data-overdue-label") + " " + format(left) : format(left);
      el.classList.toggle("overdue", overdue);
      el.classList.toggle("due-soon", !overdue && left < 300);
      var row = el.closest("tr");
      if (row) { row.classList.toggle("row-overdue", overdue); }
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
