// The open conversation: its transcript (per turn: intent, confidence, feedback, label;
// "Label this turn" and "Add to training data"), the handoff controls, tags, notes and
// the review mark. The transcript is a keyed list: a live update appends or refills
// only the turns that changed, and keeps the reader's scroll position unless they were
// reading the end.
import { api, isSupervisor, me, store } from "./api.js";
import { $, el, show, sync } from "./dom.js";
import { queue } from "./lists.js";

export let current = store.getItem("console.current");
let lastHolder = null; // who held the open conversation at the last look

export function setCurrent(sessionId) {
  if (sessionId !== current) {
    $("transcript").replaceChildren();
    lastHolder = null;
    show("barge-notice", "");
  }
  current = sessionId;
  if (sessionId) store.setItem("console.current", sessionId); else store.removeItem("console.current");
  $("conversation-id").textContent = sessionId ? sessionId.slice(0, 12) : "";
}

export async function act(path, body, method = "POST") {
  try {
    const result = await api(path, { method, body: body ? JSON.stringify(body) : undefined });
    show("console-error", "");
    return result;
  } catch (error) { show("console-error", error.message); return null; }
}

function meta(text) { return el("span", { className: "meta", textContent: text }); }

function turnMeta(t, when) {
  if (t.kind === "to_agent") return `${when} · to the agent`;
  const confidence = t.confidence != null ? ` ${t.confidence.toFixed(2)}` : "";
  return `${when} · ${t.intent || "no intent"}${confidence}${t.fallback ? " · fallback" : ""}`
    + `${t.failed ? " · failed" : ""}`;
}

function labelTools(t) {
  const box = el("div", { className: "turn-tools" });
  if (t.label) box.append(el("span", { className: "label", textContent: `in training data as ${t.label}` }));
  const labelButton = el("button", { type: "button", className: "tool", textContent: "Label this turn" });
  labelButton.dataset.focus = "label";
  labelButton.setAttribute("aria-label", `Label this turn: “${t.user_text.slice(0, 40)}”`);
  const add = el("button", { type: "button", className: "tool", textContent: "Add to training data" });
  add.dataset.focus = "train";
  add.setAttribute("aria-label", `Add “${t.user_text.slice(0, 40)}” to training data as ${t.label || t.intent}`);
  add.disabled = !(t.label || t.intent) || Boolean(t.label);
  add.addEventListener("click", () => saveLabel(t.turn_id, t.label || t.intent));
  const form = el("form", { className: "label-form" });
  form.hidden = true;
  const input = el("input", { required: true, value: t.label || t.intent || "", maxLength: 200 });
  input.setAttribute("list", "intent-options");
  input.setAttribute("aria-label", "The right intent");
  input.dataset.focus = "label-input";
  const save = el("button", { type: "submit", className: "tool", textContent: "Save label" });
  save.dataset.focus = "label-save";
  const cancel = el("button", { type: "button", className: "tool secondary", textContent: "Cancel" });
  form.append(input, save, cancel);
  labelButton.addEventListener("click", () => { form.hidden = false; input.focus(); input.select(); });
  cancel.addEventListener("click", () => { form.hidden = true; labelButton.focus(); });
  form.addEventListener("submit", (event) => { event.preventDefault(); saveLabel(t.turn_id, input.value.trim()); });
  box.append(labelButton, add, form);
  return box;
}

function fillTurn(box, t) {
  const when = new Date(t.created_at).toLocaleTimeString();
  const out = [];
  if (t.user_text) {
    const user = el("div", { className: "msg user" }, t.user_text, meta(turnMeta(t, when)));
    out.push(user);
    if (t.kind === "bot") out.push(labelTools(t));
  }
  const votes = new Map(t.feedback.map((f) => [f.seq, f]));
  for (const r of t.replies) {
    let line = null;
    if (r.type === "agent") line = el("div", { className: "msg agent" }, `${r.agent}: ${r.text}`, meta(when));
    else if (r.type === "handoff") line = el("div", { className: "msg note" }, `handoff ${r.state}`, meta(when));
    else if (r.text) {
      line = el("div", { className: "msg bot" }, r.text);
      if (r.buttons && r.buttons.length) line.append(meta(r.buttons.map((b) => b.title).join(" | ")));
    }
    const vote = votes.get(r.seq);
    if (line && vote) {
      line.append(el("span", { className: `feedback ${vote.value}`,
        textContent: `customer rated this ${vote.value === "up" ? "helpful (thumbs up)" : "not helpful (thumbs down)"}${vote.comment ? ` “${vote.comment}”` : ""}` }));
    }
    if (line) out.push(line);
  }
  box.replaceChildren(...out);
}

