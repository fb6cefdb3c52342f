// Planning: contacts forecast per interval from history (Switchboard's own
// contacts or a CSV file) and the agents and positions each interval needs;
// a chart of last week, the forecast and the positions; the plan as CSV;
// then the shifts that cover the positions, with their coverage drawn;
// named agents put on those shifts as a roster (drawn agents × days),
// published for agents to see; agents' contracted hours and availability.
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
const rosterForm = document.getElementById("roster-form");
let scheduled = null;   // the last schedule: first day, days, shifts

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
      el("td", {}, fmt(i.reforecast)), el("td", {}, i.required), el("td", { class: "scheduled" }, fmt(i.scheduled)),
      el("td", { class: "staffed" }, fmt(i.staffed)))));
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
      el("td", {}, sh.breaks.map((b) => `${b.start}-${b.end}`).join(", ") || "—"), el("td", {}, sh.agents))));
    scheduled = { first_day: days[0], days: days.length, shifts: out.shifts };
    rosterForm.hidden = false;
    if (!document.getElementById("roster-name").value) {
      document.getElementById("roster-name").value = `Week of ${days[0]}`;
    }
    draw(last);
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(shiftsForm, e);
    else { shiftsStatus.textContent = e.message; shiftsStatus.className = "form-status error"; }
  }
});

// ---- Rosters ----
const rosterView = document.getElementById("roster-view");
const rosterStatus = document.getElementById("roster-status");
let shown = null;       // the roster on screen

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
const minuteOfDay = (local) => Number(local.slice(11, 13)) * 60 + Number(local.slice(14, 16));

rosterForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!scheduled) return;
  clearFieldErrors(rosterForm);
  const st = rosterForm.querySelector(".form-status");
  st.textContent = "Building…";
  st.className = "form-status muted";
  try {
    const r = await api("POST", "/api/v1/wfm/rosters", {
      name: document.getElementById("roster-name").value,
      first_day: scheduled.first_day,
      days: scheduled.days,
      min_rest_hours: num("min_rest_hours"),
      max_consecutive_days: num("max_consecutive_days"),
      shifts: scheduled.shifts.map((sh) => ({
        day: sh.day, shift: sh.shift, start: sh.start, minutes: sh.minutes, agents: sh.agents,
        breaks: sh.breaks.map((b) => ({ start: b.start, minutes: b.minutes, paid: b.paid })),
      })),
    });
    st.textContent = "";
    await loadRosters();
    showRoster(r);
  } catch (e) {
    st.textContent = "";
    if (e instanceof ApiError && e.fields.length) showFieldErrors(rosterForm, e);
    else { st.textContent = e.message; st.className = "form-status error"; }
  }
});

