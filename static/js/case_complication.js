/* Complication entry: CTCAE term search as you type, the term's own criteria as
 * checkboxes, and the derived grade, severity, window and rationale shown live.
 *
 * The whole form is posted (debounced) to the case's preview endpoint, which
 * parses it with the same Django form as the save, so the live grade is the
 * grade that will be stored. Everything works from the keyboard: the term box is
 * an ARIA combobox (type, then Down/Up and Enter; Escape closes the list) and
 * Enter elsewhere submits the form. Configuration and translated strings come
 * from the page (json_script "complication-config").
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("complication-config").textContent);
  const t = config.i18n;
  const form = document.getElementById("complication-form");
  const termInput = document.getElementById("id_term");
  const options = document.getElementById("term-options");
  const SEARCH_DELAY_MS = 150;
  const PREVIEW_DELAY_MS = 250;

  let current = config.term; // the chosen term (its data from the terms endpoint)
  let results = [];
  let active = -1;
  let searchTimer = null;
  let previewTimer = null;
  let previewSeq = 0;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* --- term combobox ---------------------------------------------------- */

  function closeList() {
    options.classList.add("d-none");
    termInput.setAttribute("aria-expanded", "false");
    termInput.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    Array.from(options.children).forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    if (index >= 0 && options.children[index]) {
      termInput.setAttribute("aria-activedescendant", options.children[index].id);
      options.children[index].scrollIntoView({ block: "nearest" });
    }
  }

  function showResults(list) {
    results = list;
    options.replaceChildren();
    if (!list.length) {
      options.appendChild(el("li", { class: "list-group-item small text-body-secondary" }, t.no_match));
    }
    list.forEach((term, i) => {
      const li = el("li", { id: "term-option-" + i, role: "option", class: "list-group-item list-group-item-action py-1", "aria-selected": "false" });
      li.appendChild(el("span", { class: "fw-semibold" }, term.term));
      li.appendChild(el("span", { class: "small text-body-secondary ms-2" }, term.code + " · " + term.soc));
      li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(term); });
      options.appendChild(li);
    });
    options.classList.remove("d-none");
    termInput.setAttribute("aria-expanded", "true");
    highlight(list.length ? 0 : -1);
  }

  function search() {
    const q = termInput.value.trim();
    if (!q || (current && q === current.label)) { closeList(); return; }
    fetch(config.terms_url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((data) => { if (termInput.value.trim() === q) showResults(data.results); });
  }

  function choose(term) {
    current = term;
    termInput.value = term.label;
    closeList();
    renderTerm();
    schedulePreview();
  }

  termInput.addEventListener("input", () => {
    if (current && termInput.value !== current.label) current = null;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, SEARCH_DELAY_MS);
  });
  termInput.addEventListener("keydown", (event) => {
    const open = !options.classList.contains("d-none");
    if (event.key === "ArrowDown" && open) { event.preventDefault(); highlight(Math.min(active + 1, results.length - 1)); }
    else if (event.key === "ArrowUp" && open) { event.preventDefault(); highlight(Math.max(active - 1, 0)); }
    else if (event.key === "Enter" && open && results[active]) { event.preventDefault(); choose(results[active]); }
    else if (event.key === "Escape" && open) { event.preventDefault(); closeList(); }
  });
  termInput.addEventListener("blur", () => setTimeout(closeList, 100));

  /* --- the chosen term: grades, criteria, "Other, specify" -------------- */

  function renderTerm() {
    const grades = document.getElementById("term-grades");
    const criteria = document.getElementById("criteria");
    grades.replaceChildren();
    criteria.replaceChildren();
    document.getElementById("specify-wrapper").classList.toggle("d-none", !(current && current.other_specify));
    document.getElementById("specify-options").replaceChildren(
      ...((current && current.specify_options) || []).map((option) => el("option", { value: option }))
    );
    if (!current) return;
    grades.appendChild(el("div", { class: "text-body-secondary" }, current.soc));
    const table = el("div", { class: "term-grades-list mt-1" });
    Object.entries(current.grades).forEach(([grade, text]) => {
      const row = el("div", { class: "d-flex" });
      row.appendChild(el("span", { class: "grade-label text-body-secondary" }, t.grade + " " + grade));
      row.appendChild(el("span", { class: text ? "" : "text-body-secondary fst-italic" }, text || "— " + t.grade_missing));
      table.appendChild(row);
    });
    grades.appendChild(table);
    current.checklist.forEach(([grade, clauses]) => {
      criteria.appendChild(el("div", { class: "criteria-grade" }, t.grade + " " + grade));
      clauses.forEach((clause, i) => {
        const id = "criteria-" + grade + "-" + (i + 1);
        const wrap = el("div", { class: "form-check" });
        wrap.appendChild(el("input", { class: "form-check-input", type: "checkbox", name: "criteria", value: clause, id: id }));
        wrap.appendChild(el("label", { class: "form-check-label", for: id }, (current.clause_labels || {})[clause] || clause));
        criteria.appendChild(wrap);
      });
    });
  }

  /* --- onset kind and override: show only the fields that apply -------- */

  function syncVisibility() {
    const kind = (form.querySelector("input[name=onset_kind]:checked") || {}).value;
    document.getElementById("onset-at-wrapper").classList.toggle("d-none", kind !== "at");
    document.getElementById("onset-date-wrapper").classList.toggle("d-none", kind !== "date");
    const override = document.getElementById("id_grade_override").value;
    const reason = document.getElementById("override-reason-wrapper");
    reason.classList.toggle("invisible", !override && !document.getElementById("id_override_reason").value);
  }

  /* --- the live grade ------------------------------------------------- */

  function listInto(id, items) {
    const list = document.getElementById(id);
    list.replaceChildren(...items.map((text) => el("li", {}, text)));
  }

  function showPreview(data) {
    const value = document.getElementById("grade-value");
    const severity = document.getElementById("grade-severity");
    const panel = document.getElementById("grade-panel");
    panel.classList.remove("grade-minor-bg", "grade-major-bg");
    value.className = "grade-number";
    if (data.grade) {
      value.textContent = String(data.grade);
      value.classList.add("grade-" + data.severity);
      severity.textContent = data.severity_label;
      panel.classList.add("grade-" + data.severity + "-bg");
      document.getElementById("grade-rationale").textContent = data.rationale;
    } else {
      value.textContent = "–";
      severity.textContent = "";
      document.getElementById("grade-rationale").textContent = t.no_grade;
    }
    const override = document.getElementById("id_grade_override").value;
    document.getElementById("grade-override-note").textContent = override ? t.overridden.replace("%(grade)s", override) : "";
    let windowText = data.window_label || "–";
    if (data.hours_after_end !== null && data.hours_after_end !== undefined) {
      windowText += " · " + t.hours_after_end.replace("%(hours)s", data.hours_after_end.toLocaleString(document.documentElement.lang));
    }
    document.getElementById("grade-window").textContent = windowText;
    listInto("grade-warnings", data.warnings || []);
    const errors = [];
    Object.entries(data.errors || {}).forEach(([field, messages]) => {
      if (field === "term" && !termInput.value.trim()) return;
      const label = config.labels[field];
      messages.forEach((m) => errors.push(label ? label + ": " + m : m));
    });
    listInto("grade-errors", errors);
  }

  function preview() {
    if (!current) { showPreview({ errors: {} }); return; }
    const seq = ++previewSeq;
    fetch(config.preview_url, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((data) => { if (seq === previewSeq) showPreview(data); });
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  form.addEventListener("change", (event) => {
    syncVisibility();
    if (event.target !== termInput) schedulePreview();
  });
  form.addEventListener("input", (event) => {
    if (event.target !== termInput) schedulePreview();
  });

  syncVisibility();
  if (current) {
    // Keep server-rendered ticks (a re-shown form) instead of re-rendering the criteria.
    const ticked = new Set(Array.from(form.querySelectorAll("input[name=criteria]:checked")).map((c) => c.value));
    renderTerm();
    form.querySelectorAll("input[name=criteria]").forEach((c) => { c.checked = ticked.has(c.value); });
    preview();
  }
})();
