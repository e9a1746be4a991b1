/* The shell: sign-in, the mode banner, navigation between pages. */
"use strict";

V.signOut = function (message) {
  sessionStorage.removeItem(V.KEY_NAME);
  V.me = null;
  V.stopTimers();
  V.showSignIn(message);
};

V.showSignIn = function (message) {
  document.getElementById("main").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("banner").hidden = true;
  document.getElementById("sign-in").hidden = false;
  var error = document.getElementById("sign-in-error");
  error.hidden = !message;
  error.textContent = message || "";
};

V.refreshMode = async function () {
  var state = await V.get("/system/maintenance/state");
  V.mode = state;
  var banner = document.getElementById("banner");
  if (state.mode === "normal") {
    banner.hidden = true;
  } else {
    banner.hidden = false;
    banner.className = "banner " + state.mode;
    banner.textContent = "System is in " + state.mode.replace("_", "-") + " mode: writes are refused." +
      (state.reason ? " Reason: " + state.reason : "") + (state.ends_at ? " Until " + V.time(state.ends_at) + "." : "");
  }
  document.dispatchEvent(new CustomEvent("valhalla:mode", { detail: state }));
  return state;
};

V.start = async function () {
  try {
    V.me = await V.get("/system/me");
  } catch (error) {
    if (error.status !== 401) V.showSignIn("Cannot sign in: " + error.message);
    return;
  }
  document.getElementById("sign-in").hidden = true;
  document.getElementById("main").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("who").textContent = V.me.name + " (" + V.me.role + ")";
  document.querySelectorAll("[data-min-role]").forEach(function (node) {
    node.hidden = !V.can(node.getAttribute("data-min-role"));
  });
  V.refreshMode().catch(V.fail);
  setInterval(function () { if (V.me) V.refreshMode().catch(function () {}); }, 10000);
  V.route();
};

V.route = function () {
  if (!V.me) return;
  var name = (location.hash || "#overview").slice(1).split("/")[0];
  var page = V.pages[name] ? name : "overview";
  var link = document.querySelector('nav a[data-page="' + page + '"]');
  if (link && link.hidden) page = "overview";
  V.stopTimers();
  document.querySelectorAll(".page").forEach(function (section) { section.hidden = section.id !== "page-" + page; });
  document.querySelectorAll("nav a").forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-page") === page); });
  var section = V.clear(document.getElementById("page-" + page));
  Promise.resolve(V.pages[page](section)).catch(V.fail);
};
