// Planning: contacts forecast per interval from history (Switchboard's own
// contacts or a CSV file) and the agents and positions each interval needs;
// a chart of last week, the forecast and the positions; the plan as CSV;
// then the shifts that cover the positions, with their coverage drawn.
import { api, el, duration, showFieldErrors, clearFieldErrors, ApiError } from "/assets/common.js";

const form = document.getElementById("plan-form");
const status = form.querySelector(".form-status");
const body = document.querySelector("#plan tbody");
const chart = document.getElementById("plan-chart");
const accuracy = document.getElementById("accuracy");
const csvButton = document.getElementById("plan-csv");
let last = null;
let lastInterval = 30;
let coverage = null;
const shiftsForm = document.getElementById("shifts-form");
const shiftsStatus = shiftsForm.querySelector(".form-status");

const num = (id) => {
  const v = document.getElementById(id).value.trim();
  return v === "" ? undefined : Number(v);
};
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);

async function request() {
  const b = {
    from: document.getElementById("from").value,
    days: num("days"),
    interval: num("interval"),
    sl_target: num("sl_target"),
    sl_seconds: num("sl_seconds"),
    shrinkage: num("shrinkage") ?? 0,
    model: document.getElementById("model").value,
  };
  const queue = document.getElementById("queue").value;
  if (queue) b.queue_id = queue;
  if (num("max_occupancy") !== undefined) b.max_occupancy = num("max_occupancy");
  if (num("patience_seconds") !== undefined) b.patience_seconds = num("patience_seconds");
  const holidays = document.getElementById("holidays").value.split(",").map((h) => h.trim()).filter(Boolean);
  if (holidays.length) b.holidays = holidays;
  if (form.querySelector('input[name="source"]:checked').value === "file") {
    const file = document.getElementById("history_csv").files[0];
    if (!file) throw new ApiError(422, { errors: [{ field: "history_csv", message: "choose a CSV file" }] });
    b.history_csv = await file.text();
  } else {
    b.history_weeks = num("history_weeks");
  }
  return b;
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** Last week's contacts (grey), the forecast (blue) and positions (line, right scale). */
function draw(plan) {
  const hist = plan.history.map((h) => h.contacts);
  const fc = plan.intervals.map((i) => i.contacts);
  const pos = plan.intervals.map((i) => i.positions);
  const n = hist.length + fc.length;
  if (!n) { chart.replaceChildren(el("p", { class: "muted" }, "Nothing to show.")); return; }
  const w = Math.max(600, Math.min(1200, n * 3)), h = 220, pad = 30;
  const maxC = Math.max(1, ...hist, ...fc), maxP = Math.max(1, ...pos);
  const x = (i) => pad + (i / n) * (w - 2 * pad);
  const bw = Math.max(1, (w - 2 * pad) / n - 0.5);
  const root = svg("svg", { viewBox: `0 0 ${w} ${h + 30}`, role: "img", width: w, height: h + 30,
    "aria-label": "Contacts last week and forecast, with positions needed" });
  root.style.maxWidth = "100%";
  root.style.height = "auto";
  const bar = (i, v, color) => root.append(svg("rect", { x: x(i), y: h - (v / maxC) * (h - pad), width: bw, height: (v / maxC) * (h - pad), fill: color }));
  hist.forEach((v, i) => bar(i, v, "#c5cbd6"));
  fc.forEach((v, i) => bar(hist.length + i, v, "#9db8ef"));
  const line = pos.map((p, i) => `${x(hist.length + i + 0.5).toFixed(1)},${(h - (p / maxP) * (h - pad)).toFixed(1)}`).join(" ");
  root.append(svg("polyline", { points: line, fill: "none", stroke: "#b3261e", "stroke-width": 2 }));
  if (coverage && coverage.length === pos.length) {
    const cov = coverage.map((c, i) => `${x(hist.length + i + 0.5).toFixed(1)},${(h - (Math.min(c, maxP * 1.2) / maxP) * (h - pad)).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { points: cov, fill: "none", stroke: "#1a7f37", "stroke-width": 2, "stroke-dasharray": "4 2" }));
  }
  const label = (text, tx, ty, anchor = "start") => { const t = svg("text", { x: tx, y: ty, "font-size": 12, "text-anchor": anchor }); t.textContent = text; root.append(t); };
  label(`${Math.round(maxC)} contacts`, pad, 14);
  label(`${maxP} positions`, w - pad, 14, "end");
  label(plan.history.length ? plan.history[0].local_start.slice(0, 10) : "", pad, h + 20);
  label(plan.intervals[0].local_start.slice(0, 10), x(hist.length), h + 20);
  chart.replaceChildren(root, el("p", { class: "muted" }, "Grey: last week's contacts. Blue: forecast contacts. Red: positions needed (right scale).",
    coverage ? " Green, dashed: agents the scheduled shifts put on duty." : ""));
}

function show(plan) {
  last = plan;
  coverage = null;
  document.getElementById("schedule").disabled = false;
  document.querySelector("#shifts tbody").replaceChildren();
  document.getElementById("schedule-summary").textContent = "";
  const a = plan.accuracy;
  accuracy.textContent = a.wape === null
    ? `Learnt from ${plan.history_days} days. Accuracy is measured once there are three weeks of history.`
    : `Learnt from ${plan.history_days} days. Forecasting the last week of history: WAPE ${pct(a.wape)} (same week last week: ${pct(a.naive_wape)}), MAPE ${pct(a.mape)} (${pct(a.naive_mape)}).`;
  body.replaceChildren(...plan.intervals.map((i) => el("tr", {},
    el("td", {}, i.local_start.replace("T", " "),
      i.clock_change ? el("span", { class: "muted" }, i.clock_change === "skipped" ? " (clocks go forward: does not happen)" : " (clocks go back: happens twice)") : ""),
    el("td", {}, i.contacts.toFixed(1)), el("td", {}, duration(i.aht_seconds * 1000)),
    el("td", {}, i.agents), el("td", { class: "positions" }, i.positions), el("td", {}, pct(i.service_level)),
    el("td", {}, duration(i.asa_seconds * 1000)), el("td", {}, pct(i.occupancy)))));
  draw(plan);
  csvButton.disabled = false;
}

csvButton.addEventListener("click", () => {
  if (!last) return;
  const rows = [["interval_start", "contacts", "aht_seconds", "agents", "positions", "service_level", "asa_seconds", "occupancy"],
    ...last.intervals.map((i) => [i.local_start, i.contacts.toFixed(1), i.aht_seconds.toFixed(1), i.agents, i.positions,
      i.service_level.toFixed(4), i.asa_seconds.toFixed(1), i.occupancy.toFixed(4)])];
  const blob = new Blob([rows.map((r) => r.join(",")).join("\r\n") + "\r\n"], { type: "text/csv" });
  const a = el("a", { href: URL.createObjectURL(blob), download: `plan-${last.intervals[0].local_start.slice(0, 10)}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
});

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(form);
  status.textContent = "Planning…";
  status.className = "form-status muted";
  try {
    const req = await request();
    lastInterval = req.interval;
    show(await api("POST", "/api/v1/wfm/plan", req));
    status.textContent = "";
  } catch (e) {
    status.textContent = "";
    if (e instanceof ApiError && e.fields.length) showFieldErrors(form, e);
    else { status.textContent = e.message; status.className = "form-status error"; }
  }
});

