/* The audit log (filters, pages) and API keys (admin: create, revoke). */
"use strict";

V.pages.audit = async function (section) {
  var filters = {};
  var cursors = [null];
  var listSlot = V.h("div", { class: "card" });
  V.append(section, [V.h("h1", { text: "Audit log" }), V.h("div", { class: "card" }, V.form([
    { name: "actor", label: "Actor", id: "audit-actor" },
    { name: "action", label: "Action", id: "audit-action", placeholder: "key.create" },
  ], "Filter", async function (values) { filters = values; cursors = [null]; await load(); }, "audit-form")), listSlot]);

  async function load() {
    var cursor = cursors[cursors.length - 1];
    var page = await V.get("/system/audit", { actor: filters.actor, action: filters.action, limit: 50, cursor: cursor });
    V.clear(listSlot).appendChild(V.table([
      ["at", function (e) { return V.time(e.at); }],
      ["actor", function (e) { return e.actor + " (" + e.role + ")"; }],
      ["action", function (e) { return e.action; }],
      ["resource", function (e) { return e.resource_type + (e.resource_id ? " " + e.resource_id : ""); }],
      ["summary", function (e) { return e.summary; }],
    ], page.items));
    var nav = V.h("div", { class: "actions" });
    if (cursors.length > 1) nav.appendChild(V.h("button", { type: "button", class: "secondary", text: "Newer", on: { click: V.act(function () { cursors.pop(); return load(); }) } }));
    if (page.next_cursor) nav.appendChild(V.h("button", { type: "button", class: "secondary", text: "Older", on: { click: V.act(function () { cursors.push(page.next_cursor); return load(); }) } }));
    listSlot.appendChild(nav);
  }
  await load();
};

V.pages.keys = async function (section) {
  var listSlot = V.h("div", { class: "card" });
  V.append(section, [V.h("h1", { text: "API keys" }), V.h("div", { class: "card" }, V.h("h2", { text: "New key" }), V.form([
    { name: "name", label: "Name", id: "key-name", required: true },
    { name: "role", label: "Role", id: "key-role", options: ["viewer", "operator", "admin"] },
  ], "Create key", async function (values, form) {
    var created = await V.post("/system/keys", { name: values.name, role: values.role });
    V.toast("Key " + created.id + " created. Its token, shown only now: " + created.token);
    form.reset();
    await load();
  }, "key-form")), listSlot]);

  async function load() {
    var page = await V.get("/system/keys", { limit: 100 });
    V.clear(listSlot).appendChild(V.table([
      ["id", function (k) { return k.id; }],
      ["name", function (k) { return k.name; }],
      ["role", function (k) { return k.role; }],
      ["prefix", function (k) { return k.prefix; }],
      ["created", function (k) { return V.time(k.created_at); }],
      ["revoked", function (k) { return V.time(k.revoked_at); }],
      ["", function (k) {
        if (k.revoked_at || k.id === V.me.key_id) return "";
        return V.h("button", { type: "button", class: "danger", text: "Revoke", on: { click: V.act(async function () {
          await V.api("DELETE", "/system/keys/" + k.id);
          V.toast("Key " + k.id + " revoked.");
          await load();
        }) } });
      }],
    ], page.items));
  }
  await load();
};
