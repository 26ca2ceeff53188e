// Puts the customer widget on any page with one tag:
//   <script src="https://GATEWAY/static/widget-embed.js" data-gateway="https://GATEWAY"></script>
// It mounts the widget into a Shadow DOM (the page's styles and the widget's do not mix)
// behind a "Chat with us" button. data-gateway defaults to where this script came from.
// The page's origin must be in the gateway's ALLOWED_ORIGINS (sign-in and /ws check it).
"use strict";
(() => {
  const script = document.currentScript;
  const base = new URL(".", script.src); // the gateway's /static/
  const gateway = (script.dataset.gateway || new URL("/", script.src).href).replace(/\/+$/, "");
  const parts = ["widget-markdown.js", "widget-view.js", "widget-connection.js", "widget.js"];

  function load(name) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = new URL(name, base).href;
      tag.async = false;
      tag.onload = resolve;
      tag.onerror = () => reject(new Error(`could not load ${name}`));
      document.head.appendChild(tag);
    });
  }

  async function start() {
    const host = document.createElement("div");
    host.id = "bank-widget-host";
    document.body.appendChild(host);
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = new URL("widget.css", base).href;
    root.appendChild(style);
    for (const name of parts) await load(name);
    window.BankWidget.mount(root, { gateway, embedded: true, storagePrefix: "bank-widget.chat." });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
