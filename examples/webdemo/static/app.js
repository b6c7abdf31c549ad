// go2fa web demo. No framework, no inline script (the page's
// Content-Security-Policy forbids it), no third-party code.
"use strict";

const COUNTRIES = [
  ["US", "United States", "1"], ["CA", "Canada", "1"], ["GB", "United Kingdom", "44"],
  ["IE", "Ireland", "353"], ["AU", "Australia", "61"], ["NZ", "New Zealand", "64"],
  ["IN", "India", "91"], ["DE", "Germany", "49"], ["FR", "France", "33"],
  ["ES", "Spain", "34"], ["IT", "Italy", "39"], ["PT", "Portugal", "351"],
  ["NL", "Netherlands", "31"], ["BE", "Belgium", "32"], ["CH", "Switzerland", "41"],
  ["AT", "Austria", "43"], ["SE", "Sweden", "46"], ["NO", "Norway", "47"],
  ["DK", "Denmark", "45"], ["FI", "Finland", "358"], ["PL", "Poland", "48"],
  ["CZ", "Czechia", "420"], ["GR", "Greece", "30"], ["RO", "Romania", "40"],
  ["HU", "Hungary", "36"], ["UA", "Ukraine", "380"], ["TR", "Türkiye", "90"],
  ["IL", "Israel", "972"], ["AE", "United Arab Emirates", "971"], ["SA", "Saudi Arabia", "966"],
  ["EG", "Egypt", "20"], ["ZA", "South Africa", "27"], ["NG", "Nigeria", "234"],
  ["KE", "Kenya", "254"], ["MA", "Morocco", "212"], ["BR", "Brazil", "55"],
  ["MX", "Mexico", "52"], ["AR", "Argentina", "54"], ["CL", "Chile", "56"],
  ["CO", "Colombia", "57"], ["PE", "Peru", "51"], ["JP", "Japan", "81"],
  ["KR", "South Korea", "82"], ["CN", "China", "86"], ["HK", "Hong Kong", "852"],
  ["TW", "Taiwan", "886"], ["SG", "Singapore", "65"], ["MY", "Malaysia", "60"],
  ["ID", "Indonesia", "62"], ["PH", "Philippines", "63"], ["TH", "Thailand", "66"],
  ["VN", "Vietnam", "84"], ["PK", "Pakistan", "92"], ["BD", "Bangladesh", "880"],
];

const $ = (id) => document.getElementById(id);

let codeLength = 6;
let channels = ["sms", "call"];
// The verification in progress.
let current = null; // {to, expiresAt, resendAt}
let timer = 0;
// Whether the server falls back from an undelivered SMS to a call, and the
// poll that asks it whether it did.
let fallback = false;
let fallbackPoll = 0;

function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

async function postJSON(path, body) {
  let resp;
  try {
    resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    return { status: 0, data: { error: "network error", code: "network" } };
  }
  let data = {};
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  return { status: resp.status, data: data, retryAfter: Number(resp.headers.get("Retry-After") || 0) };
}

function startMessage(res) {
  const d = res.data;
  switch (d.code) {
    case "invalid_number": return "That doesn't look like a valid phone number for the country you picked.";
    case "country_not_allowed": return "Sorry, we can't send codes to that country.";
    case "channel_not_allowed": return "That way of sending codes is not available here.";
    case "vetoed": return "Sorry, we can't send codes to that number.";
    case "number_type_not_allowed": return "Sorry, we can't send codes to premium-rate, shared-cost or other paid numbers. Please use a mobile number.";
    case "rate_limited": return "Too many codes requested. Try again in " + plural(d.retry_after || res.retryAfter || 1, "second") + ".";
    case "send_failed": return "We couldn't send the code. Try again, or ask for a call.";
    case "unavailable": return "The service is unavailable. Try again in a moment.";
    case "network": return "Can't reach the server. Check your connection.";
  }
  return d.error || "Something went wrong (" + res.status + ").";
}

function show(id) {
  for (const s of ["phone-form", "code-form", "verified"]) $(s).hidden = s !== id;
}

function fullNumber() {
  const raw = $("phone").value.trim();
  if (raw.startsWith("+")) return raw;
  const dial = $("country").selectedOptions[0].dataset.dial;
  return "+" + dial + " " + raw;
}

const SENT_ON = { sms: "by SMS", whatsapp: "on WhatsApp" };

function send(event) {
  event.preventDefault();
  startOn("sms", $("send"));
}

function sendWhatsApp() {
  startOn("whatsapp", $("send-wa"));
}