// Today so far: the forecast against actuals, the rest re-forecast, and
// agents needed against agents logged in.
document.getElementById("show-today").addEventListener("click", async () => {
  const summary = document.getElementById("today-summary");
  const q = new URLSearchParams({ interval: document.getElementById("interval").value,
    history_weeks: document.getElementById("history_weeks").value });
  const queue = document.getElementById("queue").value;
  if (queue) q.set("queue_id", queue);
  for (const id of ["sl_target", "sl_seconds", "max_occupancy", "patience_seconds"]) {
    const v = document.getElementById(id).value.trim();
    if (v) q.set(id, v);
  }
  q.set("model", document.getElementById("model").value);
  try {
    const day = await api("GET", `/api/v1/wfm/intraday?${q}`);
    const fmt = (v) => (v === null || v === undefined ? "—" : v.toFixed(1));
    summary.textContent = `As of ${day.now_local.slice(11)}: contacts so far are ${(day.ratio * 100).toFixed(0)} % of the forecast; the rest of the day is re-forecast accordingly.`;
    summary.className = "muted";
    document.querySelector("#today tbody").replaceChildren(...day.intervals.map((i) => el("tr",
      { class: i.staffed !== null && i.staffed + 0.5 < i.required ? "short" : "" },
      el("td", {}, i.local_start.slice(11)), el("td", {}, fmt(i.forecast)), el("td", {}, fmt(i.actual)),
      el("td", {}, fmt(i.reforecast)), el("td", {}, i.required), el("td", { class: "staffed" }, fmt(i.staffed)))));
  } catch (e) {
    summary.textContent = e.message;
    summary.className = "error";
  }
});

const queues = await api("GET", "/api/v1/queues?limit=500");
document.getElementById("queue").append(...queues.items.map((q) => el("option", { value: q.id }, q.name)));

shiftsForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!last) return;
  clearFieldErrors(shiftsForm);
  shiftsStatus.textContent = "";
  let shifts;
  try {
    shifts = JSON.parse(document.getElementById("shift-templates").value);
  } catch (e) {
    showFieldErrors(shiftsForm, new ApiError(422, { errors: [{ field: "shifts", message: `not valid JSON: ${e.message}` }] }));
    return;
  }
  try {
    const out = await api("POST", "/api/v1/wfm/schedule", {
      interval: lastInterval, required: last.intervals.map((i) => i.positions), shifts,
    });
    coverage = out.coverage;
    const days = [...new Set(last.intervals.map((i) => i.local_start.slice(0, 10)))];
    document.getElementById("schedule-summary").textContent =
      `${out.total} shifts started (no schedule can start fewer than ${out.lower_bound}); ` +
      `${out.over} agent-intervals above the requirement` +
      (out.under ? `; ${out.under} agent-intervals in ${out.shortfall.length} intervals no shift reaches.` : ".");
    document.querySelector("#shifts tbody").replaceChildren(...out.shifts.map((sh) => el("tr", {},
      el("td", {}, days[sh.day] || `day ${sh.day + 1}`), el("td", {}, sh.shift), el("td", {}, sh.start), el("td", {}, sh.end),
      el("td", {}, sh.breaks.join(", ") || "—"), el("td", {}, sh.agents))));
    draw(last);
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(shiftsForm, e);
    else { shiftsStatus.textContent = e.message; shiftsStatus.className = "form-status error"; }
  }
});
