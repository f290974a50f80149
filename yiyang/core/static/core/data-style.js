// The Content-Security-Policy refuses style="" attributes in markup. The few values that come from data (a
// bar's length, a route's colour) are written as data-* attributes and applied here through the DOM, which
// the policy allows. Runs on load and on every htmx swap.
(function () {
  "use strict";
  function apply(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-bar-percent]").forEach(function (el) {
      var v = parseFloat(el.getAttribute("data-bar-percent"));
      if (isFinite(v)) el.style.width = Math.max(0, Math.min(100, v)) + "%";
    });
    root.querySelectorAll("[data-swatch]").forEach(function (el) {
      var c = el.getAttribute("data-swatch");
      if (/^#[0-9a-fA-F]{3,8}$/.test(c)) el.style.backgroundColor = c;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { apply(document); });
  document.addEventListener("htmx:load", function (ev) { apply(ev.target); });
})();
