/* Exports: start one (operator), live progress while running, download when completed. */
"use strict";

V.bytes = function (count) {
  if (count < 1024) return count + " B";
  return count < 1048576 ? (count / 1024).toFixed(1) + " KiB" : (count / 1048576).toFixed(1) + " MiB";
};

/* A running job's bar moves toward its known total (the days or statuses its source reads);
   with one segment there is none, and the bar stays indeterminate beside rows and bytes. */
V.exportProgress = function (job) {
  var bar = V.h("progress", { max: 100, "data-job": job.id });
  var label, p = job.progress;
  if (job.status === "completed") { bar.value = 100; label = "100 %"; }
  else if (job.status === "failed") { bar.value = 0; label = "failed"; }
  else if (job.status === "running") {
    label = p.rows_written + " rows, " + V.bytes(p.bytes_uploaded);
    if (p.fraction !== null && p.fraction !== undefined && p.segments_total > 1) {
      bar.value = Math.round(p.fraction * 100);
      label = bar.value + " % (" + p.segments_read + " of " + p.segments_total + " parts read), " + label;
    }
  }
  else { bar.value = 0; label = "0 %"; }
  return V.h("td", { class: "progress-cell" }, bar, " ", V.h("span", { class: "progress-label", "data-job": job.id, text: label }));
};

V.parsePairs = function (text) {
  var filters = {};
  (text || "").split(",").map(function (part) { return part.trim(); }).filter(Boolean).forEach(function (pair) {
    var at = pair.indexOf("=");
    if (at < 1) throw new Error("filters are KEY=VALUE, separated by commas: " + pair);
    var value = pair.slice(at + 1).trim();
    filters[pair.slice(0, at).trim()] = /^\d+$/.test(value) ? Number(value) : value;
  });
  return filters;
};

V.download = async function (jobId) {
  var link = await V.get("/system/exports/" + jobId + "/download");
  var anchor = V.h("a", { href: link.url, download: "export-" + jobId + ".gz", hidden: true });
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  V.toast("Downloading export " + jobId + " (the link works until " + V.time(link.expires_at) + ").");
};

V.pages.exports = async function (section) {
  var listSlot = V.h("div", { class: "card", id: "exports-list" });
  V.append(section, V.h("h1", { text: "Exports" }));
  if (V.can("operator")) {
    section.appendChild(V.h("div", { class: "card" }, V.h("h2", { text: "New export" }), V.form([
      { name: "job_type", label: "Type", id: "export-type", options: ["audit_log_export", "notification_export", "config_snapshot"] },
      { name: "format", label: "Format", id: "export-format", options: ["jsonl", "csv"] },
      { name: "filters", label: "Filters (KEY=VALUE, ...)", id: "export-filters", placeholder: "start_date=2026-01-01, actor=ops" },
    ], "Start export", async function (values) {
      var filters = V.parsePairs(values.filters);
      var dated = values.job_type === "audit_log_export" || values.job_type === "notification_export";
      if (dated && !("start_date" in filters || "end_date" in filters || "before_date" in filters)) {
        /* No dates: everything until now (the API wants a range). */
        filters.before_date = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
      }
      var job = await V.post("/system/exports/", { job_type: values.job_type, format: values.format, filter_params: filters });
      V.toast("Export " + job.id + " started.");
      await load();
    }, "export-form")));
  }
  section.appendChild(listSlot);

  var busy = false;
  async function load() {
    var page = await V.get("/system/exports/", { limit: 50 });
    busy = page.items.some(function (job) { return job.status === "pending" || job.status === "running"; });
    V.clear(listSlot).appendChild(V.table([
      ["id", function (j) { return j.id; }],
      ["type", function (j) { return j.job_type; }],
      ["status", function (j) { return V.statusCell(j.status); }],
      ["progress", V.exportProgress],
      ["rows", function (j) { return j.row_count === null || j.row_count === undefined ? j.progress.rows_written : j.row_count; }],
      ["bytes", function (j) { return j.bytes; }],
      ["created", function (j) { return V.time(j.created_at); }],
      ["", function (j) {
        if (j.status === "completed") {
          return V.h("button", { type: "button", class: "secondary download", "data-job": j.id, text: "Download", on: { click: V.act(function () { return V.download(j.id); }) } });
        }
        return j.error_message || "";
      }],
    ], page.items));
  }
  await load();
  V.every(1000, function () { if (busy) load().catch(function () {}); });
  V.every(10000, function () { if (!busy) load().catch(function () {}); });
};