async function loadRosters() {
  const { items } = await api("GET", "/api/v1/wfm/rosters");
  document.querySelector("#rosters tbody").replaceChildren(...items.map((r) => el("tr", { "data-roster": r.id },
    el("td", {}, r.name), el("td", {}, r.first_day), el("td", {}, String(r.days)),
    el("td", {}, el("span", { class: `pill ${r.state === "published" ? "available" : "away"}` }, r.state)),
    el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Open ${r.name}`,
      onclick: async () => showRoster(await api("GET", `/api/v1/wfm/rosters/${r.id}`)) }, "Open")))));
}

// The roster as a timeline: a row per agent (and one for shifts no one
// could take), a column per day, each shift a bar placed by its hours.
function showRoster(r) {
  shown = r;
  document.getElementById("predict-summary").textContent = "";
  document.getElementById("predict-chart").replaceChildren();
  document.getElementById("predict-queues").hidden = true;
  rosterView.hidden = false;
  rosterStatus.textContent = "";
  document.getElementById("roster-title").textContent = `${r.name} (${r.state})`;
  const filled = r.shifts.filter((s) => s.agent_id).length;
  document.getElementById("roster-summary").textContent =
    `${filled} of ${r.shifts.length} shifts have an agent, from ${r.first_day} for ${r.days} days.`;
  document.getElementById("publish-roster").hidden = r.state !== "draft";
  document.getElementById("delete-roster").hidden = r.state !== "draft";
  const problems = [
    ...r.explanation.unfilled.map((u) => `No one for ${u.shift} at ${u.local_start.replace("T", " ")}: ` +
      u.reasons.map((x) => `${x.agents} ${x.reason}`).join("; ")),
    ...r.explanation.under_contract.map((u) => `${u.agent_name} is ${u.short_hours.toFixed(1)} hours below contract`),
  ];
  document.getElementById("roster-problems").replaceChildren(...problems.map((t) => el("li", { class: "error" }, t)));
  const days = Array.from({ length: r.days }, (_, i) => addDays(r.first_day, i));
  const names = [...new Set(r.shifts.filter((s) => s.agent_name).map((s) => s.agent_name))].sort();
  const rows = names.map((n) => [n, r.shifts.filter((s) => s.agent_name === n)]);
  const open = r.shifts.filter((s) => !s.agent_id);
  if (open.length) rows.push(["Unfilled", open]);
  const timeline = document.getElementById("timeline");
  timeline.querySelector("thead").replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Agent"),
    ...days.map((d) => el("th", { scope: "col" }, d.slice(5)))));
  timeline.querySelector("tbody").replaceChildren(...rows.map(([name, shifts]) => el("tr", { "data-agent-name": name },
    el("th", { scope: "row" }, name),
    ...days.map((d) => el("td", { class: "lane" }, ...shifts.filter((s) => s.local_start.slice(0, 10) === d).map((s) => {
      const left = (minuteOfDay(s.local_start) / 1440) * 100;
      const width = Math.min(((s.ends_at - s.starts_at) / 86_400_000) * 100, 100 - left);
      const title = `${s.shift}: ${s.local_start.slice(11)}–${s.local_end.slice(11)}` +
        (s.breaks.length ? `, breaks ${s.breaks.map((b) => `${b.local_start.slice(11)}–${b.local_end.slice(11)}`).join(", ")}` : "");
      return el("div", { class: `bar${s.agent_id ? "" : " unfilled"}`, title, style: `left:${left}%;width:${width}%` },
        ...s.breaks.map((b) => el("div", { class: "brk", style:
          `left:${((b.starts_at - s.starts_at) / (s.ends_at - s.starts_at)) * 100}%;width:${((b.ends_at - b.starts_at) / (s.ends_at - s.starts_at)) * 100}%` })));
    }))))));
}

// What if: the roster on the simulator, the predicted service level per
// interval drawn with its 95 % confidence band and the 80 % line.
const pm = (e, scale = 100, unit = " %") => (e ? `${(e.mean * scale).toFixed(1)}${unit}` +
  (e.half_width === null ? "" : ` ± ${(e.half_width * scale).toFixed(1)}`) : "—");
document.getElementById("predict-roster").addEventListener("click", async () => {
  if (!shown) return;
  const summary = document.getElementById("predict-summary");
  summary.textContent = "Simulating…";
  summary.className = "muted";
  const patience = document.getElementById("predict-patience").value.trim();
  try {
    const p = await api("POST", `/api/v1/wfm/rosters/${shown.id}/predict`, {
      patience_seconds: patience === "" ? null : Number(patience),
    });
    summary.textContent = `Predicted over ${p.replications} runs: service level ${pm(p.service_level)}, ` +
      `abandoned ${pm(p.abandon_rate)}, occupancy ${pm(p.occupancy)}.`;
    drawPrediction(p);
    const table = document.getElementById("predict-queues");
    table.hidden = false;
    table.querySelector("tbody").replaceChildren(...p.queues.map((q) => el("tr", {},
      el("th", { scope: "row" }, q.name), el("td", {}, q.channel), el("td", {}, pm(q.offered, 1, "")),
      el("td", { class: "sl" }, `${pm(q.service_level)} in ${q.service_level_seconds} s`),
      el("td", {}, pm(q.abandon_rate)), el("td", {}, pm(q.asa_seconds, 1, " s")))));
  } catch (e) { summary.textContent = e.message; summary.className = "error"; }
});

function drawPrediction(p) {
  const n = p.intervals.length, w = Math.max(600, Math.min(1200, n * 8)), h = 200, pad = 30;
  const x = (i) => pad + ((i + 0.5) / n) * (w - 2 * pad);
  const y = (v) => h - v * (h - pad);
  const root = svg("svg", { viewBox: `0 0 ${w} ${h + 30}`, role: "img", width: w, height: h + 30,
    "aria-label": "Predicted service level per interval" });
  root.style.maxWidth = "100%";
  root.style.height = "auto";
  const pts = p.intervals.map((iv, i) => [i, iv.service_level]).filter(([, e]) => e);
  const band = [...pts.map(([i, e]) => `${x(i)},${y(Math.min(1, e.mean + (e.half_width || 0)))}`),
    ...pts.reverse().map(([i, e]) => `${x(i)},${y(Math.max(0, e.mean - (e.half_width || 0)))}`)].join(" ");
  pts.reverse();
  root.append(svg("polygon", { points: band, fill: "#9db8ef", opacity: 0.5 }));
  root.append(svg("polyline", { class: "predicted", points: pts.map(([i, e]) => `${x(i)},${y(e.mean)}`).join(" "),
    fill: "none", stroke: "#2457c5", "stroke-width": 2 }));
  root.append(svg("line", { x1: pad, x2: w - pad, y1: y(0.8), y2: y(0.8), stroke: "#b3261e", "stroke-dasharray": "4 3" }));
  const label = (text, tx, ty, anchor = "start") => { const t = svg("text", { x: tx, y: ty, "font-size": 12, "text-anchor": anchor }); t.textContent = text; root.append(t); };
  label("100 %", pad, 14);
  label("80 %", w - pad, y(0.8) - 4, "end");
  label(p.intervals[0].local_start.replace("T", " "), pad, h + 20);
  label(p.intervals[n - 1].local_start.replace("T", " "), w - pad, h + 20, "end");
  document.getElementById("predict-chart").replaceChildren(root, el("p", { class: "muted" },
    "Blue: predicted service level per interval (intervals with contacts), with its 95 % confidence band. Red, dashed: 80 %."));
}

document.getElementById("publish-roster").addEventListener("click", async () => {
  if (!shown) return;
  try {
    const out = await api("POST", `/api/v1/wfm/rosters/${shown.id}/publish`);
    await loadRosters();
    showRoster(await api("GET", `/api/v1/wfm/rosters/${shown.id}`));
    rosterStatus.textContent = "Published: agents now see these shifts" +
      (out.superseded.length ? `; ${out.superseded.length} earlier roster(s) over these days superseded.` : ".");
    rosterStatus.className = "form-status";
  } catch (e) { rosterStatus.textContent = e.message; rosterStatus.className = "form-status error"; }
});
document.getElementById("delete-roster").addEventListener("click", async () => {
  if (!shown) return;
  try {
    await api("DELETE", `/api/v1/wfm/rosters/${shown.id}`);
    rosterView.hidden = true;
    shown = null;
    await loadRosters();
  } catch (e) { rosterStatus.textContent = e.message; rosterStatus.className = "form-status error"; }
});

// ---- Contracts ----
const contractDialog = document.getElementById("contract-dialog");
const contractForm = document.getElementById("contract-form");
let editing = null;

async function loadContracts() {
  const { items } = await api("GET", "/api/v1/wfm/contracts");
  const week = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
  const spans = (c) => week.every((d) => JSON.stringify(c.availability[d]) === '[["00:00","24:00"]]') ? "any time" : week.filter((d) => c.availability[d]).map((d) =>
    `${d.slice(0, 3)} ${c.availability[d].map(([a, b]) => `${a}-${b}`).join(", ")}`).join("; ") || "never";
  document.querySelector("#contracts tbody").replaceChildren(...items.map((c) => el("tr", { "data-agent": c.agent_id },
    el("th", { scope: "row" }, c.agent_name),
    el("td", {}, `${c.min_hours}–${c.max_hours}${c.set ? "" : " (default)"}`),
    el("td", { class: "available" }, spans(c)),
    el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Edit contract of ${c.agent_name}`,
      onclick: () => editContract(c) }, "Edit")))));
}

