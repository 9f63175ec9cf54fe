/* Live complication dashboard.
 *
 * Polls the statistics version twice a second (one small database query on the server) and
 * refetches the rates and chart data only when it changed, so a complication
 * recorded anywhere shows up on every open dashboard within a second without
 * recomputing the rates for each poll (the poll interval is most of that
 * second: docs/benchmarks.md (d)). Configuration, first chart data and
 * translated labels come from the page (json_script "dashboard-config").
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const labels = config.labels;
  const WINDOWS = ["per_procedural", "early", "delayed"];
  const COLOURS = { per_procedural: "#0d6efd", early: "#fd7e14", delayed: "#dc3545" };
  const POLL_MS = 500;
  const locale = document.documentElement.lang || undefined;
  const oneDecimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // The API's four-decimal bounds in percent: two decimals show them exactly.
  const twoDecimals = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  let version = config.version;
  let busy = false;
  let online = true;
  const charts = {};

  function percentOf(proportion) {
    return twoDecimals.format(proportion * 100);
  }

  function withQuery(url) {
    return config.query ? url + "?" + config.query : url;
  }

  async function getJSON(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) {
      throw new Error(url + ": HTTP " + response.status);
    }
    return response.json();
  }

  function setStatus(text, ok) {
    const badge = document.getElementById("live-status");
    badge.textContent = text;
    badge.classList.toggle("text-bg-success", ok);
    badge.classList.toggle("text-bg-danger", !ok);
  }

  /* ---- cards and table ------------------------------------------------ */

  function updateCards(rates) {
    for (const windowName of WINDOWS) {
      const card = document.querySelector('.card-rate[data-window="' + windowName + '"]');
      const rate = rates.windows[windowName];
      const fields = {
        percent: oneDecimal.format(rate.percent),
        ci: percentOf(rate.ci95[0]) + "–" + percentOf(rate.ci95[1]),
        events: String(rate.events),
        at_risk: String(rate.at_risk),
        minor: String(rate.minor),
        major: String(rate.major),
      };
      for (const [name, text] of Object.entries(fields)) {
        card.querySelector('[data-field="' + name + '"]').textContent = text;
      }
    }
  }

  function cell(text, end) {
    const td = document.createElement("td");
    td.textContent = text;
    if (end) td.className = "text-end";
    return td;
  }

  // A screw-fixation event's row: its label, then its export code and the "Other, specify"
  // term it is recorded under (as the server renders it).
  const termNames = config.termNames || {};
  const termName = (row) => termNames[row.term] || row.term_name;

  function termCell(row) {
    if (!row.pigsf_event) return cell(termName(row));
    const td = cell(row.pigsf_event_label);
    const small = document.createElement("small");
    small.className = "d-block text-body-secondary";
    small.textContent = row.pigsf_event + " · " + termName(row);
    td.append(small);
    return td;
  }

  function updateTable(rates) {
    const body = document.querySelector("#by-term tbody");
    const rows = rates.by_term.map(function (row) {
      const tr = document.createElement("tr");
      tr.dataset.window = row.window;
      if (row.pigsf_event) tr.dataset.pigsfEvent = row.pigsf_event;
      tr.append(
        cell(labels.windows[row.window]), termCell(row), cell(row.soc),
        cell(String(row.events), true), cell(String(row.minor), true), cell(String(row.major), true),
      );
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(labels.noComplication);
      td.colSpan = 6;
      td.className = "text-body-secondary";
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /* ---- charts --------------------------------------------------------- */

  function rateTooltip(context) {
    const rate = context.dataset.rates[context.dataIndex];
    return context.dataset.label + ": " + oneDecimal.format(rate.percent) + " % (" + labels.ci + " " +
      percentOf(rate.ci95[0]) + "–" + percentOf(rate.ci95[1]) + " %), " + rate.events + "/" + rate.at_risk;
  }

  /* Every year (or quarter) from the first to the last, so that time runs evenly along
   * the axis; a period without any procedure has no rate (a gap). */
  function allPeriods(labelsIn, byQuarter) {
    if (!labelsIn.length) return [];
    const parse = (label) => (byQuarter ? label.split("-Q").map(Number) : [Number(label), 1]);
    const [lastYear, lastQuarter] = parse(labelsIn[labelsIn.length - 1]);
    let [year, quarter] = parse(labelsIn[0]);
    const labelsOut = [];
    while (year < lastYear || (year === lastYear && quarter <= lastQuarter)) {
      labelsOut.push(byQuarter ? year + "-Q" + quarter : String(year));
      [year, quarter] = !byQuarter || quarter === 4 ? [year + 1, 1] : [year, quarter + 1];
    }
    return labelsOut;
  }

  /* The trend by year (by default) or by quarter (on demand: the "period" switch). */
  function periodData(breakdown, byQuarter) {
    const rows = byQuarter ? breakdown.by_quarter : breakdown.by_year;
    const key = byQuarter ? "quarter" : "year";
    const periods = allPeriods(rows.map((row) => row[key]), byQuarter);
    const byPeriod = new Map(rows.map((row) => [row[key], row]));
    const datasets = [];
    for (const windowName of WINDOWS) {
      const rates = periods.map((p) => (byPeriod.has(p) ? byPeriod.get(p).windows[windowName] : null));
      const value = (pick) => rates.map((r) => (r && r.at_risk ? pick(r) : null));
      // The interval is a band between two invisible lines, the rate a line on top.
      datasets.push(
        { label: "low", band: true, data: value((r) => r.ci95[0] * 100), borderWidth: 0, pointRadius: 0,
          fill: false },
        { label: "high", band: true, data: value((r) => r.ci95[1] * 100), borderWidth: 0, pointRadius: 0,
          fill: "-1", backgroundColor: COLOURS[windowName] + "1a" },
        { label: labels.windows[windowName], rates: rates, data: value((r) => r.percent),
          borderColor: COLOURS[windowName], backgroundColor: COLOURS[windowName], fill: false },
      );
    }
    return { labels: periods, datasets: datasets };
  }

  function groupData(rows) {
    return {
      labels: rows.map((row) => row.label),
      datasets: WINDOWS.map(function (windowName) {
        const rates = rows.map((row) => row.windows[windowName]);
        // Nobody at risk is no rate at all, not a rate of 0 %.
        return { label: labels.windows[windowName], rates: rates,
          data: rates.map((r) => (r.at_risk ? r.percent : null)), backgroundColor: COLOURS[windowName] };
      }),
    };
  }

  function gradeData(breakdown) {
    const grades = ["1", "2", "3", "4", "5"];
    return {
      labels: grades.map((g) => labels.grade + " " + g),
      datasets: WINDOWS.map((windowName) => ({
        label: labels.windows[windowName],
        data: grades.map((g) => breakdown.grades[windowName][g]),
        backgroundColor: COLOURS[windowName],
      })),
    };
  }

  const percentAxis = { beginAtZero: true, title: { display: true, text: labels.percentAxis || labels.percent } };
  const rateOptions = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    scales: { y: percentAxis },
    plugins: {
      legend: { labels: { filter: (item, data) => !data.datasets[item.datasetIndex].band } },
      tooltip: { filter: (item) => !item.dataset.band, callbacks: { label: rateTooltip } },
    },
  };

  function draw(id, type, data, options) {
    if (charts[id]) {
      charts[id].data = data;
      charts[id].update("none");
      return;
    }
    charts[id] = new Chart(document.getElementById(id), { type: type, data: data, options: options });
  }

  // By year unless the reader asks for quarters; the last breakdown is redrawn at once.
  const periodSwitch = document.getElementById("trend-by-quarter");
  let lastBreakdown = null;
  if (periodSwitch) {
    periodSwitch.addEventListener("change", () => lastBreakdown && drawCharts(lastBreakdown));
  }

  function drawCharts(breakdown) {
    lastBreakdown = breakdown;
    const byQuarter = Boolean(periodSwitch && periodSwitch.checked);
    const periodTitle = byQuarter ? labels.quarter : labels.year;
    if (charts["chart-quarters"]) {
      charts["chart-quarters"].options.scales.x.title.text = periodTitle;
    }
    draw("chart-quarters", "line", periodData(breakdown, byQuarter), Object.assign({}, rateOptions, {
      scales: { y: percentAxis, x: { title: { display: Boolean(periodTitle), text: periodTitle } } },
    }));
    draw("chart-types", "bar", groupData(breakdown.by_fracture_type), rateOptions);
    draw("chart-sites", "bar", groupData(breakdown.by_site), rateOptions);
    draw("chart-grades", "bar", gradeData(breakdown), {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 },
        title: { display: Boolean(labels.countAxis), text: labels.countAxis } } },
    });
  }

  /* ---- live refresh --------------------------------------------------- */

  async function refresh() {
    const [rates, breakdown] = await Promise.all([
      getJSON(withQuery(config.ratesUrl)),
      getJSON(withQuery(config.breakdownUrl)),
    ]);
    updateCards(rates);
    updateTable(rates);
    drawCharts(breakdown);
    // Other panels of the page (the quality CUSUM charts, cusum.js) refresh with the rates.
    document.dispatchEvent(new CustomEvent("dashboard:refreshed"));
  }

  async function poll() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const current = (await getJSON(config.versionUrl)).version;
      if (current !== version) {
        await refresh();
        version = current;
        setStatus(labels.live + " · " + labels.updated + " " + new Date().toLocaleTimeString(), true);
      } else if (!online) {
        setStatus(labels.live, true);
      }
      online = true;
    } catch (error) {
      online = false;
      setStatus(labels.offline, false);
    } finally {
      busy = false;
    }
  }

  drawCharts(config.breakdown);
  window.setInterval(poll, POLL_MS);
})();