async function startOn(channel, btn) {
  const err = $("phone-error");
  err.textContent = "";
  if ($("phone").value.trim() === "") {
    err.textContent = "Enter your phone number.";
    $("phone").focus();
    return;
  }
  btn.disabled = true;
  const res = await postJSON("/api/verifications", { to: fullNumber(), channel: channel });
  btn.disabled = false;
  if (res.status !== 202) {
    err.textContent = startMessage(res);
    $("phone").focus();
    return;
  }
  begin(res.data, "We sent a code " + SENT_ON[channel] + " to " + res.data.to + ".");
}

function begin(d, text) {
  const now = Date.now();
  current = { to: d.to, channel: d.channel, expiresAt: now + d.expires_in * 1000, resendAt: now + d.resend_in * 1000 };
  $("sent-to").textContent = text;
  $("code").value = "";
  $("code-error").textContent = "";
  $("verify").disabled = false;
  $("call-me").hidden = true;
  $("sms-me").hidden = true;
  $("call-me").textContent = d.channel === "call" ? "Call me again" : d.channel === "whatsapp" ? "Didn't receive it? Call me" : "Didn't receive the SMS? Call me";
  show("code-form");
  $("code").focus();
  tick();
  clearInterval(timer);
  timer = setInterval(tick, 1000);
  clearInterval(fallbackPoll);
  if (fallback && d.channel === "sms") fallbackPoll = setInterval(checkFallback, 2000);
}

// checkFallback asks whether the SMS could not be delivered and the server
// is calling instead (GET /api/fallback, bound to this browser's session).
async function checkFallback() {
  if (!current || Date.now() > current.expiresAt) { clearInterval(fallbackPoll); return; }
  let d;
  try {
    const r = await fetch("/api/fallback", { cache: "no-store" });
    d = await r.json();
  } catch (e) {
    return;
  }
  if (d && d.fallback === "call") {
    clearInterval(fallbackPoll);
    $("sent-to").textContent = "We couldn't deliver the SMS; we're calling you. Answer to hear your code.";
    $("call-status").textContent = "Calling you now…";
  }
}

function tick() {
  if (!current) return;
  const now = Date.now();
  const left = (current.expiresAt - now) / 1000;
  if (left > 0) {
    $("countdown").textContent = "Code expires in " + mmss(left);
  } else {
    $("countdown").textContent = "The code has expired.";
    $("verify").disabled = true;
  }
  const wait = (current.resendAt - now) / 1000;
  const canCall = channels.includes("call");
  const canSMS = current.channel === "whatsapp" && channels.includes("sms");
  if ((canCall || canSMS) && wait > 0) {
    $("call-wait").textContent = (current.channel === "call" ? "You can ask for another call in " :
      canSMS ? "Didn't get it? You can ask for an SMS in " : "Didn't get it? You can ask for a call in ") + mmss(wait) + ".";
    $("call-me").hidden = true;
    $("sms-me").hidden = true;
  } else {
    $("call-wait").textContent = "";
    $("call-me").hidden = !canCall;
    $("sms-me").hidden = !canSMS;
  }
}

async function verify(event) {
  event.preventDefault();
  const err = $("code-error");
  err.textContent = "";
  const code = $("code").value.trim();
  if (!new RegExp("^[0-9]{" + codeLength + "}$").test(code)) {
    err.textContent = "Enter the " + codeLength + "-digit code.";
    $("code").focus();
    return;
  }
  $("verify").disabled = true;
  const res = await postJSON("/api/verifications/check", { to: current.to, code: code });
  $("verify").disabled = false;
  const d = res.data;
  if (res.status === 200 && d.status === "approved") {
    clearInterval(timer);
    clearInterval(fallbackPoll);
    $("verified-text").textContent = current.to + " is verified.";
    current = null;
    show("verified");
    document.querySelector("#verified h2").focus();
    return;
  }
  switch (d.status) {
    case "rejected":
      err.textContent = "That code is not right. " + plural(d.remaining, "attempt") + " left.";
      $("code").select();
      $("code").focus();
      return;
    case "locked":
      err.textContent = "Too many wrong codes. Start again to get a new one.";
      $("verify").disabled = true;
      return;
    case "expired":
      err.textContent = "This code has expired or was already used. Start again to get a new one.";
      $("verify").disabled = true;
      return;
  }
  err.textContent = d.code === "invalid_code" ? "Enter the " + codeLength + "-digit code." : startMessage(res);
}

async function callMe() {
  if (!current) return;
  $("call-status").textContent = "";
  $("code-error").textContent = "";
  const btn = $("call-me");
  btn.disabled = true;
  const res = await postJSON("/api/verifications", { to: current.to, channel: "call" });
  btn.disabled = false;
  if (res.status !== 202) {
    $("code-error").textContent = startMessage(res);
    return;
  }
  begin(res.data, "We are calling " + res.data.to + ". Answer to hear your code.");
  $("call-status").textContent = "Calling you now…";
}