function renderTags(tags) {
  sync($("tags"), tags, (tag) => tag, (tag) => {
    const chip = el("button", { type: "button", className: "chip", title: `Remove tag ${tag}` });
    chip.setAttribute("aria-label", `Remove tag ${tag}`);
    chip.addEventListener("click", async () => {
      const r = await act(`/console/api/sessions/${current}/tags/${encodeURIComponent(tag)}`, null, "DELETE");
      if (r) renderTags(r.tags);
    });
    return chip;
  }, (chip, tag) => { chip.replaceChildren(tag, el("span", { className: "remove", textContent: "×" })); });
}

function renderTranscript(t) {
  const log = $("transcript");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const before = log.children.length;
  sync(log, t.data, (turn) => String(turn.turn_id), () => el("div", { className: "turn" }), fillTurn);
  if (before === 0 || (atBottom && log.children.length > before)) log.scrollTop = log.scrollHeight;
  $("review-panel").hidden = false;
  $("notes-panel").hidden = false;
  const who = [t.customer_username, t.customer_name, t.customer_id].filter(Boolean).join(" · ") || "guest";
  const rated = t.rating ? ` · rated ★${t.rating.score}${t.rating.comment ? ` “${t.rating.comment}”` : ""}` : "";
  $("customer-line").textContent = `${who}${rated}`;
  $("reviewed-box").checked = t.reviewed;
  renderTags(t.tags);
  sync($("notes"), t.notes, (n) => String(n.id), () => document.createElement("li"),
    (li, n) => { li.textContent = `${new Date(n.created_at).toLocaleString()} · ${n.staff}: ${n.text}`; });
}

export async function loadTranscript() {
  if (!current) return;
  const sid = current;
  try {
    const t = await api(`/console/api/sessions/${sid}/transcript`);
    if (sid === current) renderTranscript(t);
  } catch (error) {
    if (error.status === 404 && sid === current) { // erased, or nothing recorded yet
      $("transcript").replaceChildren(el("p", { className: "status", textContent: "Nothing recorded for this conversation (yet)." }));
      return;
    }
    throw error;
  }
}

async function saveLabel(turnId, intent) {
  if (!intent) return;
  if (await act(`/console/api/turns/${turnId}/label`, { intent })) await loadTranscript();
}

// The handoff state of the open conversation, from the queue; says when someone else
// (a supervisor barging in) took the conversation from this staff member.
export function updateControls() {
  const held = queue().find((h) => h.session_id === current);
  const state = current && held ? held.state : "";
  const mine = held && held.agent_sub === me();
  if (lastHolder === me() && held && state === "accepted" && !mine) {
    show("barge-notice", `${held.agent} took over this conversation. You can read along; only ${held.agent} writes now.`);
  } else if (mine || !held) show("barge-notice", "");
  lastHolder = held && state === "accepted" ? held.agent_sub : null;

  const accept = $("accept-button");
  const bargeIn = state === "accepted" && !mine && isSupervisor();
  accept.textContent = bargeIn ? `Barge in: take over from ${held.agent}` : "Take over";
  accept.disabled = !(state === "requested" || bargeIn);
  $("end-button").disabled = !(state === "requested" || (state === "accepted" && (mine || isSupervisor())));
  $("reload-button").disabled = !current;
  $("agent-text").disabled = $("agent-send").disabled = !(state === "accepted" && mine);
  $("agent-text").placeholder = state === "accepted" && !mine
    ? `${held.agent} holds this chat${isSupervisor() ? "; barge in to write (everyone will see it)" : ""}`
    : "Write to the customer";
  $("conversation-state").textContent = !current ? "Pick a conversation."
    : state === "requested" ? "The customer is waiting for a person."
    : state === "accepted" ? (mine ? "You have taken over: the bot is paused for this customer."
      : `Taken over by ${held.agent}: the bot is paused for this customer.`)
    : "The bot is handling this conversation.";
}

export function wireConversation(refreshAll) {
  $("accept-button").addEventListener("click", async () => {
    await act(`/console/api/sessions/${current}/accept`);
    await refreshAll();
    if (!$("agent-text").disabled) $("agent-text").focus();
  });
  $("end-button").addEventListener("click", async () => { await act(`/console/api/sessions/${current}/end`); refreshAll(); });
  $("reload-button").addEventListener("click", () => refreshAll());
  $("agent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("agent-text").value.trim();
    if (!text) return;
    if (await act(`/console/api/sessions/${current}/messages`, { text })) $("agent-text").value = "";
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
}
