// Supervisors: exports and training data (with the search filters), erasure of a
// customer's conversations (confirmed in place), and the audit log.
import { api, download } from "./api.js";
import { $, el, show, sync } from "./dom.js";
import { filters } from "./lists.js";

export async function refreshAudit() {
  try {
    const audit = await api("/console/api/audit?limit=100");
    sync($("audit"), audit.data, (a) => `${a.at}|${a.staff}|${a.action}|${a.target}`,
      () => document.createElement("tr"),
      (tr, a) => tr.replaceChildren(el("td", { textContent: new Date(a.at).toLocaleString() }),
        el("td", { textContent: a.staff }), el("td", { textContent: a.action }), el("td", { textContent: a.target || "" })));
    show("supervision-error", "");
  } catch (error) { show("supervision-error", error.message); }
}

export function describeFilters() {
  $("export-filters").textContent = [...filters()].map(([k, v]) => `${k}=${v}`).join(", ") || "all conversations";
}

async function save(path, filename) {
  try { await download(path, filename); refreshAudit(); } catch (error) { show("supervision-error", error.message); }
}

export function wireSupervision(afterErase) {
  $("export-jsonl").addEventListener("click", () => save(`/console/api/export?format=jsonl&${filters()}`, "transcripts.jsonl"));
  $("export-csv").addEventListener("click", () => save(`/console/api/export?format=csv&${filters()}`, "transcripts.csv"));
  $("training-data").addEventListener("click", () => save(`/console/api/training-data?${filters()}`, "nlu.yml"));
  $("erase-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const who = $("erase-customer").value.trim();
    if (!who) return;
    $("erase-question").textContent = `Erase every conversation of ${who}? Transcripts, chat sessions and the bot's memory of them go; this cannot be undone.`;
    $("erase-confirm").hidden = false;
    $("erase-no").focus();
  });
  $("erase-no").addEventListener("click", () => { $("erase-confirm").hidden = true; $("erase-customer").focus(); });
  $("erase-yes").addEventListener("click", async () => {
    const who = $("erase-customer").value.trim();
    $("erase-confirm").hidden = true;
    try {
      const result = await api(`/console/api/customers/${encodeURIComponent(who)}/conversations`, { method: "DELETE" });
      $("erase-result").textContent = `Erased ${result.erased_sessions} conversation(s) of ${who}.`;
      $("erase-customer").value = "";
      show("supervision-error", "");
      refreshAudit();
      afterErase();
    } catch (error) { show("supervision-error", error.message); }
    $("erase-customer").focus();
  });
}
