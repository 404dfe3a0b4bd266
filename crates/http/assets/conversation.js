// The conversation page (crates/http/templates/console/conversation*.html): wired by data attributes, no inline script.
"use strict";
(() => {
  const conv = () => document.getElementById("conv");

  // ---- Times: shown in the browser's time zone. ----
  const fmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      const d = new Date(t.getAttribute("datetime"));
      if (Number.isNaN(d.getTime())) return;
      if (t.textContent.trim() !== "") t.textContent = fmt.format(d);
      t.title = d.toLocaleString();
    });
  }

  // ---- The thread: keep the view at the bottom when it was there. ----
  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }
  function toBottom() {
    const thread = document.getElementById("thread");
    if (thread && thread.lastElementChild) thread.lastElementChild.scrollIntoView({ block: "end" });
  }

  // Merges a re-read tail into the thread, item by item: unchanged items stay (no
  // re-announcement, no jump), changed ones are replaced, new ones appended.
  function mergeTail(html) {
    const thread = document.getElementById("thread");
    if (!thread) return;
    const doc = new DOMParser().parseFromString(`<ol>${html}</ol>`, "text/html");
    const fresh = Array.from(doc.querySelectorAll("ol > li[id]"));
    const stay = atBottom();
    for (const li of fresh) {
      const old = document.getElementById(li.id);
      if (old && old.parentElement === thread) {
        if (old.outerHTML !== li.outerHTML) {
          const node = document.importNode(li, true);
          old.replaceWith(node);
          localTimes(node);
          if (window.htmx) window.htmx.process(node);
        }
      } else {
        const node = document.importNode(li, true);
        thread.append(node);
        localTimes(node);
        if (window.htmx) window.htmx.process(node);
      }
    }
    if (stay) toBottom();
  }

  let refreshing = null;
  let again = false;
  async function refreshThread() {
    const thread = document.getElementById("thread");
    if (!thread) return;
    if (refreshing) { again = true; return; }
    refreshing = fetch(thread.dataset.tailUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(async (res) => {
        if (!res.ok) return;
        if (res.headers.get("X-Thread-Reload")) { window.location.reload(); return; }
        windowChanged(res.headers.get("X-Window-Closes-At"));
        mergeTail(await res.text());
      })
      .catch(() => {})
      .finally(() => {
        refreshing = null;
        if (again) { again = false; refreshThread(); }
      });
  }

  // The live stream's event for this conversation: re-read the tail ourselves.
  document.addEventListener("htmx:beforeRequest", (evt) => {
    if (evt.target instanceof Element && evt.target.matches("[data-thread-refresh]")) {
      evt.preventDefault();
      refreshThread();
    }
  });
  // A send succeeded (HX-Trigger: sb-thread).
  document.addEventListener("sb-thread", () => refreshThread());

  // ---- The composer. ----
  const composer = () => document.getElementById("composer");
  const textarea = () => document.getElementById("composer-text");
  const noteMode = () => { const t = document.querySelector("[data-note-toggle]"); return !!(t && t.checked); };

  function newKey(form) {
    const k = form.querySelector("[data-idempotency-key]");
    if (k) k.value = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  }

  // After a successful send: clear the field (on failure it keeps what was typed).
  document.addEventListener("htmx:afterRequest", (evt) => {
    const form = evt.detail.elt;
    if (!(form instanceof HTMLFormElement) || !evt.detail.successful) return;
    if (form.id === "composer" || form.id === "template-form") {
      form.reset();
      newKey(form);
      setReplyTo(null);
      setMode();
      preview();
      if (form.id === "composer") textarea().focus();
      // The picker starts again from "Choose…".
      const fields = form.querySelector("#template-fields");
      if (fields) fields.replaceChildren();
    }
  });

  // ---- The template picker: a refusal's field errors go next to the inputs they name
  // (the error page lists them as `li[data-field]`; console.js also shows them in #flash). ----
  function clearFieldErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((p) => { p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  }
  document.addEventListener("htmx:beforeRequest", (evt) => {
    const form = evt.detail.elt;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-template-picker")) clearFieldErrors(form);
  });
  document.addEventListener("htmx:responseError", (evt) => {
    const form = evt.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-template-picker")) return;
    const doc = new DOMParser().parseFromString(evt.detail.xhr.responseText || "", "text/html");
    let first = null;
    doc.querySelectorAll("#error-fields li[data-field]").forEach((li) => {
      const field = li.dataset.field;
      const slot = Array.from(form.querySelectorAll("[data-error-for]")).find((p) => p.dataset.errorFor === field);
      if (!slot) return;
      const strong = li.querySelector("strong");
      slot.textContent = li.textContent.slice(strong ? strong.textContent.length : 0).replace(/^:\s*/, "");
      const input = Array.from(form.querySelectorAll("[data-field]")).find((i) => i.dataset.field === field);
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    });
    if (first) first.focus();
  });

  function setMode() {
    const form = composer();
    if (!form) return;
    const note = noteMode();
    form.classList.toggle("note-mode", note);
    const t = textarea();
    t.placeholder = note ? t.dataset.placeholderNote : t.dataset.placeholderReply;
    document.querySelector("[data-text-label]").textContent = note ? "Private note for agents" : "Reply to the customer";
    // A note can be written whatever the window.
    t.disabled = !note && form.hasAttribute("data-closed");
    hideSuggest();
  }
  document.addEventListener("change", (evt) => {
    if (evt.target.matches && evt.target.matches("[data-note-toggle]")) setMode();
  });

  // Quoting a message.
  function setReplyTo(id) {
    const field = document.querySelector("[data-reply-to-field]");
    const banner = document.querySelector("[data-replying]");
    if (!field || !banner) return;
    field.value = id ? id.replace(/^m-/, "") : "";
    banner.hidden = !id;
  }
  document.addEventListener("click", (evt) => {
    const quote = evt.target.closest && evt.target.closest("[data-reply-to]");
    if (quote) { setReplyTo(quote.dataset.replyTo); textarea().focus(); return; }
    if (evt.target.closest && evt.target.closest("[data-reply-cancel]")) setReplyTo(null);
  });

  // ---- Suggestions: `/` quick replies at the start, `@` mentions in a note. ----
  let suggest = null; // { list, start, items, index }
  function hideSuggest() {
    document.querySelectorAll(".suggest").forEach((l) => { l.hidden = true; });
    const t = textarea();
    if (t) { t.removeAttribute("aria-activedescendant"); t.setAttribute("aria-expanded", "false"); }
    suggest = null;
  }
  function showSuggest(list, start, query) {
    const q = query.toLowerCase();
    const items = Array.from(list.children).filter((li) => {
      const match = li.dataset.match.toLowerCase().includes(q);
      li.hidden = !match;
      li.classList.remove("active");
      return match;
    });
    if (items.length === 0) { hideSuggest(); return; }
    document.querySelectorAll(".suggest").forEach((l) => { if (l !== list) l.hidden = true; });
    list.hidden = false;
    items.forEach((li, i) => { li.id = li.id || `${list.id}-${i}`; });
    suggest = { list, start, items, index: 0 };
    highlight();
  }
  function highlight() {
    if (!suggest) return;
    suggest.items.forEach((li, i) => li.classList.toggle("active", i === suggest.index));
    const t = textarea();
    t.setAttribute("aria-expanded", "true");
    t.setAttribute("aria-activedescendant", suggest.items[suggest.index].id);
  }
  // A quick reply's text as it will be sent, filled in for this contact by the server.
  let previewFor = "";
  async function preview() {
    const box = document.getElementById("qr-preview");
    const t = textarea();
    if (!box || !t) return;
    const m = /^\/([^\s]+)\s*$/.exec(t.value);
    const form = composer();
    if (!m || noteMode() || !form.querySelector("#quick-replies [data-insert='/" + CSS.escape(m[1]) + "']")) {
      box.hidden = true; box.replaceChildren(); previewFor = ""; return;
    }
    if (previewFor === m[1]) return;
    previewFor = m[1];
    const id = conv().dataset.conversation;
    try {
      const res = await fetch(`/c/${id}/quick-reply?shortcut=${encodeURIComponent(m[1])}`, { headers: { "HX-Request": "true" } });
      if (!res.ok || previewFor !== m[1]) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      box.replaceChildren(...Array.from(doc.body.childNodes).map((n) => document.importNode(n, true)));
      box.hidden = false;
    } catch (_) { /* the preview is a convenience */ }
  }

  function choose(li) {
    const t = textarea();
    const s = suggest;
    if (!s) return;
    const before = t.value.slice(0, s.start);
    const after = t.value.slice(t.selectionStart);
    const insert = li.dataset.insert + " ";
    t.value = before + insert + after.replace(/^\S*/, "");
    const pos = (before + insert).length;
    t.setSelectionRange(pos, pos);
    hideSuggest();
    t.focus();
    preview();
  }
  document.addEventListener("input", (evt) => {
    const t = evt.target;
    if (t.id !== "composer-text") return;
    preview();
    const upto = t.value.slice(0, t.selectionStart);
    if (!noteMode()) {
      const m = /^\/(\S*)$/.exec(upto);
      if (m) { showSuggest(document.getElementById("quick-replies"), 0, m[1]); return; }
    } else {
      const m = /(^|\s)@([^\s@]*)$/.exec(upto);
      if (m) { showSuggest(document.getElementById("mentions"), upto.length - m[2].length - 1, m[2]); return; }
    }
    hideSuggest();
  });
  document.addEventListener("mousedown", (evt) => {
    const li = evt.target.closest && evt.target.closest(".suggest [role=option]");
    if (li) { evt.preventDefault(); choose(li); }
  });

  // ---- The window's countdown. ----
  function windowChanged(closesAt) {
    const form = composer();
    if (!form || !closesAt) return;
    if (closesAt === "closed") {
      if (!form.hasAttribute("data-closed")) { form.dataset.closesAt = ""; closeWindow(); }
    } else if (form.dataset.closesAt !== closesAt) {
      form.dataset.closesAt = closesAt;
      form.removeAttribute("data-closed");
      const box = document.getElementById("template-box");
      if (box) { box.classList.remove("prominent"); box.open = false; }
      setMode();
      tick();
    }
  }
  function closeWindow() {
    const form = composer();
    form.setAttribute("data-closed", "");
    const state = document.getElementById("window-state");
    if (state) state.textContent = "The customer-service window has closed: free text can no longer be sent; send a template. What you typed is kept.";
    const box = document.getElementById("template-box");
    if (box) { box.classList.add("prominent"); box.open = true; }
    setMode();
  }
  function tick() {
    const form = composer();
    if (!form || !form.dataset.closesAt) return;
    const left = new Date(form.dataset.closesAt).getTime() - Date.now();
    const state = document.getElementById("window-state");
    if (left <= 0) { closeWindow(); return; }
    const h = Math.floor(left / 3600000);
    const m = Math.floor((left % 3600000) / 60000);
    const s = Math.floor((left % 60000) / 1000);
    const text = h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min` : `${s} s`;
    if (state) state.textContent = `The window closes in ${text}.`;
    form.classList.toggle("closing", left < 3600000);
  }
  setInterval(tick, 1000);

  // ---- Files: posted as they are to the API's attachments route (the session's cookie
  // and CSRF token), which checks them, uploads them to Meta and queues the message. ----
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (_) { return ""; }
  }
  function showProblem(problem, status) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    const p = document.createElement("p");
    p.textContent = (problem && problem.detail) || `The file was not sent (${status || "no answer"}).`;
    flash.replaceChildren(p);
    if (problem && Array.isArray(problem.errors)) {
      const ul = document.createElement("ul");
      for (const e of problem.errors) {
        const li = document.createElement("li");
        li.textContent = `${e.field}: ${e.message}`;
        ul.append(li);
      }
      flash.append(ul);
    }
  }
  document.addEventListener("submit", async (evt) => {
    const form = evt.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "attach-form") return;
    evt.preventDefault();
    const input = form.querySelector("input[type=file]");
    const file = input && input.files && input.files[0];
    if (!file) return;
    const button = form.querySelector("[data-attach-send]");
    const url = new URL(form.dataset.attachUrl, window.location.origin);
    url.searchParams.set("filename", file.name);
    const caption = form.querySelector("[name=caption]").value.trim();
    if (caption) url.searchParams.set("caption", caption);
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const res = await fetch(url, {
        method: "POST",
        body: file,
        credentials: "same-origin",
        headers: {
          "Content-Type": file.type || "application/octet-stream",
          "X-CSRF-Token": csrfToken(),
          "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(),
        },
      });
      if (res.ok) {
        form.reset();
        const flash = document.getElementById("flash");
        if (flash) flash.replaceChildren();
        refreshThread();
      } else {
        let problem = null;
        try { problem = await res.json(); } catch (_) { /* not JSON */ }
        showProblem(problem, res.status);
      }
    } catch (_) {
      showProblem(null, 0);
    } finally {
      button.disabled = false;
      button.textContent = "Send file";
    }
  });

  // ---- Keyboard. ----
  document.addEventListener("keydown", (evt) => {
    const t = evt.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (t && t.id === "composer-text") {
      if (suggest) {
        if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
          evt.preventDefault();
          const n = suggest.items.length;
          suggest.index = (suggest.index + (evt.key === "ArrowDown" ? 1 : n - 1)) % n;
          highlight();
          return;
        }
        if (evt.key === "Enter" || evt.key === "Tab") { evt.preventDefault(); choose(suggest.items[suggest.index]); return; }
        if (evt.key === "Escape") { evt.preventDefault(); hideSuggest(); return; }
      }
      if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
        evt.preventDefault();
        const form = composer();
        if (t.value.trim() !== "") form.requestSubmit();
        return;
      }
    }
    if (evt.key === "Escape" && typing) { t.blur(); return; }
    if (typing || evt.ctrlKey || evt.metaKey || evt.altKey || !conv()) return;
    // A form swapped in a moment ago may not be htmx's yet (it settles it after the swap):
    // clicked before, it would be posted natively, without the CSRF header, and refused.
    const click = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return;
      evt.preventDefault();
      const form = el.closest("form");
      if (form && window.htmx) htmx.process(form);
      el.click();
    };
    switch (evt.key) {
      case "r": evt.preventDefault(); { const n = document.querySelector("[data-note-toggle]"); if (n && n.checked) { n.checked = false; setMode(); } } textarea().focus(); break;
      case "p": evt.preventDefault(); { const n = document.querySelector("[data-note-toggle]"); if (n) { n.checked = true; setMode(); } } textarea().focus(); break;
      case "c": click("#panel [data-key='c']"); break;
      case "E": click("#panel [data-key='E']"); break;
      case "e": {
        const sel = document.getElementById("status-select");
        const submit = document.querySelector("#panel [data-status-submit]");
        if (sel && submit) {
          evt.preventDefault();
          if (window.htmx) htmx.process(submit.form);
          sel.value = "resolved";
          submit.click();
        }
        break;
      }
      case "[": click("[data-key='[']"); break;
      case "]": click("[data-key=']']"); break;
      default:
    }
  });

  // The browser's offset, for a snooze time typed in its own time zone.
  document.addEventListener("submit", (evt) => {
    evt.target.querySelectorAll && evt.target.querySelectorAll("[data-tz-offset]").forEach((i) => {
      i.value = String(new Date().getTimezoneOffset());
    });
  }, true);
  document.addEventListener("htmx:configRequest", (evt) => {
    const p = evt.detail.parameters;
    if (p && Object.prototype.hasOwnProperty.call(p, "tz_offset")) {
      if (p instanceof FormData) p.set("tz_offset", String(new Date().getTimezoneOffset()));
      else p.tz_offset = String(new Date().getTimezoneOffset());
    }
  });

  // ---- Start. ----
  function start() {
    if (!conv()) return;
    localTimes(document);
    setMode();
    tick();
    toBottom();
  }
  document.addEventListener("htmx:afterSettle", (evt) => { if (evt.target) localTimes(evt.target); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:historyRestore", start);
  document.addEventListener("htmx:afterSwap", (evt) => { if (evt.target === document.body) start(); });
})();
