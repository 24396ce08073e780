// The receipt's print button (the page prints without it: Ctrl+P).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-action=print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