async function smsMe() {
  if (!current) return;
  $("call-status").textContent = "";
  $("code-error").textContent = "";
  const btn = $("sms-me");
  btn.disabled = true;
  const res = await postJSON("/api/verifications", { to: current.to, channel: "sms" });
  btn.disabled = false;
  if (res.status !== 202) {
    $("code-error").textContent = startMessage(res);
    return;
  }
  begin(res.data, "We sent a code by SMS to " + res.data.to + ".");
}

function restart() {
  clearInterval(timer);
  clearInterval(fallbackPoll);
  current = null;
  $("phone-error").textContent = "";
  $("call-status").textContent = "";
  show("phone-form");
  $("phone").focus();
}

// --- Authenticator app (TOTP) ------------------------------------------------

let enrollment = "";

function showTOTP(id) {
  for (const s of ["totp-start", "totp-form", "totp-verified"]) $(s).hidden = s !== id;
}

async function enroll() {
  $("enroll-error").textContent = "";
  $("enroll").disabled = true;
  const res = await postJSON("/api/totp/enroll", {});
  $("enroll").disabled = false;
  if (res.status !== 201) {
    $("enroll-error").textContent = res.data.error || "Could not create a key.";
    return;
  }
  enrollment = res.data.enrollment;
  $("qr").src = res.data.qr;
  $("totp-secret").textContent = res.data.secret.replace(/(.{4})/g, "$1 ").trim();
  $("totp-account").textContent = res.data.account;
  $("totp-code").value = "";
  $("totp-error").textContent = "";
  showTOTP("totp-form");
  $("totp-code").focus();
}

async function totpVerify(event) {
  event.preventDefault();
  const err = $("totp-error");
  err.textContent = "";
  const code = $("totp-code").value.trim();
  if (!/^[0-9]{6}$/.test(code)) {
    err.textContent = "Enter the 6-digit code from your app.";
    $("totp-code").focus();
    return;
  }
  $("totp-verify").disabled = true;
  const res = await postJSON("/api/totp/verify", { enrollment: enrollment, code: code });
  $("totp-verify").disabled = false;
  const d = res.data;
  switch (d.status) {
    case "approved":
      showRecoveryCodes(d.recovery_codes);
      showTOTP("totp-verified");
      document.querySelector("#totp-verified h2").focus();
      return;
    case "rejected":
      err.textContent = "That code is not right. " + plural(d.remaining, "attempt") + " left.";
      break;
    case "replayed":
      err.textContent = "That code was already used. Wait for the next one.";
      break;
    case "locked":
      err.textContent = "Too many wrong codes. Wait a few minutes and try again.";
      break;
    case "unknown":
      err.textContent = "This key has expired. Start again.";
      break;
    default:
      err.textContent = d.error || "Something went wrong (" + res.status + ").";
  }
  $("totp-code").select();
  $("totp-code").focus();
}

// showRecoveryCodes lists the codes the first approval returns; the server
// never shows them again.
function showRecoveryCodes(codes) {
  const list = $("recovery-codes");
  list.replaceChildren();
  for (const c of codes || []) {
    const li = document.createElement("li");
    li.textContent = c;
    list.appendChild(li);
  }
  $("recovery").hidden = !codes || codes.length === 0;
  $("recover-result").textContent = "";
  $("recover-code").value = "";
}

async function recover(event) {
  event.preventDefault();
  const out = $("recover-result");
  const res = await postJSON("/api/totp/recover", { enrollment: enrollment, code: $("recover-code").value.trim() });
  const d = res.data;
  switch (d.status) {
    case "approved":
      out.textContent = "Recovery code accepted. " + plural(d.left, "code") + " left.";
      $("recover-code").value = "";
      return;
    case "rejected":
      out.textContent = "That recovery code is not valid (used, or never issued). " + plural(d.remaining, "attempt") + " left.";
      return;
    case "locked":
      out.textContent = "Too many wrong recovery codes. Wait a few minutes.";
      return;
  }
  out.textContent = d.error || "Something went wrong (" + res.status + ").";
}

function totpRestart() {
  enrollment = "";
  $("qr").removeAttribute("src");
  showTOTP("totp-start");
  $("enroll").focus();
}

// --- Confirm a payment ---------------------------------------------------------

let payment = null; // {to}

function showPay(id) {
  for (const s of ["pay-form", "pay-code-form", "pay-done"]) $(s).hidden = s !== id;
}

