/* After a failed save, the keyboard focus goes to the first field in error (not the first
 * field of the form), and the error summary's links move the focus to their field. */
(function () {
  "use strict";

  const summary = document.getElementById("form-errors");
  const first = document.querySelector("main .is-invalid, main [aria-invalid=true]");
  if (first) first.focus();
  else if (summary) summary.focus();
  if (!summary) return;
  summary.addEventListener("click", function (event) {
    const link = event.target.closest("a[href^='#']");
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    field.scrollIntoView({ block: "center" });
    field.focus();
  });
})();
