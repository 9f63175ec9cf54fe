/* Quality monitoring on the dashboard: one CUSUM chart per window, with its limit
 * line, and the latest alerts with their acknowledge buttons.
 *
 * Everything comes from the page's #quality section (URLs, CSRF token, translated
 * labels as data attributes); the charts and alerts are refetched whenever
 * dashboard.js has refreshed the rates ("dashboard:refreshed"), i.e. after a
 * clinical write anywhere.
 */
(function () {
  "use strict";

  const section = document.getElementById("quality");
  if (!section) return;
  const config = section.dataset;
  const WINDOWS = ["per_procedural", "early", "delayed"];
  const COLOURS = { per_procedural: "#0d6efd", early: "#fd7e14", delayed: "#dc3545" };
  const locale = document.documentElement.lang || undefined;
  const twoDecimals = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const oneDecimal = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const charts = {};
  let busy = false;
  let pending = false;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
  }

  async function getJSON(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  }

  /* The dashboard's department, or the user's only one. */
  function department() {
    if (config.department) return config.department;
    const select = document.getElementById("id_department");
    if (!select) return "";
    const ids = Array.from(select.options).map((o) => o.value).filter(Boolean);
    return ids.length === 1 ? ids[0] : "";
  }

  /* ---- charts --------------------------------------------------------- */

  function drawChart(windowName, chart) {
    const card = section.querySelector('.cusum-card[data-window="' + windowName + '"]');
    const status = card.querySelector('[data-field="cusum-status"]');
    card.querySelector(".ratio").classList.toggle("d-none", !chart.target);
    if (!chart.target) {
      status.textContent = config.labelNoTarget;
      status.classList.remove("text-danger", "fw-semibold");
      if (charts[windowName]) {
        charts[windowName].destroy();
        delete charts[windowName];
      }
      return;
    }
    const limit = chart.target.limit;
    status.textContent = format(config.labelStatus, {
      target: oneDecimal.format(chart.target.target_rate * 100) + " %",
      current: twoDecimals.format(chart.current),
      limit: twoDecimals.format(limit),
    }) + (chart.signalling ? " · " + config.labelSignalling : "");
    status.classList.toggle("text-danger", chart.signalling);
    status.classList.toggle("fw-semibold", chart.signalling);
    const points = chart.points;
    const data = {
      labels: points.map((p) => p.n),
      datasets: [
        {
          label: config.labelCusum,
          data: points.map((p) => p.cusum),
          borderColor: COLOURS[windowName],
          backgroundColor: COLOURS[windowName],
          pointRadius: points.map((p) => (p.major ? 3 : 0)),
          borderWidth: 1.5,
        },
        {
          label: config.labelLimit,
          data: points.map(() => limit),
          borderColor: "#6c757d",
          borderDash: [6, 4],
          borderWidth: 1,
          pointRadius: 0,
        },
      ],
    };
    if (charts[windowName]) {
      charts[windowName].data = data;
      charts[windowName].update("none");
      return;
    }
    charts[windowName] = new Chart(document.getElementById("cusum-" + windowName), {
      type: "line",
      data: data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { title: { display: true, text: config.labelFracture }, ticks: { maxTicksLimit: 8 } },
          y: { beginAtZero: true, suggestedMax: limit * 1.2, title: { display: true, text: config.labelCusum } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (context) => {
                const value = context.dataset.label + ": " + twoDecimals.format(context.parsed.y);
                const point = points[context.dataIndex];
                return context.datasetIndex === 0 && point && point.major ? value + " (" + config.labelMajor + ")" : value;
              },
            },
          },
        },
      },
    });
  }

  async function loadCharts() {
    const id = department();
    document.getElementById("cusum-hint").classList.toggle("d-none", Boolean(id));
    document.getElementById("cusum-charts").classList.toggle("d-none", !id);
    if (!id) return;
    const results = await Promise.all(
      WINDOWS.map((w) => getJSON(config.cusumUrl + "?" + new URLSearchParams({ department: id, window: w }))),
    );
    results.forEach((chart, i) => drawChart(WINDOWS[i], chart));
  }

  /* ---- alerts --------------------------------------------------------- */

  function acknowledgeForm(url) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.className = "d-inline";
    for (const [name, value] of [["csrfmiddlewaretoken", config.csrf], ["next", config.next]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "btn btn-outline-primary btn-sm";
    button.textContent = config.labelAcknowledge;
    form.append(button);
    return form;
  }

  function alertItem(alert) {
    const li = document.createElement("li");
    li.className = "list-group-item d-flex flex-wrap justify-content-between align-items-center gap-2 quality-alert";
    li.dataset.alert = String(alert.id);
    const text = document.createElement("span");
    const time = document.createElement("time");
    time.dateTime = alert.created_at;
    time.textContent = new Date(alert.created_at).toLocaleString(locale);
    const badge = document.createElement("span");
    badge.className = "badge ms-2 " + (alert.open ? "text-bg-danger" : "text-bg-secondary");
    badge.textContent = alert.open ? config.labelOpen : config.labelClosed;
    text.append(time, " · ", format(config.labelAlert, {
      department: alert.department,
      window: alert.window_label,
      cusum: twoDecimals.format(alert.cusum),
      limit: twoDecimals.format(alert.limit),
      fractures: alert.fracture_count,
    }), badge);
    li.append(text);
    if (alert.acknowledged_at) {
      const seen = document.createElement("span");
      seen.className = "small text-body-secondary";
      seen.textContent = format(config.labelAcknowledged, { user: alert.acknowledged_by || "?" });
      li.append(seen);
    } else if (alert.acknowledge_url) {
      li.append(acknowledgeForm(alert.acknowledge_url));
    }
    return li;
  }

  async function loadAlerts() {
    const id = config.department;
    const url = config.alertsUrl + (id ? "?" + new URLSearchParams({ department: id }) : "");
    const alerts = (await getJSON(url)).alerts;
    const list = document.getElementById("quality-alerts");
    if (!alerts.length) {
      const li = document.createElement("li");
      li.className = "list-group-item text-body-secondary";
      li.textContent = config.labelNoAlert;
      list.replaceChildren(li);
      return;
    }
    list.replaceChildren(...alerts.map(alertItem));
  }

  /* One load at a time; a refresh asked for meanwhile runs once it is done. */
  async function load() {
    if (busy) {
      pending = true;
      return;
    }
    busy = true;
    try {
      await Promise.all([loadCharts(), loadAlerts()]);
    } catch (error) {
      // dashboard.js shows the connection state; keep the last charts on screen.
      console.warn("quality monitoring:", error);
    } finally {
      busy = false;
      if (pending) {
        pending = false;
        load();
      }
    }
  }

  document.addEventListener("dashboard:refreshed", load);
  load();
})();
