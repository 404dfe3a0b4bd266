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

// A request that succeeded clears an earlier error (not one whose answer is for #flash,
// such as claim next's "nothing to claim").
document.addEventListener("htmx:afterRequest", (evt) => {
  const flash = document.getElementById("flash");
  if (flash && evt.detail.successful && evt.detail.target !== flash) flash.replaceChildren();
});
