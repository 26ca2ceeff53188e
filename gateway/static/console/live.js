// The console's live stream: Server-Sent Events from /console/api/events, read with
// fetch so it carries the Bearer token. Events say what changed; the handlers re-read
// just that through the API. The stream ends when the access token expires: it is
// refreshed and the stream reopened; a dropped stream is retried with backoff.
import { refreshTokens, token } from "./api.js";

export function connectLive({ onEvent, onStatus, onSignedOut }) {
  let stopped = false;
  let controller = null;
  let failures = 0;

  async function once() {
    controller = new AbortController();
    const response = await fetch("/console/api/events", {
      headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (response.status === 401) {
      if (!(await refreshTokens())) { onSignedOut("Your session ended; sign in again."); stopped = true; }
      return;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message"; let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue; // a keep-alive comment
        if (name === "ready") { failures = 0; onStatus(true); }
        if (name === "expired") { await refreshTokens(); return; }
        onEvent(name, JSON.parse(data));
      }
    }
  }

  (async () => {
    while (!stopped) {
      try { await once(); } catch (error) { if (stopped) return; failures += 1; }
      if (stopped) return;
      onStatus(false);
      // Backoff with jitter, so many consoles do not reconnect in step after an outage.
      const wait = failures ? Math.min(15000, 500 * 2 ** failures) * (0.5 + Math.random() / 2) : 0;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  return () => { stopped = true; if (controller) controller.abort(); };
}
