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

  // A live refresh of the list (the section asks for itself on `sse:inbox`) re-reads as
  // many rows as are shown, so the rows the agent loaded stay.
  document.addEventListener("htmx:configRequest", (evt) => {
    const elt = evt.detail.elt;
    if (elt && elt.id === "inbox-list" && evt.detail.verb === "get") {
      evt.detail.parameters.loaded = String(document.querySelectorAll("#rows > li.row").length);
    }
  });

  // Keep focus on the same conversation across a refresh.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", (evt) => {
    if (evt.detail.target && evt.detail.target.id === "inbox-list") {
      const row = document.activeElement && document.activeElement.closest && document.activeElement.closest("#rows > li.row");
      focused = row ? row.getAttribute("data-id") : null;
    }
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!focused) return;
    const link = document.querySelector(`#rows > li.row[data-id="${CSS.escape(focused)}"] > a.row-link`);
    focused = null;
    if (link && document.activeElement !== link) link.focus({ preventScroll: true });
  });

  // New customer messages while the tab is hidden: "(3) Inbox · Switchboard".
  let unseen = 0;
  const plainTitle = () => document.title.replace(/^\(\d+\) /, "");
  document.addEventListener("htmx:sseMessage", (evt) => {
    if (!(evt.target instanceof Element) || evt.target.id !== "inbound-events") return;
    if (!document.hidden && document.hasFocus()) return;
    unseen += 1;
    document.title = `(${unseen}) ${plainTitle()}`;
  });
  const reset = () => {
    if (document.hidden) return;
    unseen = 0;
    document.title = plainTitle();
  };
  document.addEventListener("visibilitychange", reset);
  window.addEventListener("focus", reset);
})();
