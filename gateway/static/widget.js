// Customer chat widget: plain JS, no build step. Speaks the CONTRACT.md WebSocket protocol.
// Loaded after widget-markdown.js, widget-view.js and widget-connection.js; mounts itself into #bank-widget on
// the gateway's own page, and widget-embed.js mounts it into a Shadow DOM elsewhere.
"use strict";
(() => {
  const HANDOFF_NOTES = {
    accepted: "A colleague has joined the chat.",
    ended: "Our colleague has left the chat. You're talking to the assistant again.",
  };
  const UNANSWERED_NOTE = "No colleague could join right now. You're talking to the assistant again.";
  const LOGIN_HINT = /\b(log ?in|sign ?in)\b/i;
  const MAX_TIMES = 500; // seq -> time entries kept for the timestamps after a reload
  const STATUS = {
    connecting: "Connecting…",
    online: "Connected",
    offline: "You're offline. Reconnecting… Messages you write are kept and sent once the connection is back.",
    idle: "Disconnected while idle; your next message reconnects.",
  };
  const { connection, prefixedStore, newId } = window.BankWidgetConnection;

  function mount(container, options = {}) {
    const gateway = String(options.gateway || location.origin).replace(/\/+$/, "");
    const embedded = Boolean(options.embedded);
    const view = window.BankWidgetView.build(container, { embedded });
    const $ = view.q;
    const store = prefixedStore(options.storagePrefix || "chat.");

    let pendingRating = null;
    let ending = false;
    const seen = new Set(); // seqs already rendered (resume may re-send some)
    // A freshly loaded page has rendered nothing yet, so its first resume asks for every
    // retained frame; later reconnects ask only for what this page has not seen.
    let pageHasTranscript = false;
    const outbox = store.json("outbox", []); // {cmid, text|payload, shown, at, failed}
    const times = store.json("times", {}); // seq -> ms, for timestamps after a reload
    const pendingEls = new Map(); // cmid -> element
    // A quick reply is stored as its payload ("/affirm"): shown again by its title.
    const buttonTitles = new Map();

    const lastSeq = () => Number(store.get("last_seq") || 0);
    const noteSeq = (seq) => { if (seq > lastSeq()) store.set("last_seq", String(seq)); };
    const link = connection({
      gateway, store, onFrame, onState: setConnection,
      resumeFrom: () => (pageHasTranscript ? lastSeq() : 0),
    });
    const isOpen = link.isOpen;
    const send = link.send;

    function stamp(seq, at) {
      if (!times[seq]) times[seq] = at;
      const keys = Object.keys(times);
      if (keys.length > MAX_TIMES) keys.sort((a, b) => a - b).slice(0, keys.length - MAX_TIMES).forEach((k) => delete times[k]);
      store.setJson("times", times);
      return times[seq];
    }

    // --- connection state ------------------------------------------------------------
    function setConnection(state) {
      $("status").dataset.connection = state;
      $("status").textContent = STATUS[state];
      view.shell.dataset.connection = state;
      if (state !== "online") $("typing").hidden = true;
      for (const entry of outbox) showDelivery(entry);
    }

    function showDelivery(entry) {
      const el = pendingEls.get(entry.cmid);
      if (!el || entry.failed) return;
      view.setState(el, isOpen() ? "sending…" : "waiting for connection");
    }

    // --- the outbox: every message goes through it until the gateway acks it ---------
    const saveOutbox = () => store.setJson("outbox", outbox);

    function showPending(entry) {
      const el = view.addPending(entry.shown, entry.at);
      pendingEls.set(entry.cmid, el);
      if (entry.failed) markFailed(entry, entry.failed); else showDelivery(entry);
    }

    function queueTurn(content, shown) {
      const entry = { cmid: newId(), ...content, shown, at: Date.now() };
      outbox.push(entry);
      saveOutbox();
      showPending(entry);
      if (isOpen()) transmit(entry); else link.wake();
    }

    function transmit(entry) {
      const frame = { type: "message", client_msg_id: entry.cmid };
      if (entry.payload) frame.payload = entry.payload; else frame.text = entry.text;
      send(frame);
      showDelivery(entry);
    }

    function settle(cmid, seq) {
      const i = outbox.findIndex((e) => e.cmid === cmid);
      if (i < 0) return false;
      const [entry] = outbox.splice(i, 1);
      saveOutbox();
      const el = pendingEls.get(cmid);
      pendingEls.delete(cmid);
      if (el) view.settle(el, stamp(seq, entry.at));
      return true;
    }

    function markFailed(entry, message) {
      entry.failed = message;
      saveOutbox();
      const el = pendingEls.get(entry.cmid);
      if (!el) return;
      el.classList.add("is-failed");
      view.setState(el, `not sent: ${message}`);
      if (el.querySelector(".retry")) return;
      el.querySelector(".meta").appendChild(view.button("Retry", () => {
        delete entry.failed;
        saveOutbox();
        el.classList.remove("is-failed");
        el.querySelector(".retry").remove();
        if (isOpen()) transmit(entry); else showDelivery(entry);
      }, "retry small"));
    }

    // --- what the gateway sends ------------------------------------------------------
    function once(frame) {
      if (seen.has(frame.seq)) return false;
      seen.add(frame.seq);
      noteSeq(frame.seq);
      return true;
    }

    function addBot(frame) {
      const { el, bubble } = view.add("bot", { text: frame.text, markdown: true, at: stamp(frame.seq, Date.now()) });
      if (frame.image) {
        const img = document.createElement("img");
        img.src = frame.image; img.alt = "";
        bubble.appendChild(img);
      }
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of Array.isArray(frame.buttons) ? frame.buttons : []) {
        buttonTitles.set(b.payload, b.title);
        row.appendChild(view.button(b.title, () => {
          queueTurn({ payload: b.payload }, b.title);
          $("message-input").focus(); // not stranded on a button that scrolls away
        }));
      }
      if (!store.get("token") && LOGIN_HINT.test(frame.text || "")) {
        row.appendChild(view.button("Log in", showLogin, "login-cta"));
      }
      if (row.childElementCount) bubble.appendChild(row);
      if (frame.text) addFeedback(bubble, frame.seq);
      $("rating").hidden = false;
      view.scroll();
      return el;
    }

    // Was this reply helpful? One feedback frame per click; a later one replaces it.
    function addFeedback(bubble, seq) {
      const row = document.createElement("div");
      row.className = "feedback-buttons";
      for (const [value, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
        const btn = view.button(label, () => {
          if (!isOpen()) return;
          send({ type: "feedback", seq, value });
          row.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === btn)));
        });
        btn.setAttribute("aria-pressed", "false");
        row.appendChild(btn);
      }
      bubble.appendChild(row);
    }

    function showHandoff(frame) {
      const banner = $("handoff-banner");
      if (frame.state === "requested") {
        const position = Number.isInteger(frame.position) ? ` You are number ${frame.position} in the queue.` : "";
        banner.textContent = `Waiting for a colleague to join…${position} You can keep writing here.`;
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
      // A request that ends before anyone joined (declined, or expired in the queue).
      const note = frame.state === "ended" && view.shell.dataset.handoff === "requested"
        ? UNANSWERED_NOTE : HANDOFF_NOTES[frame.state];
      view.shell.dataset.handoff = frame.state;
      if (note) view.add("note", { text: note, at: stamp(frame.seq, Date.now()) });
    }

    function onFrame(frame) {
      switch (frame.type) {
        case "welcome":
          if (store.get("session_id") !== frame.session_id) resetTranscript(true);
          store.set("session_id", frame.session_id);
          if (!frame.resumed) store.set("last_seq", "0");
          pageHasTranscript = true;
          for (const entry of outbox) if (!entry.failed) transmit(entry);
          if (pendingRating) { send(pendingRating); pendingRating = null; }
          break;
        case "ack":
          if (!seen.has(frame.seq)) { seen.add(frame.seq); noteSeq(frame.seq); }
          settle(frame.client_msg_id, frame.seq);
          break;
        case "user": // on resume: the customer's own earlier turn, as stored (masked)
          if (!once(frame)) { settle(frame.client_msg_id, frame.seq); break; }
          if (!settle(frame.client_msg_id, frame.seq)) {
            view.add("user", { text: buttonTitles.get(frame.text) || frame.text, at: times[frame.seq] });
          }
          break;
        case "typing": $("typing").hidden = frame.state !== "on"; break;
        case "bot":
          if (once(frame)) addBot(frame);
          break;
        case "agent":
          if (once(frame)) view.add("agent", { text: `${frame.agent}: ${frame.text}`, at: stamp(frame.seq, Date.now()) });
          break;
        case "handoff":
          if (once(frame)) showHandoff(frame);
          break;
        case "error": {
          $("typing").hidden = true;
          if (frame.code === "forbidden" || (frame.code === "unauthorized" && !store.get("refresh"))) {
            // Our token or session is no good: forget the session and start a fresh one.
            // (With a refresh token, an expired token is refreshed and the session resumed.)
            store.del("session_id"); store.del("last_seq");
          }
          const entry = frame.client_msg_id && outbox.find((e) => e.cmid === frame.client_msg_id);
          if (entry) markFailed(entry, frame.message); // refused, not stored: keep it
          else view.add("system", { text: frame.message, at: Date.now() });
          break;
        }
        default: break;
      }
    }

    // --- panels: sign-in, chat, ending ----------------------------------------------
    const chatOpen = () => !$("chat-panel").hidden;

    function greet() {
      const who = store.get("user");
      view.add("greeting", {
        text: `Hello${who ? ` ${who}` : ""}! I'm the bank's assistant. Ask me about your **balance**, **payments**, **cards** or **gift cards**, or ask for a person.`,
        markdown: true, at: Date.now(),
      });
    }

    // Renders the transcript anew: the greeting, then (from the gateway) the history,
    // with the outbox's pending messages below it. A new session also drops the times.
    function resetTranscript(newSession) {
      view.clear();
      seen.clear();
      pendingEls.clear();
      if (newSession) {
        for (const k of Object.keys(times)) delete times[k];
        store.del("times");
      }
      $("handoff-banner").hidden = true;
      delete view.shell.dataset.handoff;
      greet();
      for (const entry of outbox) showPending(entry);
    }

    function startChat() {
      const who = store.get("user");
      $("login-panel").hidden = true;
      $("chat-panel").hidden = false;
      $("who").textContent = who ? `(signed in as ${who})` : "(guest)";
      resetTranscript();
      pageHasTranscript = false;
      link.connect();
      $("message-input").focus();
    }

    function forget() {
      link.close();
      outbox.length = 0;
      clearStore();
    }

    // Forgets the conversation and the sign-in; keeps whether the embed's panel is open.
    function clearStore(keep = ["open"]) {
      const kept = keep.map((k) => [k, store.get(k)]);
      store.clear();
      for (const [k, v] of kept) if (v) store.set(k, v);
    }

    function showLogin() {
      forget();
      view.clear();
      $("chat-panel").hidden = true;
      $("login-panel").hidden = false;
      $("username").focus();
    }

    async function login(event) {
      event.preventDefault();
      $("login-error").hidden = true;
      const username = $("username").value;
      const body = new URLSearchParams({ username, password: $("password").value });
      try {
        const response = await fetch(`${gateway}/auth/token`, { method: "POST", body });
        if (!response.ok) {
          const problem = await response.json().catch(() => ({}));
          throw new Error(problem.title || "Sign-in failed");
        }
        const tokens = await response.json();
        $("password").value = ""; // never left in the form
        forget();
        store.set("token", tokens.access_token);
        store.set("refresh", tokens.refresh_token);
        store.set("user", username);
        startChat();
      } catch (error) {
        $("login-error").textContent = error instanceof TypeError ? "Cannot reach the bank's chat service." : error.message;
        $("login-error").hidden = false;
      }
    }

    function guest() {
      forget();
      startChat();
    }

    // "End chat": confirmed in a dialog, then the rating is asked for; the sign-in form
    // and the stored tokens are cleared at once, the session when the customer closes.
    function endChat() {
      $("end-dialog").close();
      ending = true;
      store.set("ended", "1");
      $("login-form").reset();
      store.del("token"); store.del("refresh");
      view.shell.classList.add("ended");
      $("handoff-banner").hidden = true;
      $("rating-label").textContent = "Chat ended. How was it?";
      $("rating").hidden = false;
      $("rating-done").hidden = false;
      $("rating-stars").querySelector("button").focus();
    }

    function finish() {
      ending = false;
      view.shell.classList.remove("ended");
      $("rating-label").textContent = "How was this chat?";
      $("rating-done").hidden = true;
      $("rating-thanks").hidden = true;
      $("rating").hidden = true;
      $("rating-stars").querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", "false"));
      $("login-form").reset();
      showLogin();
    }

    function rate(score) {
      const frame = { type: "rating", score };
      if (isOpen()) send(frame); else { pendingRating = frame; link.wake(); }
      $("rating-thanks").hidden = false;
      $("rating-stars").querySelectorAll("button").forEach((b) =>
        b.setAttribute("aria-pressed", String(Number(b.dataset.score) <= score)));
      if (ending) $("rating-done").focus();
    }

    // --- wiring ------------------------------------------------------------------------
    $("login-form").addEventListener("submit", login);
    $("guest-button").addEventListener("click", guest);
    $("logout-button").addEventListener("click", () => $("end-dialog").showModal());
    $("end-cancel").addEventListener("click", () => { $("end-dialog").close(); $("message-input").focus(); });
    $("end-confirm").addEventListener("click", endChat);
    $("rating-done").addEventListener("click", finish);
    $("rating-stars").addEventListener("click", (event) => {
      const star = event.target.closest("button");
      if (star) rate(Number(star.dataset.score));
    });
    const input = $("message-input");
    input.value = store.get("draft") || "";
    input.addEventListener("input", () => store.set("draft", input.value));
    $("send-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      queueTurn({ text }, text); // shown as pending at once; kept until the gateway acks it
      input.value = "";
      store.del("draft");
      input.focus();
    });

    function open() {
      if (store.get("ended")) clearStore(["open", "draft"]); // ended, not closed: forget it
      if (store.get("session_id") && !chatOpen()) startChat(); // a reload resumes the session
    }

    if (view.launcher) {
      const toggle = (show) => {
        view.shell.hidden = !show;
        view.launcher.setAttribute("aria-expanded", String(show));
        store.set("open", show ? "1" : "");
        if (show) {
          open();
          (chatOpen() ? input : $("username")).focus();
        } else view.launcher.focus();
      };
      view.launcher.addEventListener("click", () => toggle(view.shell.hidden));
      $("minimise-button").addEventListener("click", () => toggle(false));
      if (store.get("open")) toggle(true);
    } else open();
    return { gateway };
  }

  window.BankWidget = { mount };
  const auto = () => {
    const host = document.getElementById("bank-widget");
    if (host) mount(host, { gateway: location.origin });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", auto);
  else auto();
})();
