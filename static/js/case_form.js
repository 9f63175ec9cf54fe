/* Case form: add fracture rows to the formset without a round trip.
 *
 * The row is a copy of the formset's empty form (a <template>), numbered by the
 * management form's TOTAL_FORMS, so the server reads it like any other row.
 * Focus moves to the new row's first field so entry goes on from the keyboard.
 */
(function () {
  "use strict";

  const button = document.getElementById("add-fracture");
  if (!button) return;
  const prefix = button.dataset.prefix;
  const total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
  const max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
  const template = document.getElementById("fracture-template");
  const rows = document.getElementById("fractures");

  button.addEventListener("click", function () {
    const index = parseInt(total.value, 10);
    if (max && index >= parseInt(max.value, 10)) return;
    const html = template.innerHTML
      .replace(/__prefix__/g, String(index))
      .replace(/__number__/g, String(index + 1));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    const first = rows.lastElementChild.querySelector("select, input:not([type=hidden])");
    if (first) first.focus();
  });
})();