async function paySend(event) {
  event.preventDefault();
  const err = $("pay-error");
  err.textContent = "";
  $("pay-send").disabled = true;
  let res = await postJSON("/api/payments/new", {
    amount: $("pay-amount").value.trim(), currency: $("pay-currency").value.trim(), payee: $("pay-payee").value,
  });
  if (res.status === 201) {
    res = await postJSON("/api/payments/verifications", { to: $("pay-phone").value.trim(), channel: "sms" });
  }
  $("pay-send").disabled = false;
  if (res.status !== 202) {
    switch (res.data.code) {
      case "invalid_transaction": err.textContent = res.data.error || "This payment cannot be confirmed."; break;
      case "transaction_too_long": err.textContent = "The payee's name is too long for one text message. Shorten it."; break;
      default: err.textContent = startMessage(res);
    }
    return;
  }
  payment = { to: res.data.to };
  // The amount and payee shown are the server's, as the SMS states them.
  $("pay-amount-shown").textContent = res.data.transaction.amount;
  $("pay-payee-shown").textContent = res.data.transaction.payee;
  $("pay-code").value = "";
  $("pay-code-error").textContent = "";
  $("pay-verify").disabled = false;
  showPay("pay-code-form");
  $("pay-code").focus();
}

async function payVerify(event) {
  event.preventDefault();
  const err = $("pay-code-error");
  err.textContent = "";
  const code = $("pay-code").value.trim();
  if (!new RegExp("^[0-9]{" + codeLength + "}$").test(code)) {
    err.textContent = "Enter the " + codeLength + "-digit code.";
    return;
  }
  $("pay-verify").disabled = true;
  const res = await postJSON("/api/payments/verifications/check", { to: payment.to, code: code });
  $("pay-verify").disabled = false;
  const d = res.data;
  switch (d.status) {
    case "approved":
      $("pay-done-text").textContent = "You approved " + $("pay-amount-shown").textContent + " to " + $("pay-payee-shown").textContent + ".";
      showPay("pay-done");
      document.querySelector("#pay-done h2").focus();
      return;
    case "rejected":
      err.textContent = "That code does not approve this payment. " + plural(d.remaining, "attempt") + " left.";
      return;
    case "locked":
    case "expired":
      err.textContent = "This code can no longer be used. Start again.";
      $("pay-verify").disabled = true;
      return;
  }
  err.textContent = d.error || startMessage(res);
}

function payRestart() {
  payment = null;
  $("pay-error").textContent = "";
  showPay("pay-form");
  $("pay-amount").focus();
}

// --- Tabs ---------------------------------------------------------------------

function selectTab(tab) {
  for (const t of document.querySelectorAll("[role=tab]")) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  tab.focus();
}

function tabKeys(event) {
  const tabs = Array.from(document.querySelectorAll("[role=tab]"));
  const i = tabs.indexOf(event.target);
  let next = -1;
  if (event.key === "ArrowRight") next = (i + 1) % tabs.length;
  if (event.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
  if (event.key === "Home") next = 0;
  if (event.key === "End") next = tabs.length - 1;
  if (next >= 0) {
    event.preventDefault();
    selectTab(tabs[next]);
  }
}

// --- Start ----------------------------------------------------------------------

function init() {
  const select = $("country");
  for (const [iso, name, dial] of COUNTRIES) {
    const o = document.createElement("option");
    o.value = iso;
    o.dataset.dial = dial;
    o.textContent = name + " (+" + dial + ")";
    select.appendChild(o);
  }
  select.value = "US";
  select.addEventListener("change", () => { $("dial").textContent = "+" + select.selectedOptions[0].dataset.dial; });
  $("phone-form").addEventListener("submit", send);
  $("code-form").addEventListener("submit", verify);
  $("call-me").addEventListener("click", callMe);
  $("sms-me").addEventListener("click", smsMe);
  $("send-wa").addEventListener("click", sendWhatsApp);
  for (const b of document.querySelectorAll(".restart")) b.addEventListener("click", restart);
  $("enroll").addEventListener("click", enroll);
  $("totp-form").addEventListener("submit", totpVerify);
  for (const b of document.querySelectorAll(".totp-restart")) b.addEventListener("click", totpRestart);
  $("recover-form").addEventListener("submit", recover);
  $("pay-form").addEventListener("submit", paySend);
  $("pay-code-form").addEventListener("submit", payVerify);
  for (const b of document.querySelectorAll(".pay-restart")) b.addEventListener("click", payRestart);
  for (const t of document.querySelectorAll("[role=tab]")) {
    t.addEventListener("click", () => selectTab(t));
    t.addEventListener("keydown", tabKeys);
  }
  fetch("/api/config", { cache: "no-store" }).then((r) => r.json()).then((c) => {
    codeLength = c.code_length || 6;
    channels = c.channels || channels;
    fallback = c.fallback === true;
    $("send-wa").hidden = !channels.includes("whatsapp");
    $("code").maxLength = codeLength;
    $("pay-code").maxLength = codeLength;
  }).catch(() => {});
  document.body.dataset.ready = "true";
}

init();
