/* Valhalla Ops console: the core (API calls, session, role, DOM helpers, router). Plain scripts, one namespace. */
"use strict";
var V = (window.V = window.V || {});

V.BASE = location.pathname.replace(/\/console\/?$/, "");
V.KEY_NAME = "valhalla.apiKey";
V.RANKS = { viewer: 1, operator: 2, admin: 3 };
V.me = null;
V.mode = null;
V.timers = [];
V.pages = {};

V.key = function () { return sessionStorage.getItem(V.KEY_NAME); };

V.can = function (role) { return !!V.me && V.RANKS[V.me.role] >= V.RANKS[role]; };

/* Errors carry the API's status and detail ({"status_code", "detail"}). */
V.ApiError = function (status, detail) {
  this.status = status;
  this.detail = detail;
  this.message = V.describe(detail);
};

V.describe = function (detail) {
  if (Array.isArray(detail)) {
    return detail.map(function (item) { return (item.loc || []).join(".") + ": " + item.msg; }).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
};

V.api = async function (method, path, body, params) {
  var url = V.BASE + path;
  if (params) {
    var query = new URLSearchParams();
    Object.keys(params).forEach(function (name) {
      if (params[name] !== null && params[name] !== undefined && params[name] !== "") query.set(name, params[name]);
    });
    if (query.toString()) url += "?" + query.toString();
  }
  var init = { method: method, headers: { Authorization: "Bearer " + V.key() }, cache: "no-store" };
  if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  var response = await fetch(url, init);
  var text = await response.text();
  var data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401) V.signOut("Your key was refused (401). Sign in again.");
    throw new V.ApiError(response.status, data && data.detail !== undefined ? data.detail : response.statusText);
  }
  return data;
};
V.get = function (path, params) { return V.api("GET", path, null, params); };
V.post = function (path, body) { return V.api("POST", path, body || {}); };

/* h("tag", {attr: value, on: {click: fn}}, child...) builds an element; text is always text, never HTML. */
V.h = function (tag, attrs) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (name) {
    var value = attrs[name];
    if (name === "on") Object.keys(value).forEach(function (event) { node.addEventListener(event, value[event]); });
    else if (name === "text") node.textContent = value;
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, String(value));
  });
  for (var i = 2; i < arguments.length; i++) V.append(node, arguments[i]);
  return node;
};
V.append = function (node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) child.forEach(function (item) { V.append(node, item); });
  else node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
};
V.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };

V.fmt = function (value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};
V.time = function (iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-"; };
V.statusCell = function (status) { return V.h("td", { class: "status-" + status, "data-status": status, text: status }); };

V.table = function (columns, rows, onRow) {
  var head = V.h("tr", {}, columns.map(function (column) { return V.h("th", { text: column[0] }); }));
  var body = V.h("tbody", {});
  rows.forEach(function (row) {
    var cells = columns.map(function (column) {
      var value = column[1](row);
      return value instanceof Node && value.tagName === "TD" ? value : V.h("td", {}, value instanceof Node ? value : V.fmt(value));
    });
    var tr = V.h("tr", onRow ? { class: "clickable", on: { click: function () { onRow(row); } } } : {}, cells);
    body.appendChild(tr);
  });
  if (!rows.length) body.appendChild(V.h("tr", {}, V.h("td", { colspan: columns.length, class: "muted", text: "Nothing here." })));
  return V.h("table", {}, V.h("thead", {}, head), body);
};

V.toast = function (message, isError) {
  var toast = document.getElementById("toast");
  toast.textContent = message;
  toast.className = "toast" + (isError ? " error" : "");
  toast.hidden = false;
  clearTimeout(V.toastTimer);
  V.toastTimer = setTimeout(function () { toast.hidden = true; }, isError ? 8000 : 4000);
};
V.fail = function (error) {
  var status = error && error.status ? " (" + error.status + ")" : "";
  V.toast("Refused" + status + ": " + (error && error.message ? error.message : String(error)), true);
};
/* Run an action; show its refusal as a toast instead of losing it. */
V.act = function (fn) {
  return async function (event) {
    if (event && event.preventDefault) event.preventDefault();
    try { await fn(event); } catch (error) { V.fail(error); }
  };
};

V.every = function (ms, fn) { V.timers.push(setInterval(fn, ms)); };
V.stopTimers = function () { V.timers.forEach(clearInterval); V.timers = []; };

V.form = function (fields, submitLabel, onSubmit, id) {
  var inputs = {};
  var labels = fields.map(function (field) {
    var input;
    if (field.options) {
      input = V.h("select", { name: field.name, id: field.id }, field.options.map(function (option) {
        return V.h("option", { value: option, text: option === "" ? "(any)" : option });
      }));
    } else {
      input = V.h(field.multiline ? "textarea" : "input", {
        name: field.name, id: field.id, type: field.type || "text", placeholder: field.placeholder || "",
        required: !!field.required, value: field.value,
      });
      if (field.multiline && field.value !== undefined) input.value = field.value; /* a textarea has no value attribute */
    }
    inputs[field.name] = input;
    return V.h("label", {}, field.label, input);
  });
  var form = V.h("form", { class: "inline", id: id }, labels, V.h("button", { type: "submit", text: submitLabel }));
  form.addEventListener("submit", V.act(async function () {
    var values = {};
    Object.keys(inputs).forEach(function (name) { values[name] = inputs[name].value.trim(); });
    await onSubmit(values, form);
  }));
  return form;
};
