// plait console: local times, theme, keyboard navigation, selections and live updates.
// Everything works without this script; it only makes the pages nicer to use.
(function () {
  "use strict";

  // -- times in the viewer's time zone (UTC stays in the title) ---------------------------
  const local = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const moment = new Date(el.getAttribute("datetime"));
      if (!isNaN(moment)) { el.textContent = local.format(moment); }
    });
  }

  // -- theme: the system's, unless the viewer picked one -----------------------------------
  const saved = localStorage.getItem("plait-theme");
  if (saved) { document.documentElement.dataset.theme = saved; }
  function toggleTheme() {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("plait-theme", next);
  }

  // -- keyboard ------------------------------------------------------------------------------
  const jumps = { o: "/", w: "/workflows", r: "/runs", e: "/events", i: "/inbox", s: "/schedules" };
  let pendingG = false;
  function rows() { return Array.from(document.querySelectorAll("tr[data-href]")); }
  function moveRow(step) {
    const all = rows();
    if (!all.length) { return; }
    let at = all.findIndex(function (r) { return r.classList.contains("selected"); });
    if (at >= 0) { all[at].classList.remove("selected"); }
    at = Math.max(0, Math.min(all.length - 1, at + step));
    all[at].classList.add("selected");
    all[at].scrollIntoView({ block: "nearest" });
  }
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    if (pendingG) {
      pendingG = false;
      if (jumps[ev.key]) { window.location.href = jumps[ev.key]; ev.preventDefault(); }
      return;
    }
    if (ev.key === "g") { pendingG = true; return; }
    if (ev.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { search.focus(); ev.preventDefault(); }
    } else if (ev.key === "j") { moveRow(1); } else if (ev.key === "k") { moveRow(-1); }
    else if (ev.key === "Enter") {
      const row = document.querySelector("tr.selected[data-href]");
      if (row) { window.location.href = row.dataset.href; }
    } else if (ev.key === "?") {
      const help = document.getElementById("keys-help");
      if (help && help.showModal) { help.showModal(); }
    }
  });

  // -- clicking a row opens it (its first link stays the accessible way) -----------------------
  document.addEventListener("click", function (ev) {
    const toggle = ev.target.closest("[data-theme-toggle]");
    if (toggle) { toggleTheme(); return; }
    const all = ev.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("input[name='" + all.dataset.selectAll + "']").forEach(function (box) {
        box.checked = all.checked;
      });
      return;
    }
    const row = ev.target.closest("tr[data-href]");
    if (row && !ev.target.closest("a, button, input, label, select, summary, details")) {
      window.location.href = row.dataset.href;
    }
  });

  // -- confirmations for destructive buttons ---------------------------------------------------
  document.addEventListener("submit", function (ev) {
    const button = ev.submitter;
    const message = (button && button.dataset.confirm) || ev.target.dataset.confirm;
    if (message && !window.confirm(message)) { ev.preventDefault(); }
  });

  // -- live parts: an element with data-live="SSE url" is re-fetched when its stream speaks ----
  function live(root) {
    root.querySelectorAll("[data-live]").forEach(function (el) {
      if (el.plaitSource || !window.EventSource) { return; }
      const source = new EventSource(el.dataset.live);
      el.plaitSource = source;
      let timer = null;
      const refresh = function () {
        if (timer) { return; }
        timer = setTimeout(function () {
          timer = null;
          if (!document.body.contains(el)) { source.close(); return; }
          const url = el.dataset.liveFrom || window.location.href;
          fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (html) {
              if (html === null) { return; }
              const doc = new DOMParser().parseFromString(html, "text/html");
              const fresh = doc.getElementById(el.id);
              if (!fresh) { return; }
              const open = Array.from(el.querySelectorAll("details[open][id]")).map(function (d) { return d.id; });
              const picked = Array.from(el.querySelectorAll("input[type=checkbox][name]:checked")).map(function (b) { return b.name + "\n" + b.value; });
              el.innerHTML = fresh.innerHTML;
              open.forEach(function (id) { const d = document.getElementById(id); if (d) { d.open = true; } });
              el.querySelectorAll("input[type=checkbox][name]").forEach(function (b) { if (picked.indexOf(b.name + "\n" + b.value) >= 0) { b.checked = true; } });
              el.dispatchEvent(new CustomEvent("plait:refreshed", { bubbles: true }));
              localTimes(el);
              if (window.htmx) { window.htmx.process(el); }
            });
        }, 1000);
      };
      source.onmessage = refresh;
      ["run", "step", "progress", "event", "end"].forEach(function (name) {
        source.addEventListener(name, refresh);
      });
      window.addEventListener("beforeunload", function () { source.close(); });
    });
  }

  function ready(root) { localTimes(root); live(root); }
  document.addEventListener("DOMContentLoaded", function () { ready(document); });
  document.addEventListener("htmx:load", function (ev) { ready(ev.target); });
})();
