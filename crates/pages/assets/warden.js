// Progressive touches only: every form works without this file.
// - a Show/Hide button on password fields;
// - focus on the error summary after a failed post;
// - one submission per click (the button is disabled while posting).
(function () {
  "use strict";
  var words = document.body.dataset;
  var summary = document.querySelector("[data-summary]");
  if (summary) summary.focus();
  document.querySelectorAll("input[data-reveal]").forEach(function (input) {
    var wrap = document.createElement("div");
    wrap.className = "reveal";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = words.show;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.textContent = shown ? words.show : words.hide;
      button.setAttribute("aria-pressed", shown ? "false" : "true");
    });
    wrap.appendChild(button);
  });
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) setTimeout(function () { button.disabled = true; }, 0);
    });
  });
})();

// Passkeys (WebAuthn is a browser API): each form carries its ceremony; the
// script fills in the browser's answer and posts the form like any other.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function fromB64u(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ids(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = fromB64u(c.id);
      return copy;
    });
  }
  function creationOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    pk.excludeCredentials = ids(pk.excludeCredentials);
    return { publicKey: pk };
  }
  function requestOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.allowCredentials = ids(pk.allowCredentials);
    return { publicKey: pk };
  }
  function answer(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64u(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64u(r.authenticatorData);
      response.signature = toB64u(r.signature);
      if (r.userHandle) response.userHandle = toB64u(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response: response,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    });
  }
  function busy(button, on) {
    if (!button) return;
    if (on) {
      button.dataset.label = button.textContent;
      button.textContent = button.dataset.working || button.textContent;
    } else if (button.dataset.label) {
      button.textContent = button.dataset.label;
    }
    button.disabled = on;
  }
  function post(url, body, type) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": type, "Accept": "application/json" },
      body: body
    }).then(function (r) {
      if (!r.ok) throw new Error("options refused: " + r.status);
      return r.json();
    });
  }

  document.querySelectorAll("form[data-passkey-signin]").forEach(function (form) {
    form.hidden = false;
    var button = form.querySelector("button");
    button.addEventListener("click", function () {
      busy(button, true);
      var challenge;
      post(form.dataset.passkeySignin, "{}", "application/json")
        .then(function (json) {
          challenge = json.challenge_id;
          return navigator.credentials.get(requestOptions(json));
        })
        .then(function (cred) {
          form.elements.challenge_id.value = challenge;
          form.elements.credential.value = answer(cred);
          form.submit();
        })
        .catch(function () {
          form.elements.challenge_id.value = challenge || "";
          form.elements.credential.value = "";
          form.submit();
        });
    });
  });

  document.querySelectorAll("form[data-passkey-mfa]").forEach(function (form) {
    form.hidden = false;
    var button = form.querySelector("button");
    button.addEventListener("click", function () {
      busy(button, true);
      navigator.credentials
        .get(requestOptions(JSON.parse(form.dataset.options)))
        .then(function (cred) {
          form.elements.webauthn.value = answer(cred);
          form.submit();
        })
        .catch(function () {
          form.elements.webauthn.value = "{}";
          form.submit();
        });
    });
  });

  document.querySelectorAll("[data-passkey-unsupported]").forEach(function (p) {
    p.hidden = true;
  });
  document.querySelectorAll("form[data-passkey-register]").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      if (form.elements.credential.value) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      busy(button, true);
      var fields = new URLSearchParams(new FormData(form)).toString();
      post(form.dataset.passkeyRegister, fields, "application/x-www-form-urlencoded")
        .then(function (json) {
          return navigator.credentials.create(creationOptions(json));
        })
        .then(function (cred) {
          form.elements.credential.value = answer(cred);
          form.submit();
        })
        .catch(function () {
          form.submit();
        });
    });
  });
})();
