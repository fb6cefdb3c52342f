// The wallboard: one tile per queue (waiting now, longest wait, service
// level today, ASA, answered, abandon rate; for email, what awaits a first
// reply and what is overdue against the queue's first-response and
// resolution targets) and agents by state, redrawn from the live stream; a
// tile turns amber or red past its thresholds.
import { api, el, duration, live, debounce } from "/assets/common.js";

const board = document.getElementById("tiles");
const agentsBox = document.getElementById("agents");
let queues = [];
let agents = [];
let lastStatus = new Map();
let written = new Map();            // queue id → email service levels

async function loadConfig() {
  queues = (await api("GET", "/api/v1/queues?limit=500")).items;
  agents = (await api("GET", "/api/v1/agents?limit=500")).items;
}

/** `amber` or `red` from the queue's own targets. */
function level(q, s) {
  const target = q.service_level_target_pct;
  const sl = s.service_level_pct;
  const waitS = s.longest_wait_ms / 1000;
  if ((sl !== null && sl < target - 20) || waitS > 2 * q.service_level_seconds) return "red";
  if ((sl !== null && sl < target) || waitS > q.service_level_seconds) return "amber";
  return "";
}

function metric(name, value, cls) {
  return el("div", { class: "metric" }, el("b", { class: cls }, value), el("span", {}, name));
}

async function refresh() {
  const statuses = await Promise.all(queues.map((q) => api("GET", `/api/v1/queues/${q.id}/status`).catch(() => null)));
  lastStatus = new Map(queues.map((q, i) => [q.id, statuses[i]]));
  const levels = await api("GET", "/api/v1/email/service-levels").catch(() => ({ items: [] }));
  written = new Map(levels.items.map((w) => [w.queue_id, w]));
  draw();
  const agentStates = await Promise.all(agents.map((a) => api("GET", `/api/v1/agents/${a.id}/status`).catch(() => null)));
  const counts = { available: 0, busy: 0, wrap_up: 0, away: 0, offline: 0 };
  for (const s of agentStates) if (s) counts[s.status] = (counts[s.status] || 0) + 1;
  agentsBox.replaceChildren(el("h2", {}, "Agents"),
    el("div", { class: "metrics" }, ...Object.entries(counts).map(([k, v]) =>
      metric(k.replace("_", "-"), String(v), `agents-${k}`))));
}
const refreshSoon = debounce(() => refresh().catch(() => {}), 150);

function draw() {
  board.replaceChildren(...queues.map((q) => {
    const s = lastStatus.get(q.id);
    if (!s) return el("section", { class: "tile" }, el("h2", {}, q.name), el("p", { class: "muted" }, "No data"));
    const handled = s.answered + s.abandoned;
    const abandonRate = handled ? `${Math.round((100 * s.abandoned) / handled)}%` : "—";
    const w = written.get(q.id);
    const showMail = w && (w.open || w.answered_today || w.resolved_today || w.first_response_seconds || w.resolution_seconds);
    const overdue = w && (w.first_response_overdue || w.resolution_overdue);
    const pct = (n, d) => (d ? `${Math.round((100 * n) / d)}%` : "—");
    return el("section", { class: `tile ${overdue ? "red" : level(q, s)}`, "data-queue": q.id, "aria-label": `Queue ${q.name}` },
      el("h2", {}, q.name, s.open ? "" : " (closed)"),
      el("div", { class: "metrics" },
        metric("waiting", String(s.waiting), "waiting"),
        metric("longest wait", duration(s.longest_wait_ms), "longest"),
        metric(`service level (${q.service_level_seconds}s)`, s.service_level_pct === null ? "—" : `${Math.round(s.service_level_pct)}%`, "sl"),
        metric("answered", String(s.answered), "answered"),
        metric("ASA", s.asa_ms === null ? "—" : duration(s.asa_ms), "asa"),
        metric("abandoned", abandonRate, "abandoned")),
      showMail ? el("div", { class: "metrics email-levels", "aria-label": "Email" },
        metric("emails open", String(w.open), "mail-open"),
        metric("awaiting reply", String(w.awaiting_first_response), "mail-awaiting"),
        metric("oldest awaiting", w.oldest_awaiting_ms === null ? "—" : duration(w.oldest_awaiting_ms), "mail-oldest"),
        metric(w.first_response_seconds ? `reply overdue (${duration(w.first_response_seconds * 1000)})` : "reply overdue (no target)",
          String(w.first_response_overdue), "mail-reply-overdue"),
        metric(w.resolution_seconds ? `resolution overdue (${duration(w.resolution_seconds * 1000)})` : "resolution overdue (no target)",
          String(w.resolution_overdue), "mail-resolution-overdue"),
        metric("replied in time today", pct(w.answered_today_in_time, w.answered_today), "mail-in-time")) : null);
  }));
}

document.getElementById("wall").addEventListener("click", () => {
  document.body.classList.toggle("wall");
  if (document.body.classList.contains("wall") && document.fullscreenEnabled) {
    document.documentElement.requestFullscreen().catch(() => {});
  } else if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
});
document.addEventListener("keydown", (e) => { if (e.key === "Escape") document.body.classList.remove("wall"); });

// Longest wait grows between events.
setInterval(() => refreshSoon(), 5000);
live(() => refreshSoon());
await loadConfig();
await refresh();
