// Staff console over /console/api (CONTRACT.md "Staff console API"). No inline script:
// the page's CSP forbids it. Lists and the transcript are updated in place (keyed by
// session id / turn id), never redrawn whole, so polling does not lose the reader's
// place, focus or selection.
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage; // per tab: survives a reload, not shared
const POLL_MS = 2000;
const SLOW_EVERY = 10; // stats and the audit log: every 10th poll
const PAGE = 30;
const LIVE = new Set(["requested", "accepted"]);
const FLAG_NAMES = { fallback: "fallback", low_confidence: "low confidence",
  handoff: "handoff", negative_feedback: "thumbs down" };

let current = null; // session id on screen
let currentState = "";
let wanted = PAGE; // conversations shown
let polls = 0;
let refreshing = null;

// --- tokens -------------------------------------------------------------------------

function claims() {
  try {
    const part = store.getItem("console.token").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) { return {}; }
}
const isSupervisor = () => (claims().roles || []).includes("supervisor");

function keepTokens(pair) {
  store.setItem("console.token", pair.access_token);
  store.setItem("console.refresh", pair.refresh_token);
}

async function refreshTokens() {
  // One refresh at a time: a refresh token is single-use.
  if (!refreshing) {
    refreshing = (async () => {
      const refresh = store.getItem("console.refresh");
      if (!refresh) return false;
      const response = await fetch("/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      }).catch(() => null);
      if (!response || !response.ok) return false;
      keepTokens(await response.json());
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function request(path, options = {}, retried = false) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${store.getItem("console.token")}`,
               "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401 && !retried && await refreshTokens()) {
    return request(path, options, true);
  }
  if (response.status === 401) { signOut("Your session ended; sign in again."); throw new Error("signed out"); }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || problem.title || `HTTP ${response.status}`);
  }
  return response;
}

async function api(path, options) { return (await request(path, options)).json(); }

// --- signing in and out ------------------------------------------------------------------

function showDesk() {
  $("staff").textContent = `· ${store.getItem("console.user") || claims().username || ""}`;
  $("login-panel").hidden = true;
  $("desk").hidden = false;
  $("signout-button").hidden = false;
  $("supervisor-panel").hidden = !isSupervisor();
  refresh(true);
}

function signOut(message) {
  ["console.token", "console.refresh", "console.user", "console.current"].forEach((k) => store.removeItem(k));
  current = null;
  $("desk").hidden = true;
  $("signout-button").hidden = true;
  $("login-panel").hidden = false;
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
  $("transcript").replaceChildren();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
  const response = await fetch("/auth/token", { method: "POST", body: form }).catch(() => null);
  const body = response ? await response.json().catch(() => ({})) : {};
  if (!response || !response.ok) { signOut(body.detail || "Sign-in failed."); return; }
  keepTokens(body);
  store.setItem("console.user", $("username").value);
  try { await api("/console/api/handoffs"); } catch (error) { signOut(error.message); return; }
  $("password").value = "";
  showDesk();
});
$("signout-button").addEventListener("click", () => signOut(""));

function showError(message) {
  $("console-error").textContent = message;
  $("console-error").hidden = !message;
}

// --- keyed lists: update in place ------------------------------------------------------

function sync(list, rows, keyOf, make, fill) {
  const keep = new Set();
  rows.forEach((row, i) => {
    const key = keyOf(row);
    keep.add(key);
    let el = list.querySelector(`:scope > [data-key="${CSS.escape(key)}"]`);
    if (!el) { el = make(row); el.dataset.key = key; }
    const signature = JSON.stringify(row);
    if (el.dataset.signature !== signature) { fill(el, row); el.dataset.signature = signature; }
    if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
  });
  [...list.children].forEach((el) => { if (!keep.has(el.dataset.key)) el.remove(); });
}

function itemButton(cls) {
  return () => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = cls;
    button.addEventListener("click", () => openSession(li.dataset.key));
    li.append(button);
    return li;
  };
}

function filters() {
  const params = new URLSearchParams();
  const add = (name, value) => { if (value) params.append(name, value); };
  add("q", $("search-text").value.trim());
  add("customer", $("customer-filter").value.trim());
  add("tag", $("tag-filter").value.trim().toLowerCase());
  add("from", $("from-filter").value);
  add("to", $("to-filter").value);
  for (const chip of document.querySelectorAll("#chips .chip[aria-pressed=true]")) {
    if (chip.dataset.flag) add("flag", chip.dataset.flag);
    if (chip.dataset.reviewed) add("reviewed", chip.dataset.reviewed);
  }
  return params;
}

async function refreshLists() {
  const queue = await api("/console/api/handoffs");
  const rows = queue.data.length ? queue.data : [{ session_id: "", state: "empty" }];
  sync($("queue"), rows, (h) => h.session_id || "empty", itemButton(""), (li, h) => {
    const button = li.firstChild;
    button.className = h.state;
    button.disabled = !h.session_id;
    button.textContent = h.session_id
      ? `${h.state === "requested" ? "Waiting" : `With ${h.agent}`} · ${h.customer_id || "guest"} · ${h.session_id.slice(0, 8)}`
      : "Nobody is waiting.";
  });
  const held = queue.data.find((h) => h.session_id === current);
  currentState = held ? held.state : "";

  const params = filters();
  params.set("limit", String(wanted));
  const page = await api(`/console/api/sessions?${params}`);
  const shown = page.data.map((s) => ({ ...s, current: s.session_id === current }));
  sync($("sessions"), shown, (s) => s.session_id, itemButton(""), (li, s) => {
    const button = li.firstChild;
    button.replaceChildren(`${new Date(s.last_at).toLocaleString()} · ${s.customer_username || s.customer_id || "guest"} · ${s.turns} turns`
      + `${s.rating ? ` · ★${s.rating}` : ""}${s.reviewed ? " · reviewed" : ""}${s.tags.length ? ` · #${s.tags.join(" #")}` : ""}`);
    for (const flag of s.flags) {
      button.append(Object.assign(document.createElement("span"), { className: "flag", textContent: FLAG_NAMES[flag] }));
    }
    button.setAttribute("aria-current", s.current ? "true" : "false");
  });
  $("more-sessions").hidden = !page.next_cursor || wanted >= 200;
}

async function refreshSlow() {
  const today = new Date().toISOString().slice(0, 10);
  const s = await api(`/console/api/stats?from=${today}&to=${today}`);
  $("stats").textContent = `${s.conversations} conversations · ${s.turns} turns · fallback ${(s.fallback_rate * 100).toFixed(1)} %`
    + ` · ${s.handoffs} handoffs · 👍 ${s.feedback.up} 👎 ${s.feedback.down}`
    + ` · ${s.ratings.count ? `rated ${s.ratings.mean} by ${s.ratings.count}` : "no ratings"}`;
  if (!isSupervisor()) return;
  const audit = await api("/console/api/audit?limit=50");
  sync($("audit"), audit.data, (a) => `${a.at}|${a.staff}|${a.action}|${a.target}`,
    () => document.createElement("li"),
    (li, a) => { li.textContent = `${new Date(a.at).toLocaleString()} · ${a.staff} · ${a.action} · ${a.target}`; });
}

// --- the conversation ----------------------------------------------------------------------

function line(cls, text, meta) {
  const div = document.createElement("div");
  div.className = `msg ${cls}`;
  div.textContent = text;
  if (meta) div.append(Object.assign(document.createElement("span"), { className: "meta", textContent: meta }));
  return div;
}

function fillTurn(box, t) {
  const when = new Date(t.created_at).toLocaleTimeString();
  const out = [];
  if (t.user_text) {
    const meta = t.kind === "to_agent" ? `${when} · to the agent`
      : `${when} · ${t.intent || "no intent"}${t.confidence != null ? ` ${t.confidence.toFixed(2)}` : ""}`
        + `${t.fallback ? " · fallback" : ""}${t.failed ? " · failed" : ""}${t.label ? ` · labelled ${t.label}` : ""}`;
    const user = line("user", t.user_text, meta);
    if (t.kind === "bot") {
      const label = Object.assign(document.createElement("button"), {
        type: "button", className: "label-button", textContent: "label" });
      label.addEventListener("click", () => labelTurn(t));
      user.append(label);
    }
    out.push(user);
  }
  const votes = new Map(t.feedback.map((f) => [f.seq, f]));
  for (const r of t.replies) {
    let el = null;
    if (r.type === "agent") el = line("agent", `${r.agent}: ${r.text}`, when);
    else if (r.type === "handoff") el = line("note", `handoff ${r.state}`, when);
    else if (r.text) el = line("bot", r.text, (r.buttons || []).map((b) => b.title).join(" | "));
    const vote = votes.get(r.seq);
    if (el && vote) {
      el.append(Object.assign(document.createElement("span"), { className: "feedback",
        textContent: `customer: ${vote.value === "up" ? "👍" : "👎"}${vote.comment ? ` “${vote.comment}”` : ""}` }));
    }
    if (el) out.push(el);
  }
  box.replaceChildren(...out);
}

function renderTranscript(t) {
  const log = $("transcript");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const before = log.children.length;
  sync(log, t.data, (turn) => String(turn.turn_id), () => {
    const box = document.createElement("div");
    box.className = "turn";
    return box;
  }, fillTurn);
  if (atBottom || log.children.length > before) log.scrollTop = log.scrollHeight;

  $("review-panel").hidden = false;
  $("notes-panel").hidden = false;
  const who = [t.customer_username, t.customer_name, t.customer_id].filter(Boolean).join(" · ") || "guest";
  $("customer-line").textContent = `${who}${t.rating ? ` · rated ★${t.rating.score}${t.rating.comment ? ` “${t.rating.comment}”` : ""}` : ""}`;
  $("reviewed-box").checked = t.reviewed;
  renderTags(t.tags);
  sync($("notes"), t.notes, (n) => String(n.id), () => document.createElement("li"),
    (li, n) => { li.textContent = `${new Date(n.created_at).toLocaleString()} · ${n.staff}: ${n.text}`; });
}

function renderTags(tags) {
  sync($("tags"), tags, (tag) => tag, (tag) => {
    const chip = Object.assign(document.createElement("button"), { type: "button", className: "chip" });
    chip.title = `Remove tag ${tag}`;
    chip.addEventListener("click", () => act(`/console/api/sessions/${current}/tags/${encodeURIComponent(tag)}`,
      null, "DELETE").then((r) => r && renderTags(r.tags)));
    return chip;
  }, (chip, tag) => {
    chip.replaceChildren(tag, Object.assign(document.createElement("span"), { className: "remove", textContent: "×" }));
  });
}

async function loadTranscript() {
  if (!current) return;
  const sid = current;
  const t = await api(`/console/api/sessions/${sid}/transcript`);
  if (sid === current) renderTranscript(t);
}

function updateControls() {
  const state = current ? currentState : "";
  $("conversation-state").textContent = !current ? "Pick a conversation."
    : state === "requested" ? "The customer is waiting for a person."
    : state === "accepted" ? "Taken over: the bot is paused for this customer." : "The bot is handling this conversation.";
  $("accept-button").disabled = state !== "requested";
  $("end-button").disabled = state !== "accepted" && state !== "requested";
  $("reload-button").disabled = !current;
  $("agent-text").disabled = $("agent-send").disabled = state !== "accepted";
}

async function openSession(sessionId) {
  if (!sessionId) return;
  if (sessionId !== current) $("transcript").replaceChildren();
  current = sessionId;
  store.setItem("console.current", sessionId);
  $("conversation-id").textContent = sessionId.slice(0, 12);
  await refresh(true);
}

// Lists every poll; the open transcript too while the conversation is live (each read
// is an audited view, so a finished conversation is read once, then on Reload).
async function refresh(withTranscript = false) {
  if (!store.getItem("console.token")) return;
  try {
    await refreshLists();
    if (current && (withTranscript || LIVE.has(currentState))) await loadTranscript();
    if (polls++ % SLOW_EVERY === 0) await refreshSlow();
    updateControls();
    showError("");
  } catch (error) { if (store.getItem("console.token")) showError(error.message); }
}

async function act(path, body, method = "POST") {
  try {
    return await api(path, { method, body: body ? JSON.stringify(body) : undefined });
  } catch (error) { showError(error.message); return null; }
}

async function labelTurn(t) {
  const intent = window.prompt(`The right intent for “${t.user_text}”`, t.label || t.intent || "");
  if (!intent) return;
  if (await act(`/console/api/turns/${t.turn_id}/label`, { intent: intent.trim() })) await loadTranscript();
}

async function download(path, filename) {
  try {
    const blob = await (await request(path)).blob();
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: filename });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) { showError(error.message); }
}

$("accept-button").addEventListener("click", async () => { await act(`/console/api/sessions/${current}/accept`); refresh(true); });
$("end-button").addEventListener("click", async () => { await act(`/console/api/sessions/${current}/end`); refresh(true); });
$("reload-button").addEventListener("click", () => refresh(true));
$("agent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("agent-text").value.trim();
  if (!text) return;
  $("agent-text").value = "";
  await act(`/console/api/sessions/${current}/messages`, { text });
  refresh(true);
});
$("tag-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const tag = $("tag-text").value.trim().toLowerCase();
  if (!tag || !current) return;
  const result = await act(`/console/api/sessions/${current}/tags`, { tag });
  if (result) { $("tag-text").value = ""; renderTags(result.tags); }
});
$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text || !current) return;
  if (await act(`/console/api/sessions/${current}/notes`, { text })) { $("note-text").value = ""; loadTranscript(); }
});
$("reviewed-box").addEventListener("change", () =>
  act(`/console/api/sessions/${current}/review`, { reviewed: $("reviewed-box").checked }));
$("filter-form").addEventListener("submit", (event) => { event.preventDefault(); wanted = PAGE; refresh(); });
$("clear-filters").addEventListener("click", () => {
  $("filter-form").reset();
  document.querySelectorAll("#chips .chip").forEach((c) => c.setAttribute("aria-pressed", "false"));
  wanted = PAGE; refresh();
});
$("chips").addEventListener("click", (event) => {
  const chip = event.target.closest(".chip");
  if (!chip) return;
  chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
  wanted = PAGE; refresh();
});
$("more-sessions").addEventListener("click", () => { wanted = Math.min(wanted + PAGE, 200); refresh(); });
$("export-jsonl").addEventListener("click", () => download(`/console/api/export?format=jsonl&${filters()}`, "transcripts.jsonl"));
$("export-csv").addEventListener("click", () => download(`/console/api/export?format=csv&${filters()}`, "transcripts.csv"));
$("training-data").addEventListener("click", () => download(`/console/api/training-data?${filters()}`, "nlu.yml"));
$("erase-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const who = $("erase-customer").value.trim();
  if (!who || !window.confirm(`Erase every conversation of ${who}? This cannot be undone.`)) return;
  const result = await act(`/console/api/customers/${encodeURIComponent(who)}/conversations`, null, "DELETE");
  if (result) {
    $("erase-customer").value = "";
    window.alert(`Erased ${result.erased_sessions} conversation(s).`);
    polls = 0; refresh();
  }
});

setInterval(refresh, POLL_MS);
// A reload keeps the staff member signed in (the access token is refreshed when it
// has expired) and on the conversation they had open.
if (store.getItem("console.token")) {
  current = store.getItem("console.current");
  if (current) $("conversation-id").textContent = current.slice(0, 12);
  showDesk();
}
