// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  document.addEventListener("htmx:responseError", function (event) {
    // A failed HTMX request (network, 5xx, 429) must not fail silently.
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "htmx-error";
      box.className = "flash flash-error";
      box.setAttribute("role", "alert");
      document.getElementById("main").prepend(box);
    }
    box.textContent = status === 429
      ? "Too many attempts. Wait a minute and try again."
      : "That didn't work. Reload the page and try again.";
  });

  // HX-Redirect to the page we are on with another #part (e.g. /profile#email-change) is a
  // jump within the page to the browser, not a load: reload it, so what changed shows.
  document.addEventListener("htmx:afterOnLoad", function (event) {
    var xhr = event.detail.xhr;
    var target = xhr && xhr.getResponseHeader("HX-Redirect");
    if (!target) return;
    var url = new URL(target, window.location.href);
    if (url.pathname === window.location.pathname && url.search === window.location.search) {
      window.location.reload();
    }
  });

  function focusOn(element) {
    if (!element) return false;
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1"); // focusable by script, not in the Tab order
    }
    element.focus();
    return document.activeElement === element;
  }

  // A form swapped in with errors: the keyboard lands on the first field to fix (the field's
  // aria-describedby then reads its error).
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.target;
    if (!root || !root.querySelector) return;
    var invalid = root.matches("[aria-invalid=true]") ? root : root.querySelector("[aria-invalid=true]");
    if (invalid) focusOn(invalid);
  });

  // A swap that takes away the focused element (a row removed, a form replaced) must not
  // drop the keyboard at the top of the page: focus goes to the place the markup names
  // (data-focus-after-removal), else to what replaced the nearest container with an id (its
  // alert first), else to the page heading.
  var lastFocus = null;
  var lastFocusIds = [];
  var lastFocusFallback = null;
  document.addEventListener("focusin", function (event) {
    lastFocus = event.target;
    lastFocusIds = [];
    for (var el = lastFocus; el && el !== document.body; el = el.parentElement) {
      if (el.id && el !== lastFocus) lastFocusIds.push(el.id);
    }
    var named = lastFocus.closest ? lastFocus.closest("[data-focus-after-removal]") : null;
    lastFocusFallback = named ? named.getAttribute("data-focus-after-removal") : null;
  });
  function restoreLostFocus() {
    if (!lastFocus || lastFocus.isConnected) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    var lost = lastFocus;
    lastFocus = null;
    if (lastFocusFallback && focusOn(document.querySelector(lastFocusFallback))) return;
    for (var i = 0; i < lastFocusIds.length; i++) {
      var container = document.getElementById(lastFocusIds[i]);
      if (container && container.isConnected && !container.contains(lost)) {
        if (focusOn(container.querySelector("[role=alert]") || container)) return;
      }
    }
    focusOn(document.querySelector("main h1"));
  }
  new MutationObserver(restoreLostFocus).observe(document.documentElement, { childList: true, subtree: true });

  // Resending the sign-up code: the server sends at most one a minute, so the button rests
  // for 60 seconds. The countdown is shown (not live: it would be read every second); the
  // polite status region says twice what matters: a code is on its way, and a new one can be
  // asked for now.
  var RESEND_WAIT = 60;
  var resendUntil = 0;
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target.closest && event.target.closest("[data-resend]");
    if (form && Date.now() < resendUntil) event.preventDefault();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target.closest && event.target.closest("[data-resend]");
    if (!form || !event.detail.successful) return;
    var button = form.querySelector("button");
    var wait = document.getElementById("resend-wait");
    var status = document.getElementById(form.getAttribute("data-resend"));
    resendUntil = Date.now() + RESEND_WAIT * 1000;
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-describedby", "resend-wait");
    wait.hidden = false;
    function tick() {
      var left = Math.ceil((resendUntil - Date.now()) / 1000);
      if (left > 0) {
        wait.textContent = "You can ask for another code in " + left + " second" + (left === 1 ? "" : "s") + ".";
        setTimeout(tick, 1000);
        return;
      }
      wait.hidden = true;
      wait.textContent = "";
      button.removeAttribute("aria-disabled");
      button.removeAttribute("aria-describedby");
      status.innerHTML = "";
      var ready = document.createElement("p");
      ready.className = "flash flash-info";
      ready.textContent = "You can ask for a new code now.";
      status.appendChild(ready);
    }
    tick();
  });
})();
