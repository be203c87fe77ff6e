// latchkey portal: passkeys (WebAuthn). The portal's only script: no framework, no
// inline code (the pages' CSP allows this file alone), and it talks to the portal only.
// The sign-in page: a "Sign in with a passkey" button, and the browser's own passkey
// suggestions in the username field where it has them (conditional mediation). The
// account page: "Add a passkey". Every page works without it but for these.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return; // No WebAuthn here: the sections stay hidden.
  }

  const b64 = {
    decode(s) {
      const t = s.replace(/-/g, "+").replace(/_/g, "/");
      const bin = atob(t + "===".slice((t.length + 3) % 4));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buf) {
      const bytes = new Uint8Array(buf);
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  // The options as the server sends them (WebAuthn JSON) -> what the browser takes.
  function creationOptions(pk) {
    const o = Object.assign({}, pk);
    o.challenge = b64.decode(pk.challenge);
    o.user = Object.assign({}, pk.user, { id: b64.decode(pk.user.id) });
    o.excludeCredentials = (pk.excludeCredentials || []).map((c) =>
      Object.assign({}, c, { id: b64.decode(c.id) })
    );
    return o;
  }

  function requestOptions(pk) {
    const o = Object.assign({}, pk);
    o.challenge = b64.decode(pk.challenge);
    o.allowCredentials = (pk.allowCredentials || []).map((c) =>
      Object.assign({}, c, { id: b64.decode(c.id) })
    );
    return o;
  }

  // The browser's answer -> WebAuthn Level 3 JSON (base64url everywhere).
  function answer(cred) {
    const r = cred.response;
    const response = { clientDataJSON: b64.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = b64.encode(r.authenticatorData);
      response.signature = b64.encode(r.signature);
      if (r.userHandle) response.userHandle = b64.encode(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: b64.encode(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults
        ? cred.getClientExtensionResults()
        : {},
    };
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    let json = {};
    try {
      json = await res.json();
    } catch (e) {
      json = {};
    }
    if (!res.ok) {
      // The page's own words for it (its language), when the server sent none.
      const box = document.getElementById("passkey") || document.getElementById("passkey-add");
      throw new Error(json.error || (box && box.dataset.refused) || "The server refused the passkey.");
    }
    return json;
  }

  function say(message) {
    const e = document.getElementById("passkey-error");
    if (!e) return;
    e.textContent = message;
    e.hidden = !message;
  }

  function cancelled(err) {
    return err && (err.name === "NotAllowedError" || err.name === "AbortError");
  }

  // ---- signing in ------------------------------------------------------------------
  const signin = document.getElementById("passkey");
  if (signin) {
    const d = signin.dataset;
    let pending = null; // the conditional request, aborted when the button is used

    async function signIn(mediation) {
      const start = await post(d.start, { csrf: d.csrf });
      const opts = { publicKey: requestOptions(start.publicKey) };
      if (mediation) {
        pending = new AbortController();
        opts.mediation = mediation;
        opts.signal = pending.signal;
      }
      const cred = await navigator.credentials.get(opts);
      const done = await post(d.finish, {
        csrf: d.csrf,
        rd: d.rd,
        ceremony: start.ceremony,
        credential: answer(cred),
      });
      window.location.assign(done.location);
    }

    signin.hidden = false;
    document.getElementById("passkey-signin").addEventListener("click", () => {
      if (pending) pending.abort();
      pending = null;
      say("");
      signIn(null).catch((err) => {
        if (!cancelled(err)) say(err.message);
      });
    });

    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((yes) => {
        if (yes) {
          signIn("conditional").catch((err) => {
            if (!cancelled(err)) say(err.message);
          });
        }
      });
    }
  }

  // ---- adding one on the account page ------------------------------------------------
  const add = document.getElementById("passkey-add");
  if (add) {
    const d = add.dataset;
    add.hidden = false;
    document.getElementById("passkey-add-button").addEventListener("click", async () => {
      say("");
      try {
        const start = await post(d.start, { csrf: d.csrf });
        const cred = await navigator.credentials.create({
          publicKey: creationOptions(start.publicKey),
        });
        const done = await post(d.finish, {
          csrf: d.csrf,
          ceremony: start.ceremony,
          name: document.getElementById("passkey-name").value,
          credential: answer(cred),
        });
        window.location.assign(done.location);
      } catch (err) {
        if (!cancelled(err)) say(err.message);
      }
    });
  }
})();
