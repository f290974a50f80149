// The main menu's groups are <details> drop-downs and work without this file. It adds what a menu is expected
// to do: one group open at a time, closed by a click elsewhere or Escape; on a phone every group stays open.
(function () {
  "use strict";
  var phone = window.matchMedia("(max-width: 720px)");
  function groups() { return Array.prototype.slice.call(document.querySelectorAll(".mainnav details")); }
  function layout() { groups().forEach(function (d) { d.open = phone.matches; }); }
  document.addEventListener("DOMContentLoaded", function () {
    layout();
    if (phone.addEventListener) phone.addEventListener("change", layout);
    groups().forEach(function (d) {
      d.addEventListener("toggle", function () {
        if (d.open && !phone.matches) groups().forEach(function (o) { if (o !== d) o.open = false; });
      });
    });
    document.addEventListener("click", function (e) {
      if (phone.matches) return;
      groups().forEach(function (d) { if (!d.contains(e.target)) d.open = false; });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !phone.matches) groups().forEach(function (d) { d.open = false; });
    });
  });
})();
