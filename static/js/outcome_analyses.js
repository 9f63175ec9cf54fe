/* The dashboard's outcome analyses: cumulative incidence (death competing), the funnel plot
 * and the risk-adjusted O/E, drawn with Chart.js from the numbers the page embeds
 * (json_script "outcome-analyses-data"; the same numbers are in the tables beside each
 * chart). Every chart can be downloaded as PNG (the canvas) or SVG (redrawn from the
 * chart's own scales and element positions, so the two match).
 */
(function () {
  "use strict";

  const source = document.getElementById("outcome-analyses-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  // Translated axis titles and legends come from the canvas's data attributes.
  const label = (canvas, name, fallback) => canvas.dataset[name] || fallback;
  const charts = {};
  const BLUE = "#0d6efd";
  const RED = "#dc3545";
  const GREY = "#6c757d";

  function stepped(curve, key) {
    // From (0, 0): the curve is a step function of the days.
    const points = [{ x: 0, y: 0 }];
    for (const point of curve) {
      points.push({ x: point.day, y: key === "cif" ? point.cif : point.ci95[key === "low" ? 0 : 1] });
    }
    return points;
  }

  function incidenceChart() {
    const canvas = document.getElementById("chart-incidence");
    if (!canvas) return;
    const datasets = [];
    for (const [severity, colour] of [["any", BLUE], ["major", RED]]) {
      const curve = data.incidence[severity].curve;
      const name = severity === "any" ? label(canvas, "any", "Any grade") : label(canvas, "major", "Major");
      datasets.push(
        { label: name + " 95 %", data: stepped(curve, "low"), stepped: true, borderWidth: 0, pointRadius: 0, fill: false, borderColor: colour },
        { label: name + " 95 % ", data: stepped(curve, "high"), stepped: true, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: colour + "22", borderColor: colour },
        { label: name, data: stepped(curve, "cif"), stepped: true, borderWidth: 2, pointRadius: 0, borderColor: colour, fill: false },
      );
    }
    charts["chart-incidence"] = new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", min: 0, max: 365, title: { display: true, text: label(canvas, "x", "Days") } },
          y: { min: 0, title: { display: true, text: label(canvas, "y", "Cumulative incidence") } },
        },
        plugins: { legend: { labels: { filter: (item) => !item.text.includes("95 %") } } },
      },
    });
  }

  function funnelChart() {
    const canvas = document.getElementById("chart-funnel");
    if (!canvas) return;
    const limits = data.funnel_limits;
    const line = (level, side, colour, dash) => ({
      type: "line",
      label: level + " %",
      data: limits.map((row) => ({ x: row.n, y: row[level][side] })),
      borderColor: colour,
      borderDash: dash,
      borderWidth: 1,
      pointRadius: 0,
      fill: false,
    });
    const top = limits.length ? limits[limits.length - 1].n : 1;
    charts["chart-funnel"] = new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            type: "scatter",
            label: "Departments",
            data: data.funnel.departments.map((row) => ({ x: row.at_risk, y: row.rate, label: row.label })),
            backgroundColor: data.funnel.departments.map((row) => (row.position.startsWith("above") ? RED : BLUE)),
            pointRadius: 4,
          },
          { type: "line", label: "Registry rate", data: [{ x: 0, y: data.funnel.overall.rate }, { x: top, y: data.funnel.overall.rate }], borderColor: GREY, borderWidth: 1, pointRadius: 0 },
          line("95", 0, GREY, [4, 3]),
          line("95", 1, GREY, [4, 3]),
          line("99.8", 0, GREY, []),
          line("99.8", 1, GREY, []),
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", min: 0, title: { display: true, text: label(canvas, "x", "At risk") } },
          y: { min: 0, title: { display: true, text: label(canvas, "y", "Rate") } },
        },
        plugins: {
          tooltip: { callbacks: { label: (ctx) => (ctx.raw.label || ctx.dataset.label) + ": " + ctx.raw.y } },
        },
      },
    });
  }

  function oeChart() {
    const canvas = document.getElementById("chart-oe");
    if (!canvas || !data.risk.departments.length) return;
    const rows = data.risk.departments.concat(data.risk.operators);
    const labels = rows.map((row) => (row.operator ? row.label + " · " + row.operator : row.label));
    charts["chart-oe"] = new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          { type: "bar", label: "95 % CI", data: rows.map((row) => [row.ci95[0], row.ci95[1]]), backgroundColor: BLUE + "55", barThickness: 6 },
          { type: "scatter", label: "O/E", data: rows.map((row, i) => ({ y: labels[i], x: row.oe })), backgroundColor: BLUE, pointRadius: 4 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: "y",
        scales: { x: { min: 0, title: { display: true, text: label(canvas, "x", "O/E") } } },
      },
    });
  }

  /* ---- downloads ------------------------------------------------------------ */

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function escapeXml(value) {
    return String(value).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);
  }

  function colourOf(value, index) {
    if (Array.isArray(value)) return value[index] || value[0] || "#000";
    return value || "#000";
  }

  /* An SVG of a drawn chart: its axes and ticks from the scales, each dataset from the
   * positions Chart.js computed for its elements. */
  function toSvg(chart) {
    const width = chart.width;
    const height = chart.height;
    const parts = [];
    const area = chart.chartArea;
    parts.push('<rect x="0" y="0" width="' + width + '" height="' + height + '" fill="#fff"/>');
    for (const scale of Object.values(chart.scales)) {
      const horizontal = scale.isHorizontal();
      parts.push(
        horizontal
          ? '<line x1="' + area.left + '" y1="' + area.bottom + '" x2="' + area.right + '" y2="' + area.bottom + '" stroke="#333"/>'
          : '<line x1="' + area.left + '" y1="' + area.top + '" x2="' + area.left + '" y2="' + area.bottom + '" stroke="#333"/>',
      );
      scale.ticks.forEach((tick, index) => {
        const position = scale.getPixelForTick(index);
        const label = escapeXml(Array.isArray(tick.label) ? tick.label.join(" ") : tick.label);
        parts.push(
          horizontal
            ? '<text x="' + position + '" y="' + (area.bottom + 14) + '" font-size="10" text-anchor="middle">' + label + "</text>"
            : '<text x="' + (area.left - 4) + '" y="' + (position + 3) + '" font-size="10" text-anchor="end">' + label + "</text>",
        );
      });
      const title = scale.options.title && scale.options.title.display ? escapeXml(scale.options.title.text) : "";
      if (title) {
        parts.push(
          horizontal
            ? '<text x="' + (area.left + area.right) / 2 + '" y="' + (height - 4) + '" font-size="11" text-anchor="middle">' + title + "</text>"
            : '<text transform="translate(12,' + (area.top + area.bottom) / 2 + ') rotate(-90)" font-size="11" text-anchor="middle">' + title + "</text>",
        );
      }
    }
    chart.data.datasets.forEach((dataset, datasetIndex) => {
      const meta = chart.getDatasetMeta(datasetIndex);
      if (meta.hidden) return;
      const type = meta.type;
      const elements = meta.data;
      if (type === "line") {
        if (!dataset.borderWidth && !dataset.fill) return;
        let path = "";
        elements.forEach((point, i) => {
          if (i === 0) {
            path += "M" + point.x + " " + point.y;
          } else {
            path += (dataset.stepped ? " H" + point.x + " V" + point.y : " L" + point.x + " " + point.y);
          }
        });
        if (dataset.borderWidth) {
          const dash = dataset.borderDash && dataset.borderDash.length ? ' stroke-dasharray="' + dataset.borderDash.join(" ") + '"' : "";
          parts.push('<path d="' + path + '" fill="none" stroke="' + colourOf(dataset.borderColor) + '" stroke-width="' + dataset.borderWidth + '"' + dash + "/>");
        }
        if (dataset.fill === "-1" && datasetIndex > 0) {
          const below = chart.getDatasetMeta(datasetIndex - 1).data.slice().reverse();
          let back = "";
          below.forEach((point, i) => {
            back += i === 0 ? " L" + point.x + " " + point.y : (dataset.stepped ? " V" + point.y + " H" + point.x : " L" + point.x + " " + point.y);
          });
          parts.push('<path d="' + path + back + ' Z" fill="' + colourOf(dataset.backgroundColor) + '" stroke="none"/>');
        }
      } else if (type === "scatter") {
        elements.forEach((point, i) => {
          parts.push('<circle cx="' + point.x + '" cy="' + point.y + '" r="' + (dataset.pointRadius || 3) + '" fill="' + colourOf(dataset.backgroundColor, i) + '"/>');
        });
      } else if (type === "bar") {
        elements.forEach((bar, i) => {
          const props = bar.getProps(["x", "y", "base", "width", "height", "horizontal"], true);
          const x = props.horizontal ? Math.min(props.x, props.base) : props.x - props.width / 2;
          const y = props.horizontal ? props.y - props.height / 2 : Math.min(props.y, props.base);
          const w = props.horizontal ? Math.abs(props.x - props.base) : props.width;
          const h = props.horizontal ? props.height : Math.abs(props.y - props.base);
          parts.push('<rect x="' + x + '" y="' + y + '" width="' + w + '" height="' + h + '" fill="' + colourOf(dataset.backgroundColor, i) + '"/>');
        });
      }
    });
    return (
      '<svg xmlns="http://www.w3.org/2000/svg" width="' + width + '" height="' + height + '" viewBox="0 0 ' + width + " " + height + '" font-family="sans-serif">' +
      parts.join("") +
      "</svg>"
    );
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-download]");
    if (!button) return;
    const id = button.dataset.download;
    const chart = charts[id];
    if (!chart) return;
    if (button.dataset.format === "svg") {
      save(new Blob([toSvg(chart)], { type: "image/svg+xml" }), id + ".svg");
    } else {
      chart.canvas.toBlob((blob) => save(blob, id + ".png"), "image/png");
    }
  });

  incidenceChart();
  funnelChart();
  oeChart();
  window.outcomeAnalysesCharts = charts;
  window.outcomeAnalysesSvg = (id) => (charts[id] ? toSvg(charts[id]) : null);
})();
