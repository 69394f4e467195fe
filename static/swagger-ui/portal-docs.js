// Starts Swagger UI on /api/v1/docs. A file, not an inline script: the CSP allows 'self' only.
// Around the vendored bundle (never edited), it follows the device's light or dark scheme and
// mends what Swagger UI renders for screen readers and keyboards (checked by axe-core in
// tests/browser): names for unnamed controls, landmarks, heading levels, no link in a button.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");

  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function followScheme() {
    document.documentElement.classList.toggle("dark-mode", dark.matches);
  }
  followScheme();
  dark.addEventListener("change", followScheme);

  function mark(selector, attributes) {
    root.querySelectorAll(selector).forEach(function (el) {
      Object.keys(attributes).forEach(function (name) {
        if (!el.hasAttribute(name)) el.setAttribute(name, attributes[name]);
      });
    });
  }

  function mend() {
    // The server picker's <label> wraps it with no text of its own: an unnamed list.
    root.querySelectorAll(".servers select:not([aria-label])").forEach(function (select) {
      select.setAttribute("aria-label", "Server");
    });
    // The authorization dialog's close button is an icon alone.
    root.querySelectorAll("button.close-modal:not([aria-label])").forEach(function (button) {
      button.setAttribute("aria-label", "Close");
    });
    // Each operation's responses table is a region: named after its operation, so regions differ.
    root.querySelectorAll("table.responses-table[role=region]:not([aria-label])").forEach(function (table) {
      var op = table.closest(".opblock");
      var method = op && op.querySelector(".opblock-summary-method");
      var path = op && op.querySelector(".opblock-summary-path");
      table.setAttribute("aria-label", "Responses" + (method && path ? " of " + method.textContent + " " + path.textContent : ""));
    });
    // Landmarks and heading levels: the title and description are the page's banner, the
    // server and authorization bar a named region; sections under the h1 title are level 2.
    mark(".information-container", { role: "banner" });
    mark(".schemes-server-container", { role: "region", "aria-label": "Servers and authorization" });
    mark("h3.opblock-tag, .models > h4, .modal-ux-header > h3", { "aria-level": "2" });
    mark(".opblock h4, .modal-ux-content h4", { "aria-level": "3" });
    // The authorization dialog is a dialog, named like its heading (not aria-modal: Swagger UI
    // does not keep focus inside it).
    mark(".modal-ux", { role: "dialog", "aria-label": "Available authorizations" });
    // Deep links inside an operation's expand button: a link in a button is two controls in
    // one for keyboards and screen readers. The button alone expands it and still puts the
    // operation in the address (deepLinking), so the inner link loses its href only.
    root.querySelectorAll("button a[href]").forEach(function (link) {
      link.removeAttribute("href");
    });
  }
  // Mended as React renders (a batch of changes at a time, before the next paint).
  new MutationObserver(mend).observe(root, { childList: true, subtree: true });

  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    tryItOutEnabled: false,
    validatorUrl: null
  });
})();
