/* Notifications: send (operator), filters, detail with the attempt history, retry and replay (operator). */
"use strict";

V.pages.notifications = async function (section) {
  var filters = { status: "", channel_id: "" };
  var listSlot = V.h("div", { class: "card" });
  var detail = V.h("div", { class: "card", id: "notification-detail", hidden: true });
  V.append(section, V.h("h1", { text: "Notifications" }));
  if (V.can("operator")) {
    section.appendChild(V.h("div", { class: "card" }, V.h("h2", { text: "Send a notification" }), V.form([
      { name: "channel_id", label: "Channel id", id: "send-channel", required: true, type: "number" },
      { name: "subject", label: "Subject", id: "send-subject", required: true },
      { name: "body", label: "Body", id: "send-body", required: true },
    ], "Send", async function (values) {
      var sent = await V.post("/system/notify/", { channel_id: Number(values.channel_id), subject: values.subject, body: values.body });
      V.toast("Notification " + sent.id + " is " + sent.status + ".");
      await load();
    }, "send-form")));
  }
  section.appendChild(V.h("div", { class: "card" }, V.form([
    { name: "status", label: "Status", id: "filter-status", options: ["", "pending", "sent", "failed"] },
    { name: "channel_id", label: "Channel id", id: "filter-channel", type: "number" },
  ], "Filter", async function (values) { filters = values; await load(); }, "filter-form")));
  V.append(section, [listSlot, detail]);

  async function showDetail(id) {
    var n = await V.get("/system/notify/" + id);
    detail.hidden = false;
    V.clear(detail).appendChild(V.h("h2", {}, "Notification " + n.id + " ", V.h("span", { class: "status-" + n.status, id: "detail-status", text: n.status })));
    V.append(detail, V.table([["field", function (r) { return r[0]; }], ["value", function (r) { return r[1]; }]], [
      ["channel", n.channel_id], ["subject", n.subject], ["body", n.body], ["payload", n.payload],
      ["attempts", n.attempts], ["last error", n.last_error], ["created", V.time(n.created_at)], ["sent", V.time(n.sent_at)],
    ]));
    detail.appendChild(V.h("h2", { text: "Attempts" }));
    detail.appendChild(V.table([
      ["#", function (a) { return a.number; }], ["at", function (a) { return V.time(a.at); }],
      ["outcome", function (a) { return V.statusCell(a.outcome); }], ["http", function (a) { return a.http_status; }],
      ["error", function (a) { return a.error; }], ["ms", function (a) { return a.duration_ms; }],
    ], n.history || []));
    if (!V.can("operator")) return;
    var actions = V.h("div", { class: "actions" });
    if (n.status === "failed") {
      actions.appendChild(V.h("button", { type: "button", text: "Retry", id: "retry-notification", on: { click: V.act(async function () {
        await V.post("/system/notify/" + n.id + "/retry");
        V.toast("Notification " + n.id + " will be sent again.");
        await showDetail(n.id);
        await load();
      }) } }));
    }
    actions.appendChild(V.h("button", { type: "button", class: "secondary", text: "Replay as new", on: { click: V.act(async function () {
      var body = { channel_id: n.channel_id, subject: n.subject, body: n.body };
      if (n.payload) body.payload = n.payload;
      var copy = await V.post("/system/notify/", body);
      V.toast("Replayed as notification " + copy.id + ".");
      await load();
    }) } }));
    detail.appendChild(actions);
  }

  async function load() {
    var page = await V.get("/system/notify/", { status: filters.status, channel_id: filters.channel_id, limit: 50 });
    V.clear(listSlot).appendChild(V.table([
      ["id", function (n) { return n.id; }],
      ["channel", function (n) { return n.channel_id; }],
      ["status", function (n) { return V.statusCell(n.status); }],
      ["attempts", function (n) { return n.attempts; }],
      ["subject", function (n) { return n.subject; }],
      ["created", function (n) { return V.time(n.created_at); }],
    ], page.items, function (n) {
      if (location.hash === "#notifications/" + n.id) V.act(function () { return showDetail(n.id); })();
      else location.hash = "#notifications/" + n.id;
    }));
    var open = location.hash.split("/")[1] || "";
    if (/^\d+$/.test(open) && !detail.hidden) await showDetail(Number(open));
  }
  await load();
  var wanted = location.hash.split("/")[1];
  if (wanted && /^\d+$/.test(wanted)) await showDetail(Number(wanted));
  V.every(3000, function () { load().catch(function () {}); });
  await V.replaysCard(section);
};
