/* Every chart also as a table of its numbers (WCAG 1.1.1: a canvas is a picture).
 *
 * A Chart.js plugin, registered for every chart of the page: after each update it writes, under
 * the canvas's figure, a <details> with a <table> of the chart's labels and datasets (the band
 * datasets of an interval left out; a rate shown with its events and denominator). The canvas
 * keeps its accessible name (role=img, aria-label) and points to the table. The summary's text
 * comes from this script tag (data-summary), translated by the template.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  const summaryText = (script && script.dataset.summary) || "Numbers";
  const cornerText = (script && script.dataset.corner) || "";
  const lang = document.documentElement.lang || undefined;
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });

  function text(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (typeof value === "number") return number.format(value);
    if (typeof value === "object" && "y" in value) return text(value.y);
    return String(value);
  }

  function cellFor(dataset, index) {
    const rate = dataset.rates && dataset.rates[index];
    if (rate && typeof rate === "object" && "at_risk" in rate) {
      if (!rate.at_risk) return "–";
      return text(rate.percent) + " % (" + rate.events + "/" + rate.at_risk + ")";
    }
    return text(dataset.data[index]);
  }

  function rowLabels(chart) {
    const labels = chart.data.labels || [];
    if (labels.length) return labels.map(String);
    const first = chart.data.datasets[0];
    return first ? first.data.map((point, i) => (point && typeof point === "object" && "x" in point ? text(point.x) : String(i + 1))) : [];
  }

  function render(chart) {
    const canvas = chart.canvas;
    const host = canvas.closest("figure") || canvas.parentElement;
    if (!host) return;
    let details = host.querySelector(":scope details.chart-data");
    if (!details) {
      details = document.createElement("details");
      details.className = "chart-data small mt-2";
      details.id = (canvas.id || "chart") + "-data";
      const summary = document.createElement("summary");
      summary.textContent = summaryText;
      details.append(summary);
      const region = document.createElement("div");
      region.className = "table-responsive";
      region.setAttribute("role", "region");
      region.tabIndex = 0;
      region.setAttribute("aria-label", summaryText + ": " + (canvas.getAttribute("aria-label") || ""));
      details.append(region);
      (host.querySelector(".card-body") || host).append(details);
      canvas.setAttribute("aria-describedby", details.id);
    }
    const datasets = chart.data.datasets.filter((d) => !d.band);
    const table = document.createElement("table");
    table.className = "table table-sm table-compact mb-0";
    const caption = document.createElement("caption");
    caption.className = "visually-hidden";
    caption.textContent = canvas.getAttribute("aria-label") || "";
    table.append(caption);
    const head = table.createTHead().insertRow();
    const corner = document.createElement("th");
    corner.scope = "col";
    const xTitle = chart.options.scales && chart.options.scales.x && chart.options.scales.x.title;
    corner.textContent = (xTitle && xTitle.text) || cornerText;
    head.append(corner);
    for (const dataset of datasets) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = dataset.label || "";
      head.append(th);
    }
    const body = table.createTBody();
    rowLabels(chart).forEach(function (label, index) {
      const row = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = label;
      row.append(th);
      for (const dataset of datasets) row.insertCell().textContent = cellFor(dataset, index);
    });
    details.querySelector(".table-responsive").replaceChildren(table);
  }

  if (window.Chart) {
    window.Chart.register({ id: "dataTable", afterUpdate: render });
  }
})();
