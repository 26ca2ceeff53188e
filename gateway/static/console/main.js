// Staff console over /console/api (CONTRACT.md "Staff console API"). No inline script:
// the page's CSP forbids it. Nothing polls: the live stream (live.js) says what
// changed and only that is re-read and updated in place.
import { api, claims, forgetTokens, isSupervisor, keepTokens, store, whenSignedOut } from "./api.js";
import { current, loadTranscript, setCurrent, updateControls, wireConversation } from "./conversation.js";
import { refreshDashboard } from "./dashboard.js";
import { $, debounce, show } from "./dom.js";
import { connectLive } from "./live.js";
import { morePages, refreshQueue, refreshSessions, resetPaging, tickWaits } from "./lists.js";
import { describeFilters, refreshAudit, wireSupervision } from "./supervision.js";

let disconnect = null;
let view = "work-view";

async function guarded(work) {
  try { await work(); } catch (error) { if (store.getItem("console.token")) show("console-error", error.message); }
}

const queueNow = () => guarded(async () => { await refreshQueue(openSession, current); updateControls(); });
const sessionsNow = () => guarded(() => refreshSessions(openSession, current));
const sessionsSoon = debounce(sessionsNow, 300);
const transcriptSoon = debounce(() => guarded(loadTranscript), 200);
const dashboardSoon = debounce(() => { if (view === "dashboard-view") refreshDashboard(); }, 3000);
const auditSoon = debounce(() => { if (view === "supervision-view") refreshAudit(); }, 1000);

async function refreshAll() {
  await queueNow();
  await sessionsNow();
  if (current) await guarded(loadTranscript);
  updateControls();
}

function onEvent(name, event) {
  if (name === "ready" || name === "resync" || name === "erased") {
    refreshAll(); dashboardSoon(); auditSoon(); return;
  }
  if (name === "queue") {
    queueNow();
    if (event.session_id === current) transcriptSoon();
    sessionsSoon();
    return;
  }
  if (name === "sessions") {
    if (event.handoff) queueNow();
    if (event.session_ids.includes(current)) transcriptSoon();
    sessionsSoon(); dashboardSoon(); auditSoon();
  }
}

function setLive(up) {
  $("live-status").hidden = false;
  $("live-status").textContent = up ? "● Live" : "○ Reconnecting…";
  $("live-status").classList.toggle("down", !up);
}

async function openSession(sessionId) {
  if (!sessionId) return;
  setCurrent(sessionId);
  await refreshAll();
}

function showView(id) {
  view = id;
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.view === id;
    tab.setAttribute("aria-current", on ? "page" : "false");
    $(tab.dataset.view).hidden = !on;
  }
  if (id === "dashboard-view") refreshDashboard();
  if (id === "supervision-view") { describeFilters(); refreshAudit(); }
}

function showDesk() {
  $("staff").textContent = `· ${store.getItem("console.user") || claims().username || ""}${isSupervisor() ? " (supervisor)" : ""}`;
  $("login-panel").hidden = true;
  $("desk").hidden = false;
  $("signout-button").hidden = false;
  $("supervision-tab").hidden = !isSupervisor();
  if (current) $("conversation-id").textContent = current.slice(0, 12);
  showView(view);
  if (disconnect) disconnect();
  disconnect = connectLive({ onEvent, onStatus: setLive, onSignedOut: signOut });
  refreshAll();
}

function signOut(message) {
  if (disconnect) { disconnect(); disconnect = null; }
  forgetTokens();
  setCurrent(null);
  $("desk").hidden = true;
  $("signout-button").hidden = true;
  $("live-status").hidden = true;
  $("login-panel").hidden = false;
  show("login-error", message);
}
whenSignedOut(signOut);

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

for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
$("range-form").addEventListener("submit", (event) => { event.preventDefault(); refreshDashboard(); });

const search = () => { resetPaging(); sessionsNow(); describeFilters(); };
$("filter-form").addEventListener("submit", (event) => { event.preventDefault(); search(); });
$("filter-form").addEventListener("input", debounce(search, 400));
$("clear-filters").addEventListener("click", () => {
  $("filter-form").reset();
  document.querySelectorAll("#chips .chip").forEach((c) => c.setAttribute("aria-pressed", "false"));
  search();
});
$("chips").addEventListener("click", (event) => {
  const chip = event.target.closest(".chip");
  if (!chip) return;
  chip.setAttribute("aria-pressed", chip.getAttribute("aria-pressed") === "true" ? "false" : "true");
  search();
});
$("more-sessions").addEventListener("click", () => { morePages(); sessionsNow(); });

wireConversation(refreshAll);
wireSupervision(() => refreshAll());
setInterval(tickWaits, 1000); // text of the wait times only

// A reload keeps the staff member signed in (sessionStorage; an expired access token
// is renewed with the refresh token) and on the conversation they had open.
if (store.getItem("console.token")) showDesk();
