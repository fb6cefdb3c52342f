// Reports: the interval report (a table, a bar chart of offered and
// answered per interval with all queues added up) and the agent report,
// each also as CSV.
import { api, el, duration, showFieldErrors, ApiError } from "/assets/common.js";

const form = document.getElementById("report-form");
const body = document.querySelector("#report tbody");
const chart = document.getElementById("chart");
const csv = document.getElementById("csv");
const agentsCsv = document.getElementById("agents-csv");
const agentsBody = document.querySelector("#agents tbody");
const pct = (v) => (v === null || v === undefined ? "—" : `${v.toFixed(0)}%`);
const dur = (v) => (v === null || v === undefined ? "—" : duration(v));
const error = document.getElementById("report-error");

function params() {
  const f = new FormData(form);
  const p = new URLSearchParams();
  for (const [k, v] of f) if (v) p.set(k, v);
  return p;
}

function drawChart(items) {
  const byStart = new Map();
  for (const r of items) {
    const b = byStart.get(r.local_start) || { offered: 0, answered: 0 };
    b.offered += r.offered; b.answered += r.answered;
    byStart.set(r.local_start, b);
  }
  const bars = [...byStart.entries()];
  if (!bars.length) { chart.replaceChildren(el("p", { class: "muted" }, "No contacts in this range.")); return; }
  const max = Math.max(...bars.map(([, b]) => b.offered), 1);
  const w = 24, gap = 10, h = 160, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = bars.length * (2 * w + gap) + gap;
  svg.setAttribute("viewBox", `0 0 ${width} ${h + 40}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", h + 40);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Offered and answered contacts per interval");
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  bars.forEach(([label, b], i) => {
    const x = gap + i * (2 * w + gap);
    for (const [j, v, color] of [[0, b.offered, "#9db8ef"], [1, b.answered, "#2457c5"]]) {
      const r = document.createElementNS(ns, "rect");
      const bh = (v / max) * h;
      r.setAttribute("x", x + j * w); r.setAttribute("y", h - bh + 10);
      r.setAttribute("width", w - 2); r.setAttribute("height", bh); r.setAttribute("fill", color);
      const t = document.createElementNS(ns, "title");
      t.textContent = `${label}: ${j ? "answered" : "offered"} ${v}`;
      r.append(t);
      svg.append(r);
    }
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x); t.setAttribute("y", h + 30); t.setAttribute("font-size", "11");
    t.textContent = label.slice(11);
    svg.append(t);
  });
  chart.replaceChildren(svg, el("p", { class: "muted" }, "Light: offered. Dark: answered."));
}

async function show() {
  const p = params();
  csv.href = `/api/v1/reports/intervals?${p}&format=csv`;
  const range = new URLSearchParams({ from: p.get("from") || "", to: p.get("to") || "" });
  agentsCsv.href = `/api/v1/reports/agents?${range}&format=csv`;
  error.textContent = "";
  try {
    const { items } = await api("GET", `/api/v1/reports/intervals?${p}`);
    body.replaceChildren(...items.map((r) => el("tr", {},
      el("td", {}, r.local_start), el("td", {}, r.queue), el("td", {}, r.offered), el("td", {}, r.answered),
      el("td", {}, r.abandoned),
      el("td", {}, pct(r.service_level_pct)), el("td", {}, dur(r.asa_ms)), el("td", {}, dur(r.aht_ms)),
      el("td", {}, pct(r.occupancy_pct)))));
    drawChart(items);
    const agents = (await api("GET", `/api/v1/reports/agents?${range}`)).items;
    agentsBody.replaceChildren(...agents.map((a) => el("tr", { "data-agent": a.agent_id },
      el("th", { scope: "row" }, a.agent), el("td", {}, a.handled), el("td", {}, dur(a.aht_ms)),
      ...["available", "busy", "wrap_up", "away"].map((k) => el("td", {}, duration(a.time_in_state[k] || 0))),
      el("td", {}, Object.entries(a.away_by_reason).map(([r, ms]) => `${r} ${duration(ms)}`).join(", ") || "—"),
      el("td", {}, pct(a.occupancy_pct)))));
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(form, e);
    else error.textContent = e.message;
  }
}

form.addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
const queues = await api("GET", "/api/v1/queues?limit=500");
document.getElementById("queue").append(...queues.items.map((q) => el("option", { value: q.id }, q.name)));
await show();
