// Staff console: polls the console API (no inline script: the page's CSP forbids it).
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
let token = null;
let current = null; // session id on screen
let currentState = "";

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json",
               ...(options.headers || {}) },
  });
  if (response.status === 401) { signOut("Your session ended; sign in again."); throw new Error("401"); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.detail || `HTTP ${response.status}`);
  return body;
}

function showError(message) {
  $("console-error").textContent = message;
  $("console-error").hidden = !message;
}

function signOut(message) {
  token = null;
  $("desk").hidden = true;
  $("login-panel").hidden = false;
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
  const response = await fetch("/auth/token", { method: "POST", body: form });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) { signOut(body.detail || "Sign-in failed."); return; }
  token = body.access_token;
  try { await api("/console/api/handoffs"); } catch (error) {
    if (token) signOut(error.message); return;
  }
  $("staff").textContent = `· ${$("username").value}`;
  $("login-panel").hidden = true;
  $("desk").hidden = false;
  refresh();
});

function item(label, cls, sessionId) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = cls;
  button.textContent = label;
  button.addEventListener("click", () => openSession(sessionId));
  li.append(button);
  return li;
}

async function refreshLists() {
  const queue = await api("/console/api/handoffs");
  $("queue").replaceChildren(...queue.data.map((h) => item(
    `${h.state === "requested" ? "Waiting" : `With ${h.agent}`} · ${h.customer_id || "guest"} · ${h.session_id.slice(0, 8)}`,
    h.state, h.session_id)));
  if (!queue.data.length) $("queue").replaceChildren(Object.assign(document.createElement("li"), { textContent: "Nobody is waiting." }));
  const filter = $("customer-filter").value.trim();
  const sessions = await api(`/console/api/sessions?limit=30${filter ? `&customer_id=${encodeURIComponent(filter)}` : ""}`);
  $("sessions").replaceChildren(...sessions.data.map((s) => item(
    `${new Date(s.last_at).toLocaleString()} · ${s.customer_id || "guest"} · ${s.turns} turns` +
    `${s.fallbacks ? ` · ${s.fallbacks} fallback` : ""}${s.handoff ? " · handoff" : ""}`,
    "", s.session_id)));
  const held = queue.data.find((h) => h.session_id === current);
  currentState = held ? held.state : "";
}

function line(cls, text, meta) {
  const div = document.createElement("div");
  div.className = `msg ${cls}`;
  div.textContent = text;
  if (meta) div.append(Object.assign(document.createElement("span"), { className: "meta", textContent: meta }));
  return div;
}

function render(turns) {
  const out = [];
  for (const t of turns) {
    const when = new Date(t.created_at).toLocaleTimeString();
    if (t.user_text) {
      const meta = t.kind === "to_agent" ? `${when} · to the agent`
        : `${when} · ${t.intent || "no intent"}${t.confidence != null ? ` ${t.confidence.toFixed(2)}` : ""}` +
          `${t.fallback ? " · fallback" : ""}${t.failed ? " · failed" : ""}`;
      out.push(line("user", t.user_text, meta));
    }
    for (const r of t.replies) {
      if (r.type === "agent") out.push(line("agent", `${r.agent}: ${r.text}`, when));
      else if (r.type === "handoff") out.push(line("note", `handoff ${r.state}`, when));
      else if (r.text) out.push(line("bot", r.text, (r.buttons || []).map((b) => b.title).join(" | ")));
    }
  }
  $("transcript").replaceChildren(...out);
  $("transcript").scrollTop = $("transcript").scrollHeight;
}

function updateControls() {
  const state = current ? currentState : "";
  $("conversation-state").textContent = !current ? "Pick a conversation."
    : state === "requested" ? "The customer is waiting for a person."
    : state === "accepted" ? "Taken over: the bot is paused for this customer." : "The bot is handling this conversation.";
  $("accept-button").disabled = state !== "requested";
  $("end-button").disabled = state !== "accepted" && state !== "requested";
  $("agent-text").disabled = $("agent-send").disabled = state !== "accepted";
}

async function openSession(sessionId) {
  current = sessionId;
  $("conversation-id").textContent = sessionId.slice(0, 12);
  await refresh();
}

async function refresh() {
  if (!token) return;
  try {
    await refreshLists();
    if (current) render((await api(`/console/api/sessions/${current}/transcript`)).data);
    updateControls();
    showError("");
  } catch (error) { if (token) showError(error.message); }
}

async function act(path, body) {
  try {
    await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
    await refresh();
  } catch (error) { showError(error.message); }
}

$("accept-button").addEventListener("click", () => act(`/console/api/sessions/${current}/accept`));
$("end-button").addEventListener("click", () => act(`/console/api/sessions/${current}/end`));
$("agent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("agent-text").value.trim();
  if (!text) return;
  $("agent-text").value = "";
  await act(`/console/api/sessions/${current}/messages`, { text });
});
$("filter-form").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
setInterval(refresh, POLL_MS);
