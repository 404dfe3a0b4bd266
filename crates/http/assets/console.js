// Switchboard console: what htmx does not do by itself. No inline scripts anywhere (the
// Content-Security-Policy forbids them); everything is wired here by data attributes.
"use strict";

// A failed htmx request: show the error page's message in #flash instead of nothing.
document.addEventListener("htmx:responseError", (evt) => {
  const flash = document.getElementById("flash");
  if (!flash) return;
  const doc = new DOMParser().parseFromString(evt.detail.xhr.responseText || "", "text/html");
  const message = doc.getElementById("error-message");
  const fields = doc.getElementById("error-fields");
  flash.replaceChildren();
  const p = document.createElement("p");
  p.textContent = message ? message.textContent : `The request failed (${evt.detail.xhr.status}).`;
  flash.append(p);
  if (fields) flash.append(document.importNode(fields, true));
});

// An action of the agent's (a form or a button) that succeeded clears an earlier message;
// background refreshes (the live list, the counts) and answers meant for #flash itself
// (claim next's "nothing to claim") leave it.
document.addEventListener("htmx:afterRequest", (evt) => {
  const flash = document.getElementById("flash");
  const elt = evt.detail.elt;
  const action = elt instanceof Element && elt.closest("form, button") !== null;
  if (flash && action && evt.detail.successful && evt.detail.target !== flash) flash.replaceChildren();
});
