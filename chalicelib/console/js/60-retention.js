/* Retention: policies, preview, dry run and purge with progress (admin), run history. */
"use strict";

V.pages.retention = async function (section) {
  var policiesSlot = V.h("div", { class: "card" }, V.h("h2", { text: "Policies" }));
  var policies = V.h("div", {});
  policiesSlot.appendChild(policies);
  var preview = V.h("div", { class: "card", id: "retention-preview", hidden: true });
  var runsSlot = V.h("div", { class: "card" }, V.h("h2", { text: "Purge runs" }));
  var runs = V.h("div", { id: "purge-runs" });
  runsSlot.appendChild(runs);
  V.append(section, V.h("h1", { text: "Retention" }));
  if (V.can("admin")) {
    section.appendChild(V.h("div", { class: "card" }, V.h("h2", { text: "Set a policy" }), V.form([
      { name: "category", label: "Category", id: "policy-category", required: true, placeholder: "audit_logs" },
      { name: "days", label: "Days to keep", id: "policy-days", type: "number", required: true, value: "90" },
      { name: "enabled", label: "Enabled", id: "policy-enabled", options: ["true", "false"] },
    ], "Save policy", async function (values) {
      await V.post("/system/retention/", { category: values.category, days_to_keep: Number(values.days), enabled: values.enabled === "true" });
      V.toast("Policy for " + values.category + " saved.");
      await load();
    }, "policy-form")));
    var purge = V.h("div", { class: "actions" },
      V.h("button", { type: "button", class: "secondary", id: "dry-run", text: "Dry run (every enabled policy)", on: { click: V.act(function () { return start(true); }) } }),
      V.h("button", { type: "button", class: "danger", id: "purge-now", text: "Purge now", on: { click: V.act(function () { return start(false); }) } }));
    section.appendChild(V.h("div", { class: "card" }, V.h("h2", { text: "Purge" }), purge));
  }
  V.append(section, [policiesSlot, preview, runsSlot]);

  async function start(dryRun) {
    var run = await V.post("/system/retention/purge", { dry_run: dryRun });
    V.toast("Purge run " + run.id + (dryRun ? " (dry run)" : "") + " started.");
    await loadRuns();
  }

  async function showPreview(policy) {
    var answer = await V.get("/system/retention/" + policy.category + "/preview");
    preview.hidden = false;
    V.clear(preview).appendChild(V.h("h2", { text: "Preview: " + policy.category }));
    preview.appendChild(V.h("p", { text: answer.purgeable
      ? answer.count + " records older than " + V.time(answer.cutoff) + " would be deleted (oldest " + V.time(answer.oldest) + ")."
      : "This system cannot purge this category." }));
  }

  var active = false;
  async function loadRuns() {
    var page = await V.get("/system/retention/runs", { limit: 20 });
    active = page.items.some(function (run) { return run.status === "pending" || run.status === "running"; });
    V.clear(runs).appendChild(V.table([
      ["id", function (r) { return r.id; }],
      ["status", function (r) { return V.statusCell(r.status); }],
      ["dry run", function (r) { return r.dry_run ? "yes" : "no"; }],
      ["progress", function (r) {
        var done = r.categories.filter(function (c) { return c.status !== "pending" && c.status !== "running"; }).length;
        var bar = V.h("progress", { max: Math.max(1, r.categories.length) });
        bar.value = r.status === "completed" || r.status === "skipped" ? Math.max(1, r.categories.length) : done;
        return V.h("td", {}, bar, " " + done + "/" + r.categories.length);
      }],
      ["matched / deleted", function (r) {
        return r.categories.map(function (c) { return c.category + ": " + c.matched + "/" + c.deleted; }).join(", ");
      }],
      ["created", function (r) { return V.time(r.created_at); }],
      ["reason", function (r) { return r.reason; }],
    ], page.items));
  }

  async function load() {
    var page = await V.get("/system/retention/", { limit: 100 });
    V.clear(policies).appendChild(V.table([
      ["category", function (p) { return p.category; }],
      ["days to keep", function (p) { return p.days_to_keep; }],
      ["enabled", function (p) { return p.enabled ? "yes" : "no"; }],
      ["purgeable", function (p) { return p.purgeable ? "yes" : "no"; }],
      ["updated", function (p) { return V.time(p.updated_at); }],
    ], page.items, V.act(showPreview)));
  }
  await Promise.all([load(), loadRuns()]);
  V.every(1000, function () { if (active) loadRuns().catch(function () {}); });
  V.every(10000, function () { if (!active) loadRuns().catch(function () {}); });
};
