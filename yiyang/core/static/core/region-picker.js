// Region picker: search (server-rendered results via htmx) plus a cascade of selects, one per level.
// Writes the chosen region's code into the hidden input; the server validates it again.
(function () {
  "use strict";

  function setValue(picker, code, path) {
    picker.querySelector("[data-value]").value = code || "";
    picker.querySelector("[data-path]").textContent = path || picker.dataset.emptyLabel || "—";
    picker.querySelector("[data-clear]").hidden = !code;
  }

  async function children(picker, parent) {
    const url = picker.dataset.api + "?parent=" + encodeURIComponent(parent || "");
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok) return [];
    return res.json();
  }

  async function addLevel(picker, cascade, parent, depth) {
    // Remove deeper selects, then add one for the children of `parent`.
    Array.from(cascade.querySelectorAll("select")).forEach(function (s) {
      if (Number(s.dataset.depth) >= depth) s.remove();
    });
    const rows = await children(picker, parent);
    if (!rows.length) return;
    const select = document.createElement("select");
    select.dataset.depth = String(depth);
    select.setAttribute("aria-label", picker.dataset.levelLabel || "");
    const blank = document.createElement("option");
    blank.value = "";
    blank.textContent = "—";
    select.appendChild(blank);
    rows.forEach(function (r) {
      const o = document.createElement("option");
      o.value = r.code;
      o.textContent = r.name;
      o.dataset.hasChildren = r.has_children ? "1" : "";
      select.appendChild(o);
    });
    select.addEventListener("change", function () {
      const chosen = select.selectedOptions[0];
      const selects = Array.from(cascade.querySelectorAll("select")).filter(function (s) {
        return Number(s.dataset.depth) <= depth && s.value;
      });
      const names = selects.map(function (s) { return s.selectedOptions[0].textContent; });
      const rootPath = cascade.dataset.rootPath;
      const path = (rootPath ? [rootPath] : []).concat(names).join("/");
      if (select.value) {
        setValue(picker, select.value, path);
        if (chosen.dataset.hasChildren) addLevel(picker, cascade, select.value, depth + 1);
        else addLevel(picker, cascade, "__leaf__", depth + 1);
      } else {
        const prev = selects.length ? selects[selects.length - 1] : null;
        setValue(picker, prev ? prev.value : cascade.dataset.root, prev ? path : rootPath);
        addLevel(picker, cascade, "__leaf__", depth + 1);
      }
    });
    cascade.appendChild(select);
  }

  function init(picker) {
    if (picker.dataset.ready) return;
    picker.dataset.ready = "1";
    picker.dataset.emptyLabel = picker.querySelector("[data-path]").textContent;
    const cascade = picker.querySelector("[data-cascade]");
    addLevel(picker, cascade, cascade.dataset.root, 0);
    picker.addEventListener("click", function (ev) {
      const choice = ev.target.closest(".rp-choice");
      if (choice) {
        setValue(picker, choice.dataset.code, choice.dataset.path);
        picker.querySelector(".rp-results").innerHTML = "";
        picker.querySelector(".rp-search").value = "";
      }
      if (ev.target.closest("[data-clear]")) setValue(picker, "", "");
    });
    // Enter in the search box picks the first result instead of submitting the form.
    picker.querySelector(".rp-search").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        const first = picker.querySelector(".rp-choice");
        if (first) first.click();
      }
    });
  }

  function initAll(root) {
    (root || document).querySelectorAll("[data-region-picker]").forEach(init);
  }
  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:load", function (ev) { initAll(ev.target); });
})();
