/* Channels: list, create (admin), detail with the last hour's health, enable/disable and secret rotation (admin). */
"use strict";

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
    ], "Create channel", async function (values, form) {
      var body = { name: values.name, channel_type: values.channel_type, target: values.target };
      if (values.description) body.description = values.description;
      var created = await V.post("/system/notify/channels", body);
      V.toast("Channel " + created.id + " created." + (created.signing_secret ? " Signing secret (shown once): " + created.signing_secret : ""));
      form.reset();
      await load();
    }, "channel-form")));
  }
  V.append(section, [listSlot, detail]);

  async function showDetail(channel) {
    detail.hidden = false;
    V.clear(detail).appendChild(V.h("h2", { text: "Channel " + channel.id + ": " + channel.name }));
    var stats = await V.get("/system/stats/deliveries", { granularity: "minute", channel_id: channel.id });
    var totals = stats.totals;
    var health = null;
    try { health = await V.get("/system/notify/channels/" + channel.id + "/health"); } catch (error) { health = null; }
    V.append(detail, V.table([["field", function (r) { return r[0]; }], ["value", function (r) { return r[1]; }]], [
      ["type", channel.channel_type], ["target", channel.target], ["active", channel.active],
      ["rate limit", channel.rate_limit === undefined ? "-" : channel.rate_limit],
      ["sent / failed (1 h)", totals.sent + " / " + totals.failed],
      ["success rate (1 h)", totals.success_rate === null ? "-" : (totals.success_rate * 100).toFixed(1) + " %"],
      ["latency p95 (1 h)", V.fmt(totals.latency_ms.p95) + " ms"],
      ["health", health ? health : "-"],
    ]));
    if (!V.can("admin")) return;
    var actions = V.h("div", { class: "actions" });
    actions.appendChild(V.h("button", { type: "button", id: "toggle-channel", class: channel.active ? "danger" : "",
      text: channel.active ? "Disable" : "Enable",
      on: { click: V.act(async function () {
        var changed = await V.api("PATCH", "/system/notify/channels/" + channel.id, { active: !channel.active });
        V.toast("Channel " + changed.id + (changed.active ? " enabled." : " disabled."));
        await load();
        await showDetail(changed);
      }) } }));
    if (channel.channel_type === "webhook") {
      actions.appendChild(V.h("button", { type: "button", class: "secondary", text: "Rotate secret",
        on: { click: V.act(async function () {
          var rotated = await V.post("/system/notify/channels/" + channel.id + "/rotate-secret");
          V.toast("New secret (shown once): " + rotated.signing_secret + "; the old one signs until " + V.time(rotated.previous_secret_expires_at));
        }) } }));
    }
    detail.appendChild(actions);
  }

  async function load() {
    var page = await V.get("/system/notify/channels", { limit: 100 });
    V.clear(listSlot).appendChild(V.table([
      ["id", function (c) { return c.id; }],
      ["name", function (c) { return c.name; }],
      ["type", function (c) { return c.channel_type; }],
      ["target", function (c) { return c.target; }],
      ["active", function (c) { return c.active ? "yes" : "no"; }],
      ["created", function (c) { return V.time(c.created_at); }],
    ], page.items, V.act(showDetail)));
  }
  await load();
};
