// Signing in the browser: read the representative's key file locally, sign the
// statement the register prepared, send {statement, signature} back.
//
// The key never leaves the browser: the file input has no name and sits in no form,
// it is cleared after use, and only the signature is sent. The statement's bytes are
// the RFC 8785 JSON the server wrote into data-statement, signed as they are.
//
// Key file: C2SP signed-note skey, PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>.
"use strict";

(function () {
  const signer = document.getElementById("signer");
  if (!signer) {
    return;
  }
  const fileInput = document.getElementById("key-file");
  const keyStatus = document.getElementById("key-status");
  const button = document.getElementById("sign-button");
  const outcome = document.getElementById("sign-outcome");
  const offers = Array.from(document.querySelectorAll("#offers [data-statement]"));
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  const templates = document.getElementById("signer-messages").content;

  // ASN.1 PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410 §7) up to the 32-byte seed.
  const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65,
    0x70, 0x04, 0x22, 0x04, 0x20];
  const ED25519_TYPE = 0x01;

  let chosen = null; // {key: CryptoKey, offer: HTMLElement} once a key file matched

  function message(name) {
    const node = templates.querySelector('[data-message="' + name + '"]');
    return node ? node.textContent : name;
  }

  function say(element, text, kind) {
    element.textContent = text;
    element.dataset.kind = kind || "";
  }

  function base64ToBytes(text) {
    const binary = atob(text);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function bytesToBase64(bytes) {
    return btoa(String.fromCharCode.apply(null, new Uint8Array(bytes)));
  }

  // The 32-byte Ed25519 seed in an skey text, or null if it is not one. The base64
  // may itself hold "+", so split as signed-note does: name, then key ID, then the rest.
  function seedFromSkey(text) {
    const match = /^PRIVATE\+KEY\+[^+\s]+\+[0-9a-f]{8}\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
    if (!match) {
      return null;
    }
    let material;
    try {
      material = base64ToBytes(match[1]);
    } catch (error) {
      return null;
    }
    if (material.length !== 33 || material[0] !== ED25519_TYPE) {
      return null;
    }
    const seed = material.slice(1);
    material.fill(0);
    return seed;
  }

  async function importSeed(seed) {
    const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + seed.length);
    pkcs8.set(PKCS8_PREFIX);
    pkcs8.set(seed, PKCS8_PREFIX.length);
    try {
      // Extractable only so that its public half (JWK "x") can be compared below.
      return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    } finally {
      pkcs8.fill(0);
    }
  }

  async function readKeyFile() {
    chosen = null;
    button.disabled = true;
    say(outcome, "");
    const file = fileInput.files[0];
    if (!file) {
      say(keyStatus, "");
      return;
    }
    say(keyStatus, message("reading"));
    const seed = seedFromSkey(await file.text());
    fileInput.value = ""; // the page keeps only the imported key, never the file
    if (seed === null) {
      say(keyStatus, message("not-skey"), "error");
      return;
    }
    let key;
    try {
      key = await importSeed(seed);
    } catch (error) {
      say(keyStatus, message("no-crypto"), "error");
      return;
    } finally {
      seed.fill(0);
    }
    const publicKey = (await crypto.subtle.exportKey("jwk", key)).x;
    const offer = offers.find((o) => o.dataset.publicKey === publicKey);
    if (!offer) {
      say(keyStatus, message("unregistered"), "error");
      return;
    }
    chosen = { key: key, offer: offer };
    say(keyStatus, message("matched") + ": " + offer.dataset.keyId, "ok");
    button.disabled = false;
  }

  async function signAndSend() {
    if (!chosen) {
      return;
    }
    button.disabled = true;
    say(outcome, message("signing"));
    const statementText = chosen.offer.dataset.statement;
    const bytes = new TextEncoder().encode(statementText);
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, chosen.key, bytes);
    chosen = null; // one statement, one signature: choose the key file again to retry
    say(keyStatus, "");
    let response;
    try {
      response = await fetch(signer.dataset.submitUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf.value },
        body: JSON.stringify({
          statement: JSON.parse(statementText),
          signature: bytesToBase64(signature),
        }),
      });
    } catch (error) {
      say(outcome, message("network"), "error");
      return;
    }
    // Not JSON: refused before the signing view (an expired session, a CSRF failure).
    const answer = await response.json().catch(() => ({
      ok: false,
      message: message("http-error") + " (HTTP " + response.status + ")",
    }));
    showOutcome(answer);
  }

  function showOutcome(answer) {
    outcome.replaceChildren();
    const head = document.createElement("p");
    const strong = document.createElement("strong");
    strong.textContent = message(answer.ok ? "recorded" : "refused");
    head.append(strong, " ", answer.message || "");
    outcome.append(head);
    if (answer.ok && answer.letter_url) {
      const link = document.createElement("a");
      link.href = answer.letter_url;
      link.textContent = message("view-letter");
      const line = document.createElement("p");
      line.append(link);
      outcome.append(line);
    }
    if (!answer.ok && answer.detail) {
      const detail = document.createElement("p");
      detail.className = "meta";
      detail.textContent = answer.detail + (answer.code ? " [" + answer.code + "]" : "");
      outcome.append(detail);
    }
    outcome.dataset.kind = answer.ok ? "ok" : "error";
    outcome.focus();
  }

  if (!window.crypto || !crypto.subtle) {
    return; // no Web Crypto (e.g. not a secure context): the command-line way stays
  }
  signer.hidden = false;
  fileInput.addEventListener("change", readKeyFile);
  button.addEventListener("click", signAndSend);
  // A file chosen before this script ran (a slow page) fired no change event here.
  if (fileInput.files.length) {
    readKeyFile();
  }
})();
