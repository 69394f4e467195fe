// Passkeys in the browser: WebAuthn JSON to and from the server, for sign-in (button and
// autofill), adding a passkey and confirming it's you. Everything else works without this
// file; passkeys cannot (the page says so in a <noscript>).
(function () {
  "use strict";

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(value) {
    var text = atob(value.replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: fromBase64url(item.id) });
    });
  }

  // Browsers that know WebAuthn's JSON forms parse them themselves; others get this fallback.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try { return credential.toJSON(); } catch (e) { /* fall back below */ }
    }
    var r = credential.response, response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
    catch (e) { return ""; }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || "That didn't work. Reload the page and try again.");
        return data;
      });
    });
  }

  // Go to the page the server names; the same page (only the #part differs) is reloaded, so
  // it shows what just changed.
  function go(url) {
    var target = new URL(url, window.location.href);
    if (target.pathname === window.location.pathname && target.search === window.location.search) {
      window.location.hash = target.hash;
      window.location.reload();
    } else {
      window.location.assign(target.href);
    }
  }

  function say(box, message) {
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function cancelled(error) {
    return error && (error.name === "NotAllowedError" || error.name === "AbortError");
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // Sign-in page: the button, and autofill in the username field (conditional mediation).
  function setUpSignIn(root) {
    var button = root.querySelector("[data-passkey-sign-in]");
    var status = root.querySelector("[data-passkey-status]");
    var next = root.getAttribute("data-next") || "";
    var optionsUrl = root.getAttribute("data-options-url");
    var signInUrl = root.getAttribute("data-sign-in-url");
    var autofill = null;

    function finish(options, credential) {
      return post(signInUrl, {
        challenge_id: options.challenge_id, credential: credentialJSON(credential), next: next,
      }).then(function (data) { go(data.redirect); });
    }

    function startAutofill() {
      if (!PublicKeyCredential.isConditionalMediationAvailable) return;
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        post(optionsUrl).then(function (options) {
          autofill = new AbortController();
          return navigator.credentials.get({
            mediation: "conditional", signal: autofill.signal,
            publicKey: requestOptions(options.publicKey),
          }).then(function (credential) { return finish(options, credential); });
        }).catch(function (error) { if (!cancelled(error)) say(status, error.message); });
      });
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      if (autofill) autofill.abort();
      say(status, "");
      post(optionsUrl).then(function (options) {
        return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) })
          .then(function (credential) { return finish(options, credential); });
      }).catch(function (error) {
        say(status, cancelled(error) ? "No passkey was used." : error.message);
        startAutofill();
      });
    });
    startAutofill();
  }

  // Profile: add a passkey (its name comes from the form).
  function setUpAdd(form) {
    var status = form.querySelector("[data-passkey-status]");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.querySelector("input[name=name]").value;
      say(status, "");
      post(form.getAttribute("data-options-url"), { name: name }).then(function (options) {
        return navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
          .then(function (credential) {
            return post(form.action, { name: name, credential: credentialJSON(credential) });
          });
      }).then(function (data) { go(data.redirect); })
        .catch(function (error) {
          say(status, cancelled(error) ? "No passkey was added." : error.message);
        });
    });
  }

  // Profile: confirm it's you with a passkey instead of the password.
  function setUpReauth(button) {
    var status = document.querySelector(button.getAttribute("data-status"));
    button.hidden = false;
    button.addEventListener("click", function () {
      say(status, "");
      post(button.getAttribute("data-options-url")).then(function (options) {
        return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) })
          .then(function (credential) {
            return post(button.getAttribute("data-url"), {
              challenge_id: options.challenge_id, credential: credentialJSON(credential),
            });
          });
      }).then(function (data) { go(data.redirect); })
        .catch(function (error) {
          say(status, cancelled(error) ? "No passkey was used." : error.message);
        });
    });
  }

  // "Copy" next to the recovery codes.
  function setUpCopy(button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = document.querySelector(button.getAttribute("data-copy")).innerText;
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(setUpCopy);
    if (!supported()) {
      document.querySelectorAll("[data-passkeys-unsupported]").forEach(function (el) {
        el.hidden = false;
      });
      return;
    }
    document.querySelectorAll("[data-passkey-sign-in-root]").forEach(setUpSignIn);
    document.querySelectorAll("form[data-passkey-add]").forEach(setUpAdd);
    document.querySelectorAll("[data-passkey-reauth]").forEach(setUpReauth);
  });
})();
