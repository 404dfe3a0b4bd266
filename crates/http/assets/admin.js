// Switchboard admin screens: forms that save through the REST API itself.
//
// A form with `data-api="METHOD /api/v1/…"` is sent as the JSON body of that API call,
// with the session's CSRF token, so it is validated, and saved whole or not at all, by
// the same code as any other API client. The body is read off the form's structure:
//
//   <input name="timezone">                      → {"timezone": "…"}
//   <div data-key="limits"><input name="per_day">  → {"limits": {"per_day": …}}
//   <div data-key="media" data-omit-without="kind">  → no "media" key while its `kind` is ""
//   <div data-list="mon">                        → {"mon": [ …one value per data-item… ]}
//     <div data-item><input name="start"></div>    → {"start": "…"}
//     <div data-item data-scalar><input></div>     → the field's value itself
//
// A field's `data-type` says what its value is: `text` (the default; `data-empty="null"`
// sends "" as null, `data-empty="omit"` leaves the key out), `number` (empty is null, or
// left out with `data-empty="omit"`; `data-unit="ID"` multiplies it by the value of the
// unit select with that id, which has no name and is not sent), `bool` (checkbox),
// `lines` (a textarea: one string per non-empty line), `csv`, `json`. A checkbox is a bool
// unless typed; a `select multiple` is a list. Fields that are disabled or inside a hidden
// or disabled part are left out, so a choice can show the part that belongs to it
// (`data-show-when="type=custom"`: the nearest `type` field of the part's object decides).
//
// A 422 names the invalid fields as the API writes them (`weekly.mon[0].end`); each
// message is shown next to the field with that path (or the nearest part that has one),
// and all of them in the form's summary. On success the page's main region is reloaded
// and `data-done` (or "Saved.") is announced.
//
// Buttons with `data-api` (deletes, retries) do the same with no body (or `data-body`,
// JSON, given by the page: a whole new order, a rule switched off), after
// `data-confirm` is confirmed. A form with `data-preview="/admin/…"` also posts its body
// there as the user types and puts the HTML answer in `data-preview-target`; submitting a
// form that has a preview and no `data-api` (a "try it" box) previews it at once.
//
// A `{name}` in a form's `data-api` path is filled from the form's field `name`, which is
// then left out of the body (`PUT /api/v1/teams/1/members/{agent_id}` with a select).
// After success, `data-then-api="METHOD /path/{agent.id}"` makes a second call (no body),
// its path filled from the first answer's fields (dotted paths); `data-then` (a URL) is
// filled the same way. `data-answer="#part"` shows the (last) answer once the main region
// is reloaded: each `[data-answer-field="url"]` inside `#part` gets that field (an input
// its value, anything else its text), and `#part` is unhidden and focused: for what the
// API shows only once, such as an invitation link.
"use strict";
(() => {
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch { return ""; }
  }

  // ---- The form's structure → a JSON value, and each field's path. -------------------
  function fieldValue(el) {
    const type = el.dataset.type || (el.type === "checkbox" ? "bool" : "text");
    if (el.tagName === "SELECT" && el.multiple) return { value: [...el.selectedOptions].map((o) => o.value) };
    const raw = el.value;
    switch (type) {
      case "bool": return { value: el.checked };
      case "number": {
        if (raw.trim() === "") return el.dataset.empty === "omit" ? { omit: true } : { value: null };
        // `data-unit="ID"`: the number is in the unit that select's value says (60 for
        // hours, when the API counts minutes), sent as a whole number of the API's unit.
        const unit = el.dataset.unit ? document.getElementById(el.dataset.unit) : null;
        return { value: unit ? Math.round(Number(raw) * Number(unit.value)) : Number(raw) };
      }
      case "lines": return { value: raw.split("\n").map((l) => l.trim()).filter((l) => l !== "") };
      case "csv": return { value: raw.split(",").map((l) => l.trim()).filter((l) => l !== "") };
      case "json":
        if (raw.trim() === "") return { value: null };
        try { return { value: JSON.parse(raw) }; } catch { return { value: raw }; }
      default:
        if (raw === "" && el.dataset.empty === "null") return { value: null };
        if (raw === "" && el.dataset.empty === "omit") return { omit: true };
        return { value: raw };
    }
  }

  function skipped(el, root) {
    if (el.disabled) return true;
    for (let n = el; n && n !== root; n = n.parentElement) {
      if (n.hidden || (n.tagName === "FIELDSET" && n.disabled)) return true;
    }
    return false;
  }

  const isField = (el) => ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.type !== "submit" && el.type !== "button";

  // Fills `obj` from `node`'s children; `path` is where `obj` sits; `paths` maps each
  // path written to its element.
  function fill(node, obj, path, paths, root) {
    for (const el of node.children) {
      if (el.hidden) continue;
      if (el.dataset.list !== undefined) {
        const key = el.dataset.list;
        const p = join(path, key);
        paths.set(p, el);
        obj[key] = items(el, p, paths, root);
      } else if (el.dataset.key !== undefined) {
        const p = join(path, el.dataset.key);
        paths.set(p, el);
        const inner = {};
        fill(el, inner, p, paths, root);
        const needs = el.dataset.omitWithout;
        if (needs && (inner[needs] === undefined || inner[needs] === "" || inner[needs] === null)) continue;
        obj[el.dataset.key] = inner;
      } else if (isField(el) && el.name) {
        if (skipped(el, root) || (el.type === "radio" && !el.checked)) continue;
        const v = fieldValue(el);
        const p = join(path, el.name);
        paths.set(p, el);
        if (!v.omit) obj[el.name] = v.value;
      } else {
        fill(el, obj, path, paths, root);
      }
    }
  }

  // The values of the `data-item`s that belong to `list` (not to a list inside one).
  function items(list, path, paths, root) {
    const out = [];
    const own = [...list.querySelectorAll("[data-item]")].filter((i) => i.parentElement.closest("[data-list]") === list);
    for (const item of own) {
      if (skipped(item, root)) continue;
      const p = `${path}[${out.length}]`;
      paths.set(p, item);
      if (item.dataset.scalar !== undefined) {
        const field = [...item.querySelectorAll("input, select, textarea")].find(isField);
        if (!field) continue;
        paths.set(p, field);
        const v = fieldValue(field);
        if (!v.omit) out.push(v.value);
      } else {
        const inner = {};
        fill(item, inner, p, paths, root);
        out.push(inner);
      }
    }
    return out;
  }

  const join = (path, key) => (path === "" ? key : `${path}.${key}`);

  function collect(form) {
    const body = {};
    const paths = new Map();
    fill(form, body, "", paths, form);
    return { body, paths };
  }

  // ---- Errors next to their fields. ---------------------------------------------------
  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((e) => e.remove());
    form.querySelectorAll("[aria-invalid]").forEach((e) => {
      e.removeAttribute("aria-invalid");
      const ids = (e.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("err-"));
      if (ids.length) e.setAttribute("aria-describedby", ids.join(" ")); else e.removeAttribute("aria-describedby");
    });
    const summary = form.querySelector(".form-summary");
    if (summary) summary.replaceChildren();
  }

  // The element for `field`: its own path, else the nearest enclosing path (`a.b[2].c`
  // → `a.b[2]` → `a.b` → `a`).
  function elementFor(field, paths, form) {
    let p = field;
    while (p) {
      if (paths.has(p)) return paths.get(p);
      const named = form.querySelector(`[data-field="${CSS.escape(p)}"]`);
      if (named) return named;
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      p = cut > 0 ? p.slice(0, cut) : "";
    }
    return null;
  }

  let errorSeq = 0;
  function showErrors(form, problem, paths) {
    const summary = ensureSummary(form);
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    const head = document.createElement("p");
    head.textContent = problem.detail || "The change was not saved.";
    summary.append(head);
    if (errors.length === 0) { summary.focus(); return; }
    const list = document.createElement("ul");
    let first = null;
    for (const e of errors) {
      const target = elementFor(e.field, paths, form);
      const id = `err-${++errorSeq}`;
      const li = document.createElement("li");
      li.textContent = `${e.field}: ${e.message}`;
      list.append(li);
      if (!target) continue;
      const msg = document.createElement("p");
      msg.className = "field-error";
      msg.id = id;
      msg.textContent = e.message;
      if (isField(target)) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", `${target.getAttribute("aria-describedby") || ""} ${id}`.trim());
        (target.closest("label") || target).after(msg);
        first = first || target;
      } else {
        target.prepend(msg);
        first = first || target.querySelector("input, select, textarea");
      }
    }
    summary.append(list);
    (first || summary).focus();
  }

  function ensureSummary(form) {
    let summary = form.querySelector(".form-summary");
    if (!summary) {
      summary = document.createElement("div");
      summary.className = "form-summary";
      summary.setAttribute("role", "alert");
      summary.tabIndex = -1;
      form.prepend(summary);
    }
    return summary;
  }

  // ---- Sending. --------------------------------------------------------------------
  async function call(spec, body) {
    const [method, url] = spec.trim().split(/\s+/, 2);
    const headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    let json = null;
    const text = await res.text();
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { res, json };
  }

  function announce(text) {
    const region = document.getElementById("notice");
    if (!region) return;
    region.textContent = "";
    // A change the screen reader hears even when the text repeats.
    requestAnimationFrame(() => { region.textContent = text; });
  }

  function flash(text) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    const p = document.createElement("p");
    p.textContent = text;
    flash.replaceChildren(p);
  }

  // Reloads the main region (the lists, the saved values) in place; then `after`.
  function reloadMain(url, message, after) {
    const go = url || window.location.pathname + window.location.search;
    if (window.htmx) {
      htmx.ajax("GET", go, { target: "#main", select: "#main", swap: "outerHTML" }).then(() => {
        if (url) history.replaceState(null, "", url);
        if (message) announce(message);
        if (after) after();
      });
    } else {
      window.location.assign(go);
    }
  }

  // A field of a JSON answer by dotted path (`agent.id`).
  const pick = (json, path) => path.split(".").reduce((v, k) => (v != null && typeof v === "object" ? v[k] : undefined), json);

  // `template` with each `{path}` replaced by that field of `json`, URL-encoded.
  const fillIn = (template, json) =>
    template.replace(/\{([\w.]+)\}/g, (_, k) => { const v = pick(json, k); return encodeURIComponent(v != null ? v : ""); });

  // Where to go after success: `data-then` may name the answer's fields (`/admin/rules/{id}`).
  function nextUrl(el, json) {
    const then = el.dataset.then;
    return then ? fillIn(then, json) : null;
  }

  // `data-then-api`: the second call, its path filled from the first answer.
  async function thenCall(el, json) {
    const spec = el.dataset.thenApi;
    if (!spec) return { res: null, json };
    const [method, url] = spec.trim().split(/\s+/, 2);
    return call(`${method} ${fillIn(url, json)}`);
  }

  // `data-answer`: shows the answer's fields in that part (once the main region is new).
  function showAnswer(el, json) {
    const selector = el.dataset.answer;
    if (!selector) return null;
    return () => {
      const part = document.querySelector(selector);
      if (!part) return;
      part.querySelectorAll("[data-answer-field]").forEach((f) => {
        const v = pick(json, f.dataset.answerField);
        const text = v == null ? "" : String(v);
        if ("value" in f && f.tagName !== "BUTTON") f.value = text; else f.textContent = text;
      });
      part.hidden = false;
      if (!part.hasAttribute("tabindex")) part.tabIndex = -1;
      part.focus();
    };
  }

  // After a successful call: the chained call if any, then the reload and the answer.
  async function succeeded(el, json, done) {
    const next = await thenCall(el, json);
    if (next.res && !next.res.ok) {
      reloadMain(null, null);
      flash((next.json && next.json.detail) || `The second step failed (${next.res.status}).`);
      return;
    }
    reloadMain(nextUrl(el, next.json), done, showAnswer(el, next.json));
  }

  // A form's `data-api` with each `{field}` filled from (and taken out of) the body.
  function target(spec, body) {
    const [method, url] = spec.trim().split(/\s+/, 2);
    const filled = url.replace(/\{(\w+)\}/g, (_, k) => {
      const v = body[k];
      delete body[k];
      return encodeURIComponent(v != null ? v : "");
    });
    return `${method} ${filled}`;
  }

  document.addEventListener("submit", async (evt) => {
    const form = evt.target;
    if (form instanceof HTMLFormElement && form.dataset.preview && !form.dataset.api) {
      evt.preventDefault();
      preview(form);
      return;
    }
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    evt.preventDefault();
    clearErrors(form);
    const { body, paths } = collect(form);
    const submit = form.querySelector("[type=submit]");
    if (submit) submit.disabled = true;
    try {
      const { res, json } = await call(target(form.dataset.api, body), body);
      if (res.ok) {
        await succeeded(form, json, form.dataset.done || "Saved.");
      } else if (res.status === 401) {
        window.location.assign(`/sign-in?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
      } else {
        showErrors(form, json || { detail: `The request failed (${res.status}).` }, paths);
      }
    } catch {
      showErrors(form, { detail: "The server could not be reached; nothing was saved." }, paths);
    } finally {
      if (submit) submit.disabled = false;
    }
  });

  document.addEventListener("click", async (evt) => {
    const button = evt.target instanceof Element ? evt.target.closest("button[data-api]") : null;
    if (!button || button.type === "submit") return;
    evt.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const { res, json } = await call(button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
      if (res.ok) await succeeded(button, json, button.dataset.done || "Done.");
      else flash((json && json.detail) || `The request failed (${res.status}).`);
    } catch {
      flash("The server could not be reached; nothing changed.");
    } finally {
      button.disabled = false;
    }
  });

  // ---- Repeating parts: add, remove, move. -------------------------------------------
  // `<button data-add="ID">` appends a copy of `<template id="ID">` to the list
  // `data-add-to` names (a CSS selector, default the button's closest `[data-list]`);
  // `data-remove` removes its `[data-item]`; `data-move="up|down"` moves it.
  document.addEventListener("click", (evt) => {
    const el = evt.target instanceof Element ? evt.target.closest("[data-add], [data-remove], [data-move]") : null;
    if (!el) return;
    const item = el.closest("[data-item]");
    if (el.dataset.add) {
      const tpl = document.getElementById(el.dataset.add);
      const list = el.dataset.addTo ? document.querySelector(el.dataset.addTo) : el.closest("[data-list]");
      if (!tpl || !list) return;
      const copy = tpl.content.cloneNode(true);
      const first = copy.querySelector("input, select, textarea");
      list.append(copy);
      if (first) list.lastElementChild?.querySelector("input, select, textarea")?.focus();
      list.closest("form")?.dispatchEvent(new Event("input", { bubbles: true }));
    } else if (el.dataset.remove !== undefined && item) {
      const form = item.closest("form");
      item.remove();
      if (form) form.dispatchEvent(new Event("input", { bubbles: true }));
    } else if (el.dataset.move && item) {
      const sibling = el.dataset.move === "up" ? item.previousElementSibling : item.nextElementSibling;
      if (!sibling || !sibling.matches("[data-item]")) return;
      if (el.dataset.move === "up") sibling.before(item); else sibling.after(item);
      el.focus();
      item.closest("form")?.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });

  // `data-show-when="NAME=VALUE"` on a part: shown (and its fields sent) only while the
  // form's field NAME (a select or the checked radio) has VALUE (`|` separates several).
  // NAME is looked for in the part's nearest enclosing object (`data-key`), item or form
  // that has such a field, so two objects in one form may each have a `type`.
  function controlling(part, name) {
    const selector = `[name="${CSS.escape(name)}"]`;
    for (let n = part.parentElement; n; n = n.parentElement) {
      if (!n.matches("[data-key], [data-item], form, body")) continue;
      const fields = [...n.querySelectorAll(selector)];
      if (fields.length) return fields.find((f) => f.type !== "radio" || f.checked) || null;
    }
    return null;
  }

  function syncConditional(root) {
    root.querySelectorAll("[data-show-when]").forEach((part) => {
      const [name, values] = part.dataset.showWhen.split("=", 2);
      const field = controlling(part, name);
      part.hidden = !field || !values.split("|").includes(field.value);
    });
  }

  // ---- Previews. -------------------------------------------------------------------
  const timers = new WeakMap();
  async function preview(form) {
    const target = document.querySelector(form.dataset.previewTarget || "#preview");
    if (!target) return;
    const { body } = collect(form);
    try {
      const res = await fetch(form.dataset.preview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(), "HX-Request": "true" },
        body: JSON.stringify(body),
      });
      const html = await res.text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      const part = res.ok ? doc.body : doc.getElementById("error-message") || doc.body;
      target.replaceChildren(...[...part.childNodes].map((n) => document.importNode(n, true)));
    } catch {
      target.textContent = "The preview is unavailable: the server could not be reached.";
    }
  }

  function schedule(form) {
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(() => preview(form), 250));
  }

  ["input", "change"].forEach((type) =>
    document.addEventListener(type, (evt) => {
      const form = evt.target instanceof Element ? evt.target.closest("form") : null;
      if (!form) return;
      syncConditional(form);
      if (form.dataset.preview) schedule(form);
    }),
  );

  function init(root) {
    syncConditional(root);
    root.querySelectorAll("form[data-preview]").forEach((f) => preview(f));
  }
  document.addEventListener("DOMContentLoaded", () => init(document));
  document.addEventListener("htmx:load", (evt) => { if (evt.detail.elt instanceof Element) init(evt.detail.elt); });

  // Copy buttons: `data-copy="selector"` copies that element's value or text.
  document.addEventListener("click", async (evt) => {
    const button = evt.target instanceof Element ? evt.target.closest("[data-copy]") : null;
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent;
    try { await navigator.clipboard.writeText(text); announce("Copied."); }
    catch { if (source.select) source.select(); announce("Select and copy the text."); }
  });
})();
