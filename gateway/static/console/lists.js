// The handoff queue (longest wait first, the wait ticking in place) and the searchable
// list of conversations. Both are keyed lists updated in place (dom.js ``sync``).
import { api } from "./api.js";
import { $, el, since, sync } from "./dom.js";

const PAGE = 30;
const FLAG_NAMES = { fallback: "fallback", low_confidence: "low confidence",
  handoff: "handoff", negative_feedback: "feedback down" };
let wanted = PAGE;
let queueRows = [];
let fetchedAt = 0; // performance.now() of the queue read the waits are relative to

export const queue = () => queueRows;

export function filters() {
  const params = new URLSearchParams();
  const add = (name, value) => { if (value) params.append(name, value); };
  add("q", $("search-text").value.trim());
  add("customer", $("customer-filter").value.trim());
  add("intent", $("intent-filter").value.trim());
  add("tag", $("tag-filter").value.trim().toLowerCase());
  add("from", $("from-filter").value);
  add("to", $("to-filter").value);
  for (const chip of document.querySelectorAll("#chips .chip[aria-pressed=true]")) {
    if (chip.dataset.flag) add("flag", chip.dataset.flag);
    if (chip.dataset.reviewed) add("reviewed", chip.dataset.reviewed);
  }
  return params;
}

function customerOf(row) {
  const name = row.customer_name && row.customer_name !== row.customer_username ? ` (${row.customer_name})` : "";
  return row.customer_username ? `${row.customer_username}${name}` : row.customer_id || "guest";
}

function itemButton(open) {
  return () => {
    const li = document.createElement("li");
    const button = el("button", { type: "button" });
    button.dataset.focus = "open";
    button.addEventListener("click", () => open(li.dataset.key));
    li.append(button);
    return li;
  };
}

export async function refreshQueue(open, current) {
  const body = await api("/console/api/handoffs");
  queueRows = body.data;
  fetchedAt = performance.now();
  const waiting = queueRows.filter((h) => h.state === "requested").length;
  $("queue-count").textContent = waiting ? `(${waiting})` : "";
  const rows = queueRows.length ? queueRows : [{ session_id: "", state: "empty" }];
  sync($("queue"), rows.map((h) => ({ ...h, waiting_seconds: undefined, current: h.session_id === current })),
    (h) => h.session_id || "empty", itemButton(open), (li, h) => {
      const button = li.firstChild;
      button.className = h.state;
      button.disabled = !h.session_id;
      button.setAttribute("aria-current", h.current ? "true" : "false");
      if (!h.session_id) { button.replaceChildren("Nobody is waiting."); return; }
      const who = el("span", { className: "who-line", textContent: customerOf(h) });
      const wait = el("span", { className: "wait" });
      const state = h.state === "requested" ? "waiting" : `with ${h.agent}`;
      button.replaceChildren(who, el("span", { className: "state", textContent: ` · ${state} · ` }), wait,
        el("span", { className: "sid", textContent: ` · ${h.session_id.slice(0, 8)}` }));
    });
  tickWaits();
  return queueRows;
}

// Once a second: the waits move on in place (text only, nothing re-rendered).
export function tickWaits() {
  const elapsed = (performance.now() - fetchedAt) / 1000;
  for (const h of queueRows) {
    const span = $("queue").querySelector(`:scope > [data-key="${CSS.escape(h.session_id)}"] .wait`);
    if (span && h.waiting_seconds != null) {
      const text = h.state === "requested" ? `waited ${since(h.waiting_seconds + elapsed)}`
        : `asked ${since(h.waiting_seconds + elapsed)} ago`;
      if (span.textContent !== text) span.textContent = text;
    }
  }
}

export async function refreshSessions(open, current) {
  const params = filters();
  params.set("limit", String(wanted));
  const page = await api(`/console/api/sessions?${params}`);
  const rows = page.data.map((s) => ({ ...s, current: s.session_id === current }));
  sync($("sessions"), rows, (s) => s.session_id, itemButton(open), (li, s) => {
    const button = li.firstChild;
    const when = new Date(s.last_at).toLocaleString();
    const extras = `${s.turns} turns${s.rating ? ` · ★${s.rating}` : ""}${s.reviewed ? " · reviewed" : ""}`
      + `${s.tags.length ? ` · #${s.tags.join(" #")}` : ""}`;
    button.replaceChildren(el("span", { className: "who-line", textContent: customerOf(s) }),
      el("span", { className: "meta", textContent: `${when} · ${extras}` }),
      ...s.flags.map((f) => el("span", { className: "flag", textContent: FLAG_NAMES[f] })));
    button.setAttribute("aria-current", s.current ? "true" : "false");
  });
  const none = rows.length === 0;
  $("sessions-count").textContent = none ? "No conversations match these filters."
    : `${rows.length}${page.next_cursor ? "+" : ""} conversation${rows.length === 1 ? "" : "s"}`;
  $("sessions-count").classList.toggle("empty", none);
  $("more-sessions").hidden = !page.next_cursor || wanted >= 200;
}

export function resetPaging() { wanted = PAGE; }
export function morePages() { wanted = Math.min(wanted + PAGE, 200); }
