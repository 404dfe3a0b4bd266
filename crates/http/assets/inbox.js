// The inbox page (crates/http/templates/console/inbox*.html) and the header's inbox
// controls (base.html): keyboard shortcuts, the help overlay, the live list and the
// unread count in the tab title. Wired by ids and data attributes, no inline script.
"use strict";

(() => {
  const typing = (t) =>
    t instanceof Element && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

  // The list's row links, in order.
  const rowLinks = () => Array.from(document.querySelectorAll("#rows > li.row > a.row-link"));

  // j / k: move focus through the rows.
  function move(delta) {
    const links = rowLinks();
    if (links.length === 0) return false;
    const at = links.indexOf(document.activeElement);
    const next = at < 0 ? (delta > 0 ? 0 : links.length - 1) : Math.min(Math.max(at + delta, 0), links.length - 1);
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  // The help overlay (<dialog id="shortcuts"> in base.html).
  function toggleHelp() {
    const dialog = document.getElementById("shortcuts");
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  document.addEventListener("click", (evt) => {
    const t = evt.target instanceof Element ? evt.target : null;
    if (!t) return;
    const opener = t.closest("[data-open-dialog]");
    if (opener) {
      const d = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (d && !d.open) d.showModal();
      return;
    }
    const closer = t.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog")?.close();
  });

  document.addEventListener("keydown", (evt) => {
    if (evt.defaultPrevented || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    const t = evt.target;
    if (typing(t)) {
      // Esc leaves the inbox's search and filters.
      if (evt.key === "Escape" && t.closest("#filters")) t.blur();
      return;
    }
    const helpOpen = document.getElementById("shortcuts")?.open;
    if (evt.key === "?") {
      evt.preventDefault();
      toggleHelp();
      return;
    }
    if (helpOpen) return;
    switch (evt.key) {
      case "j":
        if (move(1)) evt.preventDefault();
        break;
      case "k":
        if (move(-1)) evt.preventDefault();
        break;
      case "n": {
        const claim = document.getElementById("claim-next");
        if (claim) {
          evt.preventDefault();
          claim.click();
        }
        break;
      }
      default:
    }
  });

  // Runs `fn` at once, then at most every `ms` while calls keep coming, and once more
  // after the last (so the final state is always fetched).
  function throttle(fn, ms) {
    let last = 0;
    let timer = null;
    return () => {
      if (timer) return;
      const wait = Math.max(0, last + ms - Date.now());
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, wait);
    };
  }

  const list = () => document.getElementById("inbox-list");

  // The list's first rows again, as many as the agent has loaded.
  const refreshList = throttle(() => {
    const l = list();
    if (!l) return;
    const loaded = document.querySelectorAll("#rows > li.row").length;
    htmx.ajax("GET", `${l.getAttribute("data-view-url")}&loaded=${loaded}`, { source: l, target: "#inbox-list", swap: "outerHTML" });
  }, 300);

  // The nav with every view's count (a heavier query: at most every 5 s).
  function countNow() {
    const l = list();
    if (!l || !document.getElementById("views")) return;
    htmx.ajax("GET", l.getAttribute("data-view-url"), { source: "#views", target: "#views", swap: "outerHTML" });
  }
  const refreshCounts = throttle(countNow, 5000);

  // A page whose nav has no counts yet asks for them.
  htmx.onLoad((elt) => {
    if (elt instanceof Element && (elt.matches("#views[data-counts-pending]") || elt.querySelector("#views[data-counts-pending]"))) {
      countNow();
    }
  });

  // A view change or new filters: the nav follows (current view, links, counts).
  document.addEventListener("htmx:afterSwap", (evt) => {
    const src = evt.detail.elt;
    if (evt.detail.target && evt.detail.target.id === "inbox-list" && src instanceof Element && src.closest("#views, #filters")) {
      countNow();
    }
  });

  // Back to the inbox from the browser's back-forward cache: the list and counts may
  // have changed meanwhile (opening a conversation sees its mentions, which takes it out
  // of Mentions). htmx's own history keeps no snapshots (historyCacheSize 0): going back
  // re-reads the page, whose nav then asks for fresh counts.
  window.addEventListener("pageshow", (evt) => {
    if (!evt.persisted || !list()) return;
    refreshList();
    countNow();
  });

  // Keep focus on the same conversation across a refresh.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", (evt) => {
    if (evt.detail.target && evt.detail.target.id === "inbox-list") {
      const a = document.activeElement;
      const row = a && a.closest ? a.closest("#rows > li.row") : null;
      focused = row ? row.getAttribute("data-id") : null;
    }
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!focused) return;
    const link = document.querySelector(`#rows > li.row[data-id="${CSS.escape(focused)}"] > a.row-link`);
    focused = null;
    if (link && document.activeElement !== link) link.focus({ preventScroll: true });
  });

  // The stream's events (base.html's #live-events): the list and counts follow changes;
  // new customer messages while the tab is hidden show in its title: "(3) Inbox · Switchboard".
  let unseen = 0;
  let stale = false;
  const plainTitle = () => document.title.replace(/^\(\d+\) /, "");
  document.addEventListener("htmx:sseMessage", (evt) => {
    if (!(evt.target instanceof Element) || evt.target.id !== "live-events") return;
    if (evt.detail.type === "inbox") {
      // A hidden tab catches up when shown, instead of asking on every change.
      if (document.hidden) stale = true;
      else {
        refreshList();
        refreshCounts();
      }
    } else if (evt.detail.type === "inbound" && (document.hidden || !document.hasFocus())) {
      unseen += 1;
      document.title = `(${unseen}) ${plainTitle()}`;
    }
  });
  const reset = () => {
    if (document.hidden) return;
    unseen = 0;
    document.title = plainTitle();
    if (stale) {
      stale = false;
      refreshList();
      refreshCounts();
    }
  };
  document.addEventListener("visibilitychange", reset);
  window.addEventListener("focus", reset);
})();
