/* Overview: mode (and its toggle for admins), deliveries per minute, success rate, backlog, recent failures. */
"use strict";

V.pages.overview = async function (section) {
  var modeCard = V.h("div", { class: "card", id: "mode-card" });
  var figures = V.h("div", { class: "grid" });
  var chartCard = V.h("div", { class: "card" }, V.h("h2", { text: "Deliveries per minute, last 3 hours" }));
  var chartSlot = V.h("div", { id: "delivery-chart" });
  chartCard.appendChild(chartSlot);
  var failuresCard = V.h("div", { class: "card" }, V.h("h2", { text: "Recent failures" }));
  var failuresSlot = V.h("div", {});
  failuresCard.appendChild(failuresSlot);
  V.append(section, [V.h("h1", { text: "Overview" }), modeCard, figures, chartCard, failuresCard]);

  function renderMode(state) {
    V.clear(modeCard);
    modeCard.appendChild(V.h("h2", { text: "Mode" }));
    modeCard.appendChild(V.h("p", {}, "The system is ", V.h("strong", { id: "current-mode", text: state.mode }),
      state.reason ? " (" + state.reason + ")" : ""));
    if (V.can("admin")) {
      modeCard.appendChild(V.form([
        { name: "mode", label: "Switch to", id: "mode-select", options: ["normal", "read_only", "maintenance"] },
        { name: "reason", label: "Reason", id: "mode-reason", placeholder: "optional" },
      ], "Switch mode", async function (values) {
        var body = { mode: values.mode };
        if (values.reason) body.reason = values.reason;
        await V.post("/system/maintenance/state", body);
        var fresh = await V.refreshMode();
        V.toast("Mode is now " + fresh.mode + ".");
      }, "mode-form"));
      var select = document.getElementById("mode-select");
      if (select) select.value = state.mode === "normal" ? "read_only" : "normal";
    }
  }

  function figure(label, value, id) {
    return V.h("div", { class: "card" }, V.h("div", { class: "muted", text: label }), V.h("div", { class: "metric", id: id, text: value }));
  }

  async function refresh() {
    var since = new Date(Date.now() - 3 * 3600 * 1000).toISOString();
    var results = await Promise.all([
      V.get("/system/stats/deliveries", { granularity: "minute", since: since }),
      V.get("/system/stats/backlog"),
      V.get("/system/notify/", { status: "failed", limit: 10 }),
    ]);
    var stats = results[0], backlog = results[1], failures = results[2];
    var totals = stats.totals;
    V.clear(figures);
    V.append(figures, [
      figure("Success rate (3 h)", totals.success_rate === null ? "-" : (totals.success_rate * 100).toFixed(1) + " %", "success-rate"),
      figure("Sent / failed (3 h)", totals.sent + " / " + totals.failed, "sent-failed"),
      figure("Latency p50 / p95", V.fmt(totals.latency_ms.p50) + " / " + V.fmt(totals.latency_ms.p95) + " ms", "latency"),
      figure("Pending notifications", backlog.pending, "pending"),
      figure("Oldest pending", backlog.oldest_pending_age_seconds === null ? "-" : Math.round(backlog.oldest_pending_age_seconds) + " s", "oldest"),
      figure("Running exports / purges", backlog.running_exports.length + " / " + backlog.running_purges.length, "running"),
    ]);
    V.clear(chartSlot).appendChild(V.deliveryChart(stats.buckets, chartSlot.clientWidth));
    V.clear(failuresSlot).appendChild(V.table([
      ["id", function (n) { return n.id; }],
      ["channel", function (n) { return n.channel_id; }],
      ["subject", function (n) { return n.subject; }],
      ["attempts", function (n) { return n.attempts; }],
      ["last error", function (n) { return n.last_error; }],
      ["at", function (n) { return V.time(n.updated_at); }],
    ], failures.items, function (n) { location.hash = "#notifications/" + n.id; }));
  }

  renderMode(V.mode || (await V.refreshMode()));
  document.addEventListener("valhalla:mode", function (event) {
    if (document.getElementById("mode-card") === modeCard) renderMode(event.detail);
  });
  await refresh();
  V.every(5000, function () { refresh().catch(function () {}); });
};
