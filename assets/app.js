// tapbridge pages: passkey ceremonies and small enhancements. Served from this server only;
// the page's Content-Security-Policy allows no inline script.
"use strict";

const b64url = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode(text) {
    const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out.buffer;
  },
};

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (_) { /* not JSON: keep the generic message */ }
  if (!response.ok) throw new Error(data.error || "Something went wrong. Try again.");
  return data;
}

/** Sentences the page put in `#script-text` (in the page's language). */
function says(name) {
  const el = document.getElementById("script-text");
  return (el && el.dataset[name]) || "";
}

function setStatus(text) {
  const el = document.getElementById("ceremony-status");
  if (el) el.textContent = text;
}

function showError(message) {
  setStatus("");
  const el = document.getElementById("webauthn-error");
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  el.focus();
}

function clearError() {
  const el = document.getElementById("webauthn-error");
  if (el) { el.hidden = true; el.textContent = ""; }
}

function creationOptions(publicKey) {
  const o = structuredClone(publicKey);
  o.challenge = b64url.decode(o.challenge);
  o.user.id = b64url.decode(o.user.id);
  for (const c of o.excludeCredentials || []) c.id = b64url.decode(c.id);
  return o;
}

function requestOptions(publicKey) {
  const o = structuredClone(publicKey);
  o.challenge = b64url.decode(o.challenge);
  for (const c of o.allowCredentials || []) c.id = b64url.decode(c.id);
  return o;
}

function registrationJson(cred) {
  return {
    id: cred.id,
    rawId: b64url.encode(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: b64url.encode(cred.response.attestationObject),
      clientDataJSON: b64url.encode(cred.response.clientDataJSON),
      transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
    },
    extensions: cred.getClientExtensionResults(),
  };
}

function assertionJson(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: b64url.encode(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64url.encode(r.authenticatorData),
      clientDataJSON: b64url.encode(r.clientDataJSON),
      signature: b64url.encode(r.signature),
      userHandle: r.userHandle ? b64url.encode(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  };
}

// Where a page inside an application sign-in goes next. Only a path on this server: a page
// can never send the browser elsewhere.
function nextPath() {
  const next = document.querySelector("[data-page]")?.dataset.next;
  return next && next.startsWith("/") && !next.startsWith("//") ? next : null;
}

function friendly(err) {
  if (err && err.name === "NotAllowedError") return says("cancelled");
  if (err && err.name === "InvalidStateError") return says("exists");
  return (err && err.message) || says("generic");
}

/** While a ceremony runs: the button busy, and a visible, announced "waiting" line. */
function busy(button, on) {
  button.disabled = on;
  if (on) button.setAttribute("aria-busy", "true"); else button.removeAttribute("aria-busy");
  if (on) { clearError(); setStatus(says("waiting")); }
}

async function register(button) {
  busy(button, true);
  try {
    const start = await postJson("/register/options", {});
    const cred = await navigator.credentials.create({ publicKey: creationOptions(start.options.publicKey) });
    const name = document.getElementById("passkey-name")?.value || "";
    const done = await postJson("/register", { ceremony: start.ceremony, name, credential: registrationJson(cred) });
    window.location.assign(nextPath() || done.redirect);
  } catch (err) {
    busy(button, false);
    showError(friendly(err));
  }
}

let pendingSignIn = null;
// Set while one sign-in is being completed: the autofill (conditional) request and the
// button may both obtain a credential, and completing both opened two sessions, the later
// cookie replacing the one the next page was rendered for.
let finishing = false;

async function signIn(mediation) {
  if (finishing) return;
  if (pendingSignIn) pendingSignIn.abort();
  const controller = new AbortController();
  pendingSignIn = controller;
  const start = await postJson("/signin/passkey/options", {});
  const publicKey = requestOptions(start.options.publicKey);
  const request = { publicKey, signal: controller.signal };
  if (mediation) request.mediation = mediation;
  const cred = await navigator.credentials.get(request);
  // Superseded meanwhile (the other request took over), or another is already completing.
  if (controller.signal.aborted || finishing) return;
  finishing = true;
  try {
    const done = await postJson("/signin/passkey", { ceremony: start.ceremony, credential: assertionJson(cred) });
    window.location.assign(nextPath() || done.redirect);
  } catch (err) {
    finishing = false;
    throw err;
  }
}

function setUpSignIn() {
  const button = document.getElementById("passkey-signin");
  button.addEventListener("click", async () => {
    busy(button, true);
    try { await signIn(null); } catch (err) {
      busy(button, false);
      if (err.name !== "AbortError") showError(friendly(err)); else setStatus("");
    }
  });
  // Conditional UI: offer passkeys in the user name field's autofill where supported.
  if (window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
      if (ok) signIn("conditional").catch((err) => { if (err.name !== "AbortError") showError(friendly(err)); });
    });
  }
}

function setUpCopy() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy)?.textContent || "";
      try { await navigator.clipboard.writeText(text.trim()); button.textContent = says("copied"); }
      catch (_) { button.textContent = says("copyFailed"); }
    });
  }
}

/** Times in the viewer's own time zone; the server's UTC text stays as the tooltip. */
function localTimes() {
  const lang = document.documentElement.lang || undefined;
  let format;
  try {
    format = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    });
  } catch (_) { return; }
  for (const el of document.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    el.title = el.textContent;
    el.textContent = format.format(at);
  }
}

/** A form that must not be sent twice (creating a pass): the button is spent once pressed.
    The server ignores a second copy anyway; this only spares the round trip. */
function setUpOnce() {
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", () => {
      for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.querySelector("[data-page]")?.dataset.page;
  if (page === "register") {
    const button = document.getElementById("passkey-register");
    button.addEventListener("click", () => register(button));
  } else if (page === "signin") {
    setUpSignIn();
  } else if (page === "form-post") {
    // The answer to an application (response_mode=form_post): sent on at once.
    document.getElementById("form-post").submit();
  }
  setUpCopy();
  setUpOnce();
  localTimes();
});
