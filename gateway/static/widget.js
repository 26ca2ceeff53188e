// Customer chat widget: plain JS, no build step. Speaks the CONTRACT.md WebSocket protocol.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage; // per tab: survives reloads, not shared across tabs
  let socket = null;
  let retryDelay = 500;
  let closedByUs = false;
  let idle = false; // the server closed us for inactivity: reconnect when the user acts
  const seen = new Set(); // seqs already rendered (resume may re-send some)
  // A freshly loaded page has rendered nothing yet, so its first resume asks for every
  // retained frame; later reconnects ask only for what this page has not seen.
  let pageHasTranscript = false;

  const lastSeq = () => Number(store.getItem("chat.last_seq") || 0);
  const noteSeq = (seq) => { if (seq > lastSeq()) store.setItem("chat.last_seq", String(seq)); };

  const HANDOFF_NOTES = {
    accepted: "A colleague has joined the chat.",
    ended: "Our colleague has left the chat. You're talking to the assistant again.",
  };

  function addMessage(kind, text, extra) {
    const el = document.createElement("div");
    el.className = `msg ${kind}`;
    el.textContent = text; // never innerHTML: bot text is untrusted
    if (extra && extra.image) {
      const img = document.createElement("img");
      img.src = extra.image; img.alt = "";
      el.appendChild(img);
    }
    if (extra && Array.isArray(extra.buttons) && extra.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of extra.buttons) {
        const btn = document.createElement("button");
        btn.type = "button"; btn.textContent = b.title;
        btn.addEventListener("click", () => sendTurn({ payload: b.payload }, b.title));
        row.appendChild(btn);
      }
      el.appendChild(row);
    }
    $("chat-log").appendChild(el);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  }

  // Was this reply helpful? One feedback frame per click; a later one replaces it.
  function addFeedback(seq) {
    const row = document.createElement("div");
    row.className = "feedback-buttons";
    for (const [value, label, face] of [["up", "Helpful", "👍"], ["down", "Not helpful", "👎"]]) {
      const btn = document.createElement("button");
      btn.type = "button"; btn.textContent = face; btn.title = label;
      btn.setAttribute("aria-label", label); btn.setAttribute("aria-pressed", "false");
      btn.addEventListener("click", () => {
        if (!socket || socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: "feedback", seq, value }));
        row.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === btn)));
      });
      row.appendChild(btn);
    }
    $("chat-log").lastElementChild.appendChild(row);
  }

  function rate(score) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "rating", score }));
    $("rating-thanks").hidden = false;
    document.querySelectorAll("#rating-stars button").forEach((b) =>
      b.setAttribute("aria-pressed", String(Number(b.dataset.score) <= score)));
  }

  function setStatus(text) { $("status").textContent = text; }

  function sendTurn(content, shownAs) {
    if (idle) { idle = false; connect(); }
    if (!socket || socket.readyState !== WebSocket.OPEN) { setStatus("Not connected yet…"); return; }
    const frame = { type: "message", client_msg_id: crypto.randomUUID(), ...content };
    socket.send(JSON.stringify(frame));
    addMessage("user", shownAs);
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        store.setItem("chat.session_id", frame.session_id);
        if (!frame.resumed) store.setItem("chat.last_seq", "0");
        pageHasTranscript = true;
        retryDelay = 500;
        setStatus("Connected");
        break;
      case "ack": seen.add(frame.seq); noteSeq(frame.seq); break;
      case "user": // on resume: the customer's own earlier turn, as stored (masked)
        if (seen.has(frame.seq)) break;
        seen.add(frame.seq); noteSeq(frame.seq);
        addMessage("user", frame.text);
        break;
      case "typing": $("typing").hidden = frame.state !== "on"; break;
      case "bot":
      case "agent":
        if (seen.has(frame.seq)) break;
        seen.add(frame.seq); noteSeq(frame.seq);
        if (frame.type === "agent") addMessage("agent", `${frame.agent}: ${frame.text}`);
        else addMessage("bot", frame.text, frame);
        if (frame.type === "bot" && frame.text) addFeedback(frame.seq);
        $("rating").hidden = false;
        break;
      case "handoff":
        if (seen.has(frame.seq)) break;
        seen.add(frame.seq); noteSeq(frame.seq);
        // "requested" comes with the bot's own words; the other two need saying.
        if (HANDOFF_NOTES[frame.state]) addMessage("note", HANDOFF_NOTES[frame.state]);
        break;
      case "error":
        $("typing").hidden = true;
        if (frame.code === "forbidden" || (frame.code === "unauthorized" && !store.getItem("chat.refresh"))) {
          // Our token or session is no good: forget the session and start a fresh one.
          // (With a refresh token, an expired token is refreshed and the session resumed.)
          store.removeItem("chat.session_id"); store.removeItem("chat.last_seq");
        }
        addMessage("system", frame.message);
        break;
      default: break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws`);
    socket.addEventListener("open", () => {
      const hello = { type: "hello" };
      const token = store.getItem("chat.token");
      const sessionId = store.getItem("chat.session_id");
      if (token) hello.token = token;
      if (sessionId) {
        hello.session_id = sessionId;
        hello.last_seq = pageHasTranscript ? lastSeq() : 0;
      }
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", (event) => {
      try { onFrame(JSON.parse(event.data)); } catch (e) { console.error(e); }
    });
    socket.addEventListener("close", (event) => {
      $("typing").hidden = true;
      if (closedByUs) return;
      if (event.code === 1001) { idle = true; setStatus("Disconnected while idle; send a message to reconnect."); return; }
      if (event.code === 4401 && store.getItem("chat.refresh")) {
        // The access token expired: get a new pair and resume the same session.
        refresh().then(() => setTimeout(connect, 0));
        return;
      }
      if (event.code === 4401 || event.code === 4403) store.removeItem("chat.token");
      setStatus("Disconnected; reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  async function refresh() {
    const response = await fetch("/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: store.getItem("chat.refresh") }),
    }).catch(() => null);
    store.removeItem("chat.refresh");
    if (response && response.ok) {
      const tokens = await response.json();
      store.setItem("chat.token", tokens.access_token);
      store.setItem("chat.refresh", tokens.refresh_token);
    } else {
      store.removeItem("chat.token"); // sign-in again needed; continue as a new session
      store.removeItem("chat.session_id");
    }
  }

  function startChat(who) {
    $("login-panel").hidden = true;
    $("chat-panel").hidden = false;
    $("who").textContent = who ? `(signed in as ${who})` : "(guest)";
    closedByUs = false;
    connect();
    $("message-input").focus();
  }

  async function login(event) {
    event.preventDefault();
    $("login-error").hidden = true;
    const body = new URLSearchParams({ username: $("username").value, password: $("password").value });
    try {
      const response = await fetch("/auth/token", { method: "POST", body });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new Error(problem.title || "Sign-in failed");
      }
      const tokens = await response.json();
      store.setItem("chat.token", tokens.access_token);
      store.setItem("chat.refresh", tokens.refresh_token);
      store.setItem("chat.user", $("username").value);
      store.removeItem("chat.session_id");
      startChat($("username").value);
    } catch (error) {
      $("login-error").textContent = error.message;
      $("login-error").hidden = false;
    }
  }

  function guest() {
    store.removeItem("chat.token"); store.removeItem("chat.user"); store.removeItem("chat.session_id");
    startChat(null);
  }

  function logout() {
    closedByUs = true;
    if (socket) socket.close();
    store.clear();
    $("chat-log").replaceChildren();
    $("chat-panel").hidden = true;
    $("login-panel").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("guest-button").addEventListener("click", guest);
    $("logout-button").addEventListener("click", logout);
    $("rating-stars").addEventListener("click", (event) => {
      const star = event.target.closest("button");
      if (star) rate(Number(star.dataset.score));
    });
    $("send-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("message-input").value.trim();
      if (!text) return;
      sendTurn({ text }, text);
      $("message-input").value = "";
    });
    // A reload of a tab that was chatting resumes its session.
    if (store.getItem("chat.session_id")) startChat(store.getItem("chat.user"));
  });
})();
