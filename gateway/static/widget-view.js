// The widget's markup and its transcript rendering (no protocol here: widget.js drives it).
// Every text that comes from the customer, the bot or an agent is set through text nodes
// (textContent or BankWidgetMarkdown.render); only the static template below is markup.
"use strict";
(() => {
  const template = (heading) => `
<div class="head">
  <${heading} class="title">Bank assistant</${heading}>
  <button type="button" id="minimise-button" class="secondary small" hidden>Minimise</button>
</div>
<section id="login-panel" aria-labelledby="login-heading">
  <h2 id="login-heading">Sign in</h2>
  <p class="intro">Hello! I'm the bank's assistant. Sign in to ask about your own accounts,
    or continue as a guest for general questions.</p>
  <form id="login-form">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <div class="actions">
      <button id="login-button" type="submit">Sign in</button>
      <button id="guest-button" type="button" class="secondary">Continue as guest</button>
    </div>
    <p id="login-error" class="error" role="alert" hidden></p>
  </form>
</section>
<section id="chat-panel" class="chat" aria-labelledby="chat-heading" hidden>
  <div class="chat-head">
    <h2 id="chat-heading">Chat <span id="who" class="who"></span></h2>
    <button id="logout-button" type="button" class="secondary small">End chat</button>
  </div>
  <p id="status" class="status" role="status" data-connection="connecting">Connecting…</p>
  <p id="handoff-banner" class="banner" role="status" hidden></p>
  <div id="chat-log" class="log" role="log" aria-live="polite" aria-relevant="additions"
       aria-label="Conversation" tabindex="0"><div id="pending" class="pending"></div></div>
  <p id="typing" class="typing" hidden aria-hidden="true">Assistant is typing…</p>
  <form id="send-form" class="composer">
    <label for="message-input" class="visually-hidden">Message</label>
    <input id="message-input" autocomplete="off" maxlength="2000" placeholder="Type a message" required>
    <button id="send-button" type="submit">Send</button>
  </form>
  <div id="rating" class="rating" hidden>
    <span id="rating-label">How was this chat?</span>
    <span id="rating-stars" role="group" aria-labelledby="rating-label">
      <button type="button" data-score="1" aria-label="1 of 5" aria-pressed="false">★</button>
      <button type="button" data-score="2" aria-label="2 of 5" aria-pressed="false">★</button>
      <button type="button" data-score="3" aria-label="3 of 5" aria-pressed="false">★</button>
      <button type="button" data-score="4" aria-label="4 of 5" aria-pressed="false">★</button>
      <button type="button" data-score="5" aria-label="5 of 5" aria-pressed="false">★</button>
    </span>
    <span id="rating-thanks" class="status" hidden>Thank you!</span>
    <button id="rating-done" type="button" hidden>Close the chat</button>
  </div>
</section>
<dialog id="end-dialog" aria-labelledby="end-title" aria-describedby="end-text">
  <h2 id="end-title">End this chat?</h2>
  <p id="end-text">You'll be signed out here and can rate the conversation.</p>
  <div class="actions">
    <button id="end-confirm" type="button">End chat</button>
    <button id="end-cancel" type="button" class="secondary" autofocus>Keep chatting</button>
  </div>
</dialog>`;

  const SPEAKERS = { user: "You", bot: "Assistant", greeting: "Assistant", agent: "Colleague", note: "", system: "" };

  function clock(at) {
    return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // One transcript line: a row holding the speaker (for screen readers), the bubble
  // (.msg, its text only) and a meta line (time, delivery state).
  function row(kind, at) {
    const el = document.createElement("div");
    el.className = `entry entry-${kind}`;
    if (SPEAKERS[kind]) {
      const who = document.createElement("span");
      who.className = "visually-hidden";
      who.textContent = `${SPEAKERS[kind]}:`;
      el.appendChild(who);
    }
    const bubble = document.createElement("div");
    bubble.className = `msg ${kind}`;
    el.appendChild(bubble);
    const meta = document.createElement("p");
    meta.className = "meta";
    const time = document.createElement("time");
    const state = document.createElement("span");
    state.className = "state";
    meta.append(time, state);
    el.appendChild(meta);
    setTime(el, at);
    return { el, bubble };
  }

  function setTime(el, at) {
    const time = el.querySelector("time");
    if (!at) { time.textContent = ""; time.removeAttribute("datetime"); return; }
    time.dateTime = new Date(at).toISOString();
    time.textContent = clock(at);
  }

  function setState(el, text) {
    el.querySelector(".meta .state").textContent = text ? ` · ${text}` : "";
  }

  function button(title, onClick, className) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = title;
    if (className) btn.className = className;
    btn.addEventListener("click", onClick);
    return btn;
  }

  function build(container, { embedded }) {
    const shell = document.createElement("div");
    shell.className = embedded ? "widget embedded" : "widget";
    shell.id = "bank-widget-panel";
    shell.innerHTML = template(embedded ? "h2" : "h1"); // static markup only
    if (embedded) {
      shell.setAttribute("role", "region");
      shell.setAttribute("aria-label", "Bank assistant chat");
    }
    container.appendChild(shell);
    const q = (id) => shell.querySelector(`#${id}`);
    let launcher = null;
    if (embedded) {
      launcher = button("Chat with us", () => {}, "launcher");
      launcher.setAttribute("aria-controls", shell.id);
      launcher.setAttribute("aria-expanded", "false");
      container.insertBefore(launcher, shell);
      shell.hidden = true;
      q("minimise-button").hidden = false;
    }
    const log = q("chat-log");
    const pending = q("pending");

    function scroll() { log.scrollTop = log.scrollHeight; }

    return {
      shell, q, launcher,
      clear() { log.replaceChildren(pending); pending.replaceChildren(); },
      // A finished line of the conversation (above the pending ones).
      add(kind, { text, markdown, at }) { // kind: user, bot, greeting, agent, note, system
        const { el, bubble } = row(kind, at);
        if (markdown) bubble.appendChild(window.BankWidgetMarkdown.render(text));
        else bubble.textContent = text;
        log.insertBefore(el, pending);
        scroll();
        return { el, bubble };
      },
      // A message of the customer's not stored by the gateway yet (the outbox).
      addPending(text, at) {
        const { el, bubble } = row("user", at);
        el.classList.add("is-pending");
        bubble.textContent = text;
        pending.appendChild(el);
        scroll();
        return el;
      },
      settle(el, at) {
        el.classList.remove("is-pending", "is-failed");
        setState(el, "");
        el.querySelectorAll(".retry").forEach((b) => b.remove());
        setTime(el, at);
        log.insertBefore(el, pending);
        scroll();
      },
      setState, setTime, button, scroll,
    };
  }

  window.BankWidgetView = { build };
})();
