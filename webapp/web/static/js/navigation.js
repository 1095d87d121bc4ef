// On a phone the menu is a strip that scrolls sideways: bring the current page's entry into view.
(function () {
  "use strict";
  var current = document.querySelector(".main-nav [aria-current='page']");
  if (current) { current.scrollIntoView({ block: "nearest", inline: "center" }); }
})();