function editContract(c) {
  editing = c;
  clearFieldErrors(contractForm);
  contractForm.querySelector(".form-status").textContent = "";
  document.getElementById("contract-title").textContent = `Contract: ${c.agent_name}`;
  document.getElementById("min_hours").value = c.min_hours;
  document.getElementById("max_hours").value = c.max_hours;
  for (const input of contractForm.querySelectorAll("[data-day]")) {
    input.value = (c.availability[input.dataset.day] || []).map(([a, b]) => `${a}-${b}`).join(", ");
  }
  contractDialog.showModal();
}

contractForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(contractForm);
  const availability = {};
  for (const input of contractForm.querySelectorAll("[data-day]")) {
    const spans = input.value.split(",").map((x) => x.trim()).filter(Boolean).map((x) => x.split("-").map((t) => t.trim()));
    if (spans.length) availability[input.dataset.day] = spans.map((s) => (s.length === 2 ? s : [s[0] || "", ""]));
  }
  try {
    await api("PUT", `/api/v1/wfm/contracts/${editing.agent_id}`, {
      min_hours: num("min_hours"), max_hours: num("max_hours"), availability,
    });
    contractDialog.close();
    await loadContracts();
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(contractForm, e);
    else { const st = contractForm.querySelector(".form-status"); st.textContent = e.message; st.className = "form-status error"; }
  }
});
document.getElementById("contract-cancel").addEventListener("click", () => contractDialog.close());

await loadRosters();
await loadContracts();
