/* Export jobs: live progress.
 *
 * Every job row that is not finished polls its API URL (data-job-url) every
 * second and updates its progress bar, status and download link, until the job
 * is done or failed. Translated labels come from the page (json_script
 * "exports-config"); the API answers in the session's language. Bar widths are
 * set here through the CSSOM: the content security policy forbids the inline
 * style attributes a template would otherwise use.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("exports-config").textContent);
  const labels = config.labels;
  const FINISHED = ["done", "failed"];

  function render(row, job) {
    const bar = row.querySelector(".progress-bar");
    const progress = row.querySelector(".progress");
    bar.style.width = job.progress + "%";
    bar.textContent = job.progress + "\u00a0%";
    progress.setAttribute("aria-valuenow", String(job.progress));
    bar.classList.toggle("progress-bar-striped", job.status === "running");
    bar.classList.toggle("progress-bar-animated", job.status === "running");
    bar.classList.toggle("bg-success", job.status === "done");
    bar.classList.toggle("bg-danger", job.status === "failed");
    row.querySelector('[data-field="status"]').textContent = labels[job.status] || job.status;
    row.querySelector('[data-field="error"]').textContent = job.error || "";
    const cell = row.querySelector('[data-field="download"]');
    if (job.download_url && !cell.querySelector("a")) {
      const link = document.createElement("a");
      link.href = job.download_url;
      link.textContent = labels.download;
      cell.replaceChildren(link);
    }
  }

  function watch(row) {
    const url = row.dataset.jobUrl;
    async function poll() {
      let job;
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        if (!response.ok) {
          throw new Error(url + ": HTTP " + response.status);
        }
        job = await response.json();
      } catch (error) {
        row.querySelector('[data-field="error"]').textContent = labels.offline;
        window.setTimeout(poll, config.pollMs * 5);
        return;
      }
      render(row, job);
      if (FINISHED.includes(job.status)) {
        row.dataset.finished = "true";
      } else {
        window.setTimeout(poll, config.pollMs);
      }
    }
    poll();
  }

  document.querySelectorAll(".progress-bar[data-progress]").forEach(function (bar) {
    bar.style.width = bar.dataset.progress + "%";
  });
  document.querySelectorAll('tr[data-job-url][data-finished="false"]').forEach(watch);
})();
