// Dashboard: totals and charts from GET /console/api/stats (the contract's figures).
// One call for the period gives totals, conversations and turns per day and the top
// intents; one call per day gives the daily fallback rate, handoffs and ratings.
// Charts are Chart.js (vendored at setup from npm into /static/vendor/), updated in
// place on live events, without animation.
import { api } from "./api.js";
import { $, el, show } from "./dom.js";

const charts = {};
const MAX_DAYS = 31;
const BLUE = "#0b5cad"; const GREEN = "#1f7a3a"; const RED = "#b00020"; const AMBER = "#a15c00";

const iso = (d) => d.toISOString().slice(0, 10);

export function defaultRange() {
  const to = new Date();
  const from = new Date(to.getTime() - 13 * 86400000);
  if (!$("range-from").value) $("range-from").value = iso(from);
  if (!$("range-to").value) $("range-to").value = iso(to);
}

function days(from, to) {
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); iso(d) <= to && out.length < MAX_DAYS; d = new Date(d.getTime() + 86400000)) {
    out.push(iso(d));
  }
  return out;
}

const short = (day) => day.slice(5); // MM-DD on the axis

function draw(id, type, labels, datasets, options = {}) {
  const summary = datasets.map((s) => `${s.label}: ${labels.map((l, i) => `${l} ${s.data[i]}`).join(", ")}`).join("; ");
  $(id).setAttribute("aria-label", summary.slice(0, 900) || "no data");
  if (!window.Chart) return; // the vendored library is missing: totals still show
  if (charts[id]) {
    charts[id].data.labels = type === "doughnut" || options.indexAxis ? labels : labels.map(short);
    charts[id].data.datasets.forEach((set, i) => { set.data = datasets[i].data; });
    charts[id].update("none");
    return;
  }
  charts[id] = new window.Chart($(id), {
    type, data: { labels: type === "doughnut" || options.indexAxis ? labels : labels.map(short), datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: datasets.length > 1 || type === "doughnut" } }, ...options },
  });
}

export async function refreshDashboard() {
  defaultRange();
  const from = $("range-from").value; const to = $("range-to").value;
  try {
    const period = days(from, to);
    const [total, ...daily] = await Promise.all([
      api(`/console/api/stats?from=${from}&to=${to}`),
      ...period.map((d) => api(`/console/api/stats?from=${d}&to=${d}`)),
    ]);
    const kpis = [
      ["Conversations", total.conversations], ["Turns", total.turns],
      ["Fallback rate", `${(total.fallback_rate * 100).toFixed(1)} %`], ["Handoffs", total.handoffs],
      ["Replies rated helpful", total.feedback.up], ["Replies rated not helpful", total.feedback.down],
      ["Rating", total.ratings.count ? `★ ${total.ratings.mean.toFixed(1)} (${total.ratings.count})` : "none yet"],
    ];
    $("kpis").replaceChildren(...kpis.map(([name, value]) =>
      el("li", {}, el("span", { className: "kpi-value", textContent: String(value) }), el("span", { className: "kpi-name", textContent: name }))));
    const byDay = new Map(total.by_day.map((d) => [d.date, d]));
    draw("chart-days", "bar", period, [
      { label: "Conversations", data: period.map((d) => byDay.get(d)?.conversations || 0), backgroundColor: BLUE },
      { label: "Turns", data: period.map((d) => byDay.get(d)?.turns || 0), backgroundColor: GREEN },
    ]);
    draw("chart-fallback", "line", period, [
      { label: "Fallback rate %", data: daily.map((s) => Number((s.fallback_rate * 100).toFixed(1))), borderColor: RED, backgroundColor: RED },
    ], { scales: { y: { beginAtZero: true, suggestedMax: 20 } } });
    draw("chart-intents", "bar", total.top_intents.map((i) => i.intent), [
      { label: "Turns", data: total.top_intents.map((i) => i.count), backgroundColor: BLUE },
    ], { indexAxis: "y" });
    draw("chart-handoffs", "bar", period, [
      { label: "Handoffs", data: daily.map((s) => s.handoffs), backgroundColor: AMBER },
    ], { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
    draw("chart-feedback", "doughnut", ["thumbs up (helpful)", "thumbs down (not helpful)"], [
      { label: "Replies", data: [total.feedback.up, total.feedback.down], backgroundColor: [GREEN, RED] },
    ]);
    draw("chart-ratings", "line", period, [
      { label: "Mean rating", data: daily.map((s) => (s.ratings.count ? s.ratings.mean : null)), borderColor: AMBER,
        backgroundColor: AMBER, spanGaps: true },
    ], { scales: { y: { min: 1, max: 5 } } });
    const options = $("intent-options");
    const known = new Set([...options.options].map((o) => o.value));
    for (const i of total.top_intents) if (!known.has(i.intent)) options.append(el("option", { value: i.intent }));
    show("dashboard-error", "");
  } catch (error) { show("dashboard-error", error.message); }
}
