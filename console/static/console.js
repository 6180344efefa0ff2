// Live parts of the console without reloading: refreshes [data-refresh] regions, counts SLA timers down.
// Fragments come from the server already escaped; nothing a customer wrote is turned into HTML here.
"use strict";
(function () {
  const every = Number(document.body.dataset.refreshMs || 3000);

  function minutes(seconds) {
    const s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (h ? "" : r + "s");
  }

  function tick() {
    const now = Date.now() / 1000;
    for (const el of document.querySelectorAll("[data-due]")) {
      // data-left is business time left when the server rendered it; out of staff hours
      // (data-paused) the clock stands still and the server's text ("paused · starts …") stays.
      if (el.dataset.paused) continue;
      if (!el.dataset.seen) el.dataset.seen = String(now);
      const left = el.dataset.left !== undefined
        ? Number(el.dataset.left) - (now - Number(el.dataset.seen)) : Number(el.dataset.due) - now;
      const words = document.body.dataset;
      el.textContent = left >= 0 ? minutes(left) + " " + (words.left || "left") : (words.overdue || "overdue") + " " + minutes(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 900);
    }
    for (const el of document.querySelectorAll("[data-since]")) {
      el.textContent = minutes(now - Number(el.dataset.since));
    }
  }

  function busy(region) {
    const active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, textarea, select")) return true;
    return [...region.querySelectorAll("input[type=text], input:not([type]), textarea")].some((i) => i.value);
  }

  async function refresh(region) {
    if (document.hidden || busy(region)) return;
    try {
      const response = await fetch(region.dataset.refresh, { headers: { "X-Requested-With": "fetch" }, cache: "no-store" });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      const html = await response.text();
      if (html !== region.dataset.last) {
        const stick = region.scrollTop + region.clientHeight >= region.scrollHeight - 4;
        region.innerHTML = html;
        region.dataset.last = html;
        if (stick) region.scrollTop = region.scrollHeight;
        tick();
      }
    } catch (e) { /* offline for a moment: try again next round */ }
  }

  for (const region of document.querySelectorAll("[data-refresh]")) {
    region.scrollTop = region.scrollHeight;
    setInterval(() => refresh(region), every);
  }
  for (const button of document.querySelectorAll(".canned-reply")) {
    button.addEventListener("click", () => {
      const box = document.getElementById("reply-text");
      box.value = button.dataset.text;
      box.focus();
    });
  }
  tick();
  setInterval(tick, 1000);

  // Keyboard shortcuts: j/k move through a list, Enter opens, r reply, n note, e close, / search, ? help.
  const help = document.getElementById("help");
  let selected = -1;

  function rows() { return [...document.querySelectorAll("[data-keys] tr[data-href]")]; }

  function select(step) {
    const list = rows();
    if (!list.length) return;
    selected = Math.max(0, Math.min(list.length - 1, selected + step));
    list.forEach((row, i) => row.classList.toggle("selected", i === selected));
    list[selected].scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target.matches("input, textarea, select, [contenteditable]");
  }

  function focus(id) {
    const box = document.getElementById(id);
    if (!box) return false;
    box.scrollIntoView({ block: "center" });
    box.focus();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (help && !help.hidden) help.hidden = true;
      else if (typing(event.target)) event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    const actions = {
      j: () => select(1),
      k: () => select(-1),
      Enter: () => { const row = rows()[selected]; if (row) window.location.href = row.dataset.href; },
      r: () => focus("reply-text"),
      n: () => focus("note-text"),
      e: () => { const form = document.getElementById("close-form"); if (form) form.requestSubmit(); },
      "/": () => focus("search") || focus("q"),
      "?": () => { if (help) help.hidden = !help.hidden; },
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
  if (help) help.addEventListener("click", (event) => { if (event.target === help) help.hidden = true; });
})();
