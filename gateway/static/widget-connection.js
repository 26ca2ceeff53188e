// The widget's link to the gateway (CONTRACT.md protocol): the WebSocket with its hello
// and resume, reconnects with exponential backoff and full jitter, the access token's
// refresh, and the per-tab storage that lets a reload carry on.
"use strict";
(() => {
  const FIRST_RETRY_MS = 400; // the first reconnect comes within this (times 0.5-1 jitter)
  const MAX_RETRY_MS = 8000; // so a long outage is noticed over within 8 s of its end

  // sessionStorage (per tab: survives reloads) under our own prefix, so an embedding page
  // keeps its keys and "forget everything" forgets only ours.
  function prefixedStore(prefix) {
    const s = window.sessionStorage;
    return {
      get: (k) => s.getItem(prefix + k),
      set: (k, v) => s.setItem(prefix + k, v),
      del: (k) => s.removeItem(prefix + k),
      json(k, fallback) {
        try { return JSON.parse(s.getItem(prefix + k)) || fallback; } catch (_) { return fallback; }
      },
      setJson: (k, v) => s.setItem(prefix + k, JSON.stringify(v)),
      clear() { Object.keys(s).filter((k) => k.startsWith(prefix)).forEach((k) => s.removeItem(k)); },
    };
  }

  // Random ids without crypto.randomUUID, which only secure contexts have.
  function newId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // onState(state): connecting | online (welcome received) | offline (retrying) | idle
  // (the server closed an idle socket: wake() reconnects). onFrame(frame): every frame.
  function connection({ gateway, store, resumeFrom, onFrame, onState }) {
    let socket = null;
    let wanted = false; // connect() called and close() not since
    let idle = false;
    let attempt = 0;
    let retryTimer = null;

    const isOpen = () => Boolean(socket && socket.readyState === WebSocket.OPEN);

    function wsUrl() {
      const url = new URL("/ws", gateway);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return url.href;
    }

    function connect() {
      clearTimeout(retryTimer);
      retryTimer = null;
      wanted = true;
      idle = false;
      if (socket && socket.readyState <= WebSocket.OPEN) return; // connecting or open
      onState("connecting");
      const ws = new WebSocket(wsUrl());
      socket = ws;
      ws.addEventListener("open", () => {
        const hello = { type: "hello" };
        const token = store.get("token");
        const sessionId = store.get("session_id");
        if (token) hello.token = token;
        if (sessionId) {
          hello.session_id = sessionId;
          hello.last_seq = resumeFrom();
        }
        ws.send(JSON.stringify(hello));
      });
      ws.addEventListener("message", (event) => {
        if (ws !== socket) return;
        let frame;
        try { frame = JSON.parse(event.data); } catch (_) { return; }
        if (frame.type === "welcome") { attempt = 0; onState("online"); }
        try { onFrame(frame); } catch (e) { console.error(e); }
      });
      ws.addEventListener("close", (event) => closed(ws, event));
    }

    function closed(ws, event) {
      if (ws !== socket) return;
      socket = null;
      if (!wanted) return;
      if (event.code === 1001) { idle = true; onState("idle"); return; }
      if (event.code === 4401 && store.get("refresh")) {
        // The access token expired: get a new pair and resume the same session.
        refresh().then(connect);
        return;
      }
      if (event.code === 4401 || event.code === 4403) store.del("token");
      retryLater();
    }

    // Exponential backoff with full jitter: the first retry is quick, later ones spread
    // out so that a restarted gateway is not hit by every widget at the same moment.
    function retryLater() {
      const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      attempt += 1;
      onState("offline");
      retryTimer = setTimeout(connect, Math.round(ceiling * (0.5 + Math.random() / 2)));
    }

    async function refresh() {
      const response = await fetch(`${gateway}/auth/refresh`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: store.get("refresh") }),
      }).catch(() => null);
      store.del("refresh");
      if (response && response.ok) {
        const tokens = await response.json();
        store.set("token", tokens.access_token);
        store.set("refresh", tokens.refresh_token);
      } else {
        store.del("token"); // sign-in again needed; continue as a new session
        store.del("session_id");
      }
    }

    window.addEventListener("online", () => {
      if (wanted && !socket && !idle) { attempt = 0; connect(); }
    });
    window.addEventListener("offline", () => { if (socket) socket.close(); });

    return {
      connect,
      isOpen,
      send: (frame) => socket.send(JSON.stringify(frame)),
      // The customer acts (sends, rates): a closed link tries now instead of waiting for
      // its next retry (one attempt per action, the backoff is kept).
      wake() { if (wanted && !socket) connect(); },
      close() {
        wanted = false;
        clearTimeout(retryTimer);
        retryTimer = null;
        if (socket) socket.close();
        socket = null;
      },
    };
  }

  window.BankWidgetConnection = { connection, prefixedStore, newId };
})();
