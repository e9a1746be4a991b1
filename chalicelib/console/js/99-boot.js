/* Start: sign in from session storage, or ask for a key. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  document.getElementById("sign-in-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("api-key");
    sessionStorage.setItem(V.KEY_NAME, input.value.trim());
    input.value = "";
    V.start();
  });
  document.getElementById("sign-out").addEventListener("click", function () { V.signOut(); });
  window.addEventListener("hashchange", V.route);
  if (V.key()) V.start(); else V.showSignIn();
});
