/* Channels: list with health, create (admin), detail with the last hour and the breaker's state,
   enable after an auto-disable, disable, rate limit and secret rotation (admin). */
"use strict";

/* A channel's health, or null where the API has no health route (or the call failed). */
V.channelHealth = async function (id) {
  try { return await V.get("/system/notify/channels/" + id + "/health"); } catch (error) { return null; }
};

V.healthBadge = function (health, channelId) {
  var state = health ? health.state : "unknown";
  return V.h("span", { class: "badge health-" + state, "data-channel": channelId, text: state.replace("_", "-") });
};

V.rateLimit = function (channel) {
  if (channel.rate_limit_per_second === undefined) return "-";
  return channel.rate_limit_per_second === null ? "unlimited" : channel.rate_limit_per_second + " / s";
};

V.pages.channels = async function (section) {
  var listSlot = V.h("div", { class: "card" });
  var detail = V.h("div", { class: "card", id: "channel-detail", hidden: true });
  V.append(section, V.h("h1", { text: "Channels" }));
  if (V.can("admin")) {
    section.appendChild(V.h("div", { class: "card" }, V.h("h2", { text: "New channel" }), V.form([
      { name: "name", label: "Name", id: "channel-name", required: true },
      { name: "channel_type", label: "Type", id: "channel-type", options: ["email", "sms", "webhook"] },
      { name: "target", label: "Target", id: "channel-target", required: true, placeholder: "ops@example.com, +14155550100, https://..." },
      { name: "description", label: "Description", id: "channel-description" },
      { name: "rate", label: "Rate limit (per second)", id: "channel-rate", type: "number", placeholder: "unlimited" },
    ], "Create channel", async function (values, form) {
      var body = { name: values.name, channel_type: values.channel_type, target: values.target };
      if (values.description) body.description = values.description;
      if (values.rate) body.rate_limit_per_second = Number(values.rate);
      var created = await V.post("/system/notify/channels", body);
      V.toast("Channel " + created.id + " created." + (created.signing_secret ? " Signing secret (shown once): " + created.signing_secret : ""));
      form.reset();
      await load();
    }, "channel-form")));
  }
  V.append(section, [listSlot, detail]);

  async function reshow(id) {
    await load();
    await showDetail(await V.get("/system/notify/channels/" + id));
  }

  function adminActions(channel, health) {
    var actions = V.h("div", { class: "actions" });
    if (health && health.state !== "healthy") {
      /* The enable route closes the breaker and switches the channel on (after an auto-disable). */
      actions.appendChild(V.h("button", { type: "button", id: "enable-channel", text: "Enable (reset health)",
        on: { click: V.act(async function () {
          var fresh = await V.post("/system/notify/channels/" + channel.id + "/enable");
          V.toast("Channel " + channel.id + " enabled; health is " + fresh.state + ".");
          await reshow(channel.id);
        }) } }));
    } else {
      actions.appendChild(V.h("button", { type: "button", id: "toggle-channel", class: channel.active ? "danger" : "",
        text: channel.active ? "Disable" : "Enable",
        on: { click: V.act(async function () {
          var changed = await V.api("PATCH", "/system/notify/channels/" + channel.id, { active: !channel.active });
          V.toast("Channel " + changed.id + (changed.active ? " enabled." : " disabled."));
          await reshow(channel.id);
        }) } }));
    }
    if (channel.channel_type === "webhook") {
      actions.appendChild(V.h("button", { type: "button", class: "secondary", text: "Rotate secret",
        on: { click: V.act(async function () {
          var rotated = await V.post("/system/notify/channels/" + channel.id + "/rotate-secret");
          V.toast("New secret (shown once): " + rotated.signing_secret + "; the old one signs until " + V.time(rotated.previous_secret_expires_at));
        }) } }));
    }
    var parts = [actions];
    if (channel.rate_limit_per_second !== undefined) {
      parts.push(V.form([
        { name: "rate", label: "Rate limit (per second, empty: unlimited)", id: "edit-channel-rate", type: "number",
          value: channel.rate_limit_per_second === null ? "" : String(channel.rate_limit_per_second) },
      ], "Save rate limit", async function (values) {
        var changed = await V.api("PATCH", "/system/notify/channels/" + channel.id,
          { rate_limit_per_second: values.rate ? Number(values.rate) : null });
        V.toast("Channel " + changed.id + " rate limit: " + V.rateLimit(changed) + ".");
        await reshow(channel.id);
      }, "channel-rate-form"));
    }
    return parts;
  }

  async function showDetail(channel) {
    detail.hidden = false;
    V.clear(detail).appendChild(V.h("h2", { text: "Channel " + channel.id + ": " + channel.name }));
    var answers = await Promise.all([
      V.get("/system/stats/deliveries", { granularity: "minute", channel_id: channel.id }),
      V.channelHealth(channel.id),
    ]);
    var totals = answers[0].totals, health = answers[1];
    var rows = [
      ["type", channel.channel_type], ["target", channel.target], ["active", channel.active],
      ["rate limit", V.rateLimit(channel)],
      ["sent / failed (1 h)", totals.sent + " / " + totals.failed],
      ["success rate (1 h)", totals.success_rate === null ? "-" : (totals.success_rate * 100).toFixed(1) + " %"],
      ["latency p95 (1 h)", V.fmt(totals.latency_ms.p95) + " ms"],
      ["health", V.healthBadge(health, channel.id)],
    ];
    if (health) {
      rows.push(["failure rate (window)", (health.failure_rate * 100).toFixed(1) + " % of " + health.attempts_in_window + " attempts"]);
      rows.push(["consecutive failures", health.consecutive_failures]);
      if (health.failing_since) rows.push(["failing since", V.time(health.failing_since)]);
      if (health.next_probe_at) rows.push(["next probe", V.time(health.next_probe_at)]);
      if (health.disabled_at) rows.push(["disabled", V.time(health.disabled_at) + (health.disabled_reason ? ": " + health.disabled_reason : "")]);
    }
    V.append(detail, V.table([["field", function (r) { return r[0]; }], ["value", function (r) { return r[1]; }]], rows));
    if (V.can("admin")) V.append(detail, adminActions(channel, health));
  }

  async function load() {
    var page = await V.get("/system/notify/channels", { limit: 100 });
    var healths = await Promise.all(page.items.map(function (c) { return V.channelHealth(c.id); }));
    var byId = {};
    page.items.forEach(function (c, index) { byId[c.id] = healths[index]; });
    var columns = [
      ["id", function (c) { return c.id; }],
      ["name", function (c) { return c.name; }],
      ["type", function (c) { return c.channel_type; }],
      ["target", function (c) { return c.target; }],
      ["active", function (c) { return c.active ? "yes" : "no"; }],
    ];
    if (healths.some(Boolean)) {
      columns.push(["health", function (c) { return V.healthBadge(byId[c.id], c.id); }]);
      columns.push(["failure rate", function (c) { return byId[c.id] ? (byId[c.id].failure_rate * 100).toFixed(1) + " %" : "-"; }]);
    }
    if (page.items.some(function (c) { return c.rate_limit_per_second !== undefined; })) columns.push(["rate limit", V.rateLimit]);
    columns.push(["created", function (c) { return V.time(c.created_at); }]);
    V.clear(listSlot).appendChild(V.table(columns, page.items, V.act(showDetail)));
  }
  await load();
};
