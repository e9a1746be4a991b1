/* Events: types with their schema, subscriptions (admin: create, edit, delete, send a test), the event log (operator: resend). */
"use strict";

V.splitList = function (text) {
  return (text || "").split(",").map(function (part) { return part.trim(); }).filter(Boolean);
};

/* A subscription pattern is an exact type or a prefix ending in '*' (as the API reads it). */
V.patternMatches = function (pattern, type) {
  return pattern.slice(-1) === "*" ? type.indexOf(pattern.slice(0, -1)) === 0 : pattern === type;
};

V.parseJson = function (text, what) {
  if (!text) return null;
  try { return JSON.parse(text); } catch (error) { throw new Error(what + " is not valid JSON: " + error.message); }
};

V.pages.events = async function (section) {
  var types = (await V.get("/system/events/types")).items;
  var typeNames = types.map(function (t) { return t.type; });
  var typesSlot = V.h("div", { class: "card" }, V.h("h2", { text: "Event types" }));
  var schema = V.h("pre", { id: "event-schema", hidden: true });
  var subsSlot = V.h("div", { class: "card", id: "subscriptions" }, V.h("h2", { text: "Subscriptions" }));
  var subsList = V.h("div", {});
  var editor = V.h("div", { class: "card", id: "subscription-editor", hidden: true });
  var logSlot = V.h("div", { class: "card" }, V.h("h2", { text: "Event log" }));
  var logList = V.h("div", { id: "event-log" });
  var eventDetail = V.h("pre", { id: "event-detail", hidden: true });
  var filters = { type: "", since: "", until: "" };
  var cursors = [null];

  typesSlot.appendChild(V.table([
    ["type", function (t) { return t.type; }],
    ["description", function (t) { return t.description; }],
  ], types, function (t) {
    schema.hidden = false;
    schema.textContent = t.type + "\n" + JSON.stringify(t.schema, null, 2);
  }));
  typesSlot.appendChild(schema);
  subsSlot.appendChild(subsList);
  logSlot.appendChild(V.form([
    { name: "type", label: "Type", id: "event-filter-type", options: [""].concat(typeNames) },
    { name: "since", label: "Since", id: "event-filter-since", placeholder: "2026-12-01T00:00:00Z" },
    { name: "until", label: "Until", id: "event-filter-until", placeholder: "ISO time" },
  ], "Filter", async function (values) { filters = values; cursors = [null]; await loadLog(); }, "event-filter-form"));
  V.append(logSlot, [logList, eventDetail]);

  V.append(section, V.h("h1", { text: "Events" }));
  if (V.can("admin")) section.appendChild(subscriptionForm(null));
  V.append(section, [subsSlot, editor, logSlot, typesSlot, filterTester()]);

  /* Whether a filter takes an event, before a subscription uses it (writes nothing). */
  function filterTester() {
    var verdict = V.h("p", { id: "filter-verdict", class: "muted" });
    return V.h("div", { class: "card" }, V.h("h2", { text: "Test a filter" }), V.form([
      { name: "filter", label: "Filter (JSON)", id: "test-filter", multiline: true, required: true, placeholder: '{"data.status": "failed"}' },
      { name: "event", label: "Event (JSON; a log row shows one)", id: "test-event", multiline: true, required: true,
        placeholder: '{"id": "evt_1", "type": "export.failed", "data": {"status": "failed"}}' },
    ], "Test", async function (values) {
      var answer = await V.post("/system/events/filters/test",
        { filter: V.parseJson(values.filter, "The filter"), event: V.parseJson(values.event, "The event") });
      verdict.textContent = answer.matches ? "The filter matches this event." : "The filter does not match this event.";
    }, "filter-test-form"), verdict);
  }

  /* The create form, or (with a subscription) the edit form: the same fields, POST or PATCH. */
  function subscriptionForm(sub) {
    var prefix = sub ? "edit-sub-" : "sub-";
    var form = V.form([
      sub ? null : { name: "name", label: "Name", id: "sub-name", required: true },
      { name: "channel_ids", label: "Channel ids", id: prefix + "channels", required: true, placeholder: "1, 2",
        value: sub ? sub.channel_ids.join(", ") : undefined },
      { name: "event_types", label: "Event types (a trailing * takes a family)", id: prefix + "types", required: true,
        placeholder: "export.*, maintenance.changed", value: sub ? sub.event_types.join(", ") : undefined },
      { name: "filter", label: "Filter (JSON, optional)", id: prefix + "filter", multiline: true,
        placeholder: '{"data.status": "failed"}', value: sub && sub.filter ? JSON.stringify(sub.filter) : undefined },
      { name: "enabled", label: "Enabled", id: prefix + "enabled", options: ["true", "false"] },
    ].filter(Boolean), sub ? "Save" : "Create subscription", async function (values, node) {
      var body = {
        channel_ids: V.splitList(values.channel_ids).map(Number),
        event_types: V.splitList(values.event_types),
        filter: V.parseJson(values.filter, "The filter"),
        enabled: values.enabled === "true",
      };
      if (sub) {
        var changed = await V.api("PATCH", "/system/events/subscriptions/" + sub.id, body);
        V.toast("Subscription " + changed.id + " saved.");
        editor.hidden = true;
      } else {
        body.name = values.name;
        var created = await V.post("/system/events/subscriptions", body);
        V.toast("Subscription " + created.id + " created.");
        node.reset();
      }
      await loadSubscriptions();
    }, prefix + "form");
    if (sub) form.querySelector("select").value = String(sub.enabled);
    return sub ? form : V.h("div", { class: "card" }, V.h("h2", { text: "New subscription" }), form);
  }

  function edit(sub) {
    editor.hidden = false;
    V.clear(editor).appendChild(V.h("h2", { text: "Edit subscription " + sub.id + ": " + sub.name }));
    editor.appendChild(subscriptionForm(sub));
    editor.appendChild(V.h("button", { type: "button", class: "secondary", text: "Cancel",
      on: { click: function () { editor.hidden = true; } } }));
  }

  function subscriptionActions(sub) {
    if (!V.can("admin")) return "";
    var wanted = typeNames.filter(function (name) {
      return sub.event_types.some(function (pattern) { return V.patternMatches(pattern, name); });
    });
    var choice = V.h("select", { class: "test-type", "data-sub": sub.id },
      wanted.map(function (name) { return V.h("option", { value: name, text: name }); }));
    return V.h("div", { class: "actions" }, choice,
      V.h("button", { type: "button", class: "secondary send-test", "data-sub": sub.id, text: "Send test",
        on: { click: V.act(async function () {
          var sent = await V.post("/system/events/subscriptions/" + sub.id + "/test", { event_type: choice.value });
          V.toast("Test event " + sent.event_id + " sent to " + sent.notification_ids.length + " channel(s).");
          await loadLog();
        }) } }),
      V.h("button", { type: "button", class: "secondary edit-sub", "data-sub": sub.id, text: "Edit",
        on: { click: function () { edit(sub); } } }),
      V.h("button", { type: "button", class: "danger delete-sub", "data-sub": sub.id, text: "Delete",
        on: { click: V.act(async function () {
          if (!window.confirm("Delete subscription " + sub.id + " (" + sub.name + ")?")) return;
          await V.api("DELETE", "/system/events/subscriptions/" + sub.id);
          V.toast("Subscription " + sub.id + " deleted.");
          await loadSubscriptions();
        }) } }));
  }

  async function loadSubscriptions() {
    var page = await V.get("/system/events/subscriptions", { limit: 100 });
    V.clear(subsList).appendChild(V.table([
      ["id", function (s) { return s.id; }],
      ["name", function (s) { return s.name; }],
      ["channels", function (s) { return s.channel_ids.join(", "); }],
      ["event types", function (s) { return s.event_types.join(", "); }],
      ["filter", function (s) { return s.filter ? JSON.stringify(s.filter) : "-"; }],
      ["enabled", function (s) { return s.enabled ? "yes" : "no"; }],
      ["", subscriptionActions],
    ], page.items));
  }

  function resendButton(event) {
    if (!V.can("operator")) return "";
    return V.h("button", { type: "button", class: "secondary resend", "data-event": event.id, text: "Resend",
      on: { click: V.act(async function (click) {
        click.stopPropagation();
        var sent = await V.post("/system/events/" + event.id + "/resend");
        V.toast("Event " + sent.event_id + " resent: " + sent.notification_ids.length + " notification(s).");
        await loadLog();
      }) } });
  }

  async function loadLog() {
    var page = await V.get("/system/events/", {
      type: filters.type, since: filters.since, until: filters.until, limit: 50, cursor: cursors[cursors.length - 1],
    });
    V.clear(logList).appendChild(V.table([
      ["id", function (e) { return e.id; }],
      ["type", function (e) { return e.type; }],
      ["time", function (e) { return V.time(e.time); }],
      ["fan-out", function (e) { return e.fanout; }],
      ["notifications", function (e) { return e.notification_ids.join(", ") || "-"; }],
      ["", resendButton],
    ], page.items, function (e) {
      eventDetail.hidden = false;
      eventDetail.textContent = JSON.stringify(e, null, 2);
    }));
    var nav = V.h("div", { class: "actions" });
    if (cursors.length > 1) nav.appendChild(V.h("button", { type: "button", class: "secondary", text: "Newer", on: { click: V.act(function () { cursors.pop(); return loadLog(); }) } }));
    if (page.next_cursor) nav.appendChild(V.h("button", { type: "button", class: "secondary", text: "Older", on: { click: V.act(function () { cursors.push(page.next_cursor); return loadLog(); }) } }));
    logList.appendChild(nav);
  }

  await Promise.all([loadSubscriptions(), loadLog()]);
  V.every(5000, function () { if (cursors.length === 1) loadLog().catch(function () {}); });
};
