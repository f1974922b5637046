/* Report page behaviour (no inline scripts: CSP). Shows the Print button when JavaScript runs. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
  // After lessons are saved through htmx, move focus to the refreshed section for keyboard and screen reader users.
  document.addEventListener("lessonsSaved", function () {
    const section = document.getElementById("lessons");
    if (section) { section.setAttribute("tabindex", "-1"); section.focus(); }
  });
})();
