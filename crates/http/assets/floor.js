// The floor view: every agent with state, time in it, what is ringing and
// in hand; a team leader changes an agent's state and skills (allocating
// duties: queues are served by skill). Redrawn from the live stream.
// Agents out of adherence to the published roster are flagged. On a call
// in progress a team leader listens in, whispers to the agent or barges in
// from their own phone.
import { api, el, duration, live, debounce, showFieldErrors, ApiError } from "/assets/common.js";

const body = document.querySelector("#floor tbody");
const notice = document.getElementById("notice");
const dialog = document.getElementById("skills-dialog");
const skillsForm = document.getElementById("skills-form");
let agents = [], skills = [], statuses = new Map();
let reasons = [], queueNames = new Map();
const inHand = new Map();           // contact id → contact, for what agents hold
let adherence = new Map();          // agent id → today's adherence

function say(text, bad = false) { notice.textContent = text; notice.className = bad ? "error" : "muted"; }

async function load() {
  agents = (await api("GET", "/api/v1/agents?limit=500")).items;
  skills = (await api("GET", "/api/v1/skills?limit=500")).items;
  reasons = (await api("GET", "/api/v1/codes?kind=reason")).items;
  queueNames = new Map((await api("GET", "/api/v1/queues?limit=500")).items.map((q) => [q.id, q.name]));
}

const CHANNEL = { voice: "Call", email: "Email", chat: "Chat", sms: "Text" };
/** What an agent holds: "Chat — Billing" for each contact in hand. */
function holding(s) {
  if (!s || !s.contacts.length) return "—";
  return s.contacts.map((id) => {
    const c = inHand.get(id);
    return c ? `${CHANNEL[c.channel] || c.channel} — ${queueNames.get(c.queue_id) || "?"}` : "…";
  }).join(", ");
}

/** Listen / whisper / barge buttons for a call in progress. */
function monitorButtons(a, s) {
  const calls = (s ? s.contacts : []).map((id) => inHand.get(id)).filter((c) => c && c.channel === "voice" && c.state === "active");
  return calls.flatMap((c) => [" ", el("span", { class: "monitor row", style: "margin:0; display:inline-flex; gap:.25rem" },
    ...[["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge in"]].map(([mode, label]) =>
      el("button", { type: "button", class: "secondary", "aria-label": `${label} on ${a.display_name}'s call`,
        onclick: () => monitor(a, c, mode) }, label)),
    el("button", { type: "button", class: "secondary", "aria-label": `Leave ${a.display_name}'s call`,
      onclick: () => leave(a, c) }, "Leave"))]);
}

/** A "Watch" button for each chat an agent has in hand. */
function watchButtons(a, s) {
  const chats = (s ? s.contacts : []).map((id) => inHand.get(id)).filter((c) => c && c.channel === "chat");
  return chats.map((c) => el("button", { type: "button", class: "secondary watch", style: "margin-left:.25rem",
    "aria-label": `Watch ${a.display_name}'s chat`, onclick: () => watch(a, c) }, "Watch chat"));
}

// The chat a team leader is watching: its messages as they come, read-only.
let watching = null;                // {contact, agent}
let watchTyping = null;
async function watch(a, c) {
  watching = { contact: c.id, agent: a.display_name };
  await drawWatch();
  document.getElementById("watch").scrollIntoView({ block: "nearest" });
}
async function drawWatch() {
  const box = document.getElementById("watch");
  if (!watching) { box.hidden = true; return; }
  box.hidden = false;
  try {
    const conv = await api("GET", `/api/v1/contacts/${watching.contact}/messages`);
    box.replaceChildren(
      el("div", { class: "row", style: "justify-content:space-between" },
        el("h2", { style: "margin:0" }, `Watching ${watching.agent}'s chat #${conv.reference}`),
        el("button", { type: "button", class: "secondary", onclick: () => { watching = null; drawWatch(); } }, "Stop watching")),
      el("div", { class: "messages watch-messages", "aria-live": "polite" },
        ...conv.messages.filter((m) => m.channel === "chat").map((m) => el("article", { class: `message ${m.direction}`, "data-message": m.id },
          el("p", { class: "message-head muted" }, `${m.from_name || (m.direction === "in" ? "Customer" : "Agent")} · ${new Date(m.created_at).toLocaleTimeString()}`),
          el("div", { class: "message-text" }, m.text)))),
      el("p", { class: "muted watch-typing", hidden: true }, "The customer is typing…"));
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, `Could not read the chat: ${e.message}`));
  }
}

async function monitor(a, c, mode) {
  try {
    await api("POST", `/api/v1/contacts/${c.id}/monitor`, { mode });
    say(mode === "listen" ? `Your phone rings: you will hear ${a.display_name}'s call; nobody hears you.`
      : mode === "whisper" ? `Whispering: ${a.display_name} hears you; the caller does not.`
      : `Barged in: everyone on ${a.display_name}'s call hears you.`);
  } catch (e) { say(e.message, true); }
}

async function leave(a, c) {
  try { await api("DELETE", `/api/v1/contacts/${c.id}/monitor`); say(`You left ${a.display_name}'s call.`); }
  catch (e) { say(e.message, true); }
}

let today = new Map();              // agent id → handled today

async function refresh() {
  const all = await Promise.all(agents.map((a) => api("GET", `/api/v1/agents/${a.id}/status`).catch(() => null)));
  statuses = new Map(agents.map((a, i) => [a.id, all[i]]));
  const held = new Set(all.flatMap((s) => (s ? s.contacts : [])));
  for (const id of [...inHand.keys()]) if (!held.has(id)) inHand.delete(id);
  const missing = [...held].filter((id) => !inHand.has(id));
  const got = await Promise.all(missing.map((id) => api("GET", `/api/v1/contacts/${id}`).catch(() => null)));
  for (const c of got) if (c) inHand.set(c.id, c);
  draw();
}

async function loadToday() {
  const all = await Promise.all(agents.map((a) => api("GET", `/api/v1/agents/${a.id}/today`).catch(() => null)));
  today = new Map(agents.map((a, i) => [a.id, all[i] ? all[i].handled : null]));
  draw();
}
const refreshSoon = debounce(() => refresh().catch((e) => say(e.message, true)), 150);

function skillNames(a) {
  const byId = new Map(skills.map((s) => [s.id, s.name]));
  return a.skills.map((s) => `${byId.get(s.skill_id) || "?"} ${s.proficiency}`).join(", ") || "none";
}

function draw() {
  body.replaceChildren(...agents.map((a) => {
    const s = statuses.get(a.id);
    const state = s ? s.status : "unknown";
    // Away with one of the centre's reasons (or plainly away while it keeps none).
    const choices = [["available", "available"], ["offline", "offline"],
      ...(reasons.length ? reasons.map((r) => [`away:${r.code}`, `away — ${r.label}`]) : [["away:", "away"]])];
    const current = state === "away" ? `away:${reasons.length && s ? s.reason : ""}` : state;
    const select = el("select", { "aria-label": `State for ${a.display_name}`, style: "width:auto" },
      ...choices.map(([v, l]) => el("option", { value: v, selected: v === current }, l)));
    return el("tr", { "data-agent": a.id },
      el("th", { scope: "row" }, a.display_name),
      el("td", {}, el("span", { class: `pill ${state}` }, state.replace("_", "-"), s && s.reason ? ` (${s.reason})` : "")),
      el("td", { class: "since", "data-since": s && s.since ? s.since : "" }, s && s.since ? duration(Date.now() - s.since) : "—"),
      el("td", {}, s ? String(s.reservations.length) : "—"),
      el("td", { class: "in-hand" }, el("span", { class: "holding" }, holding(s)), ...monitorButtons(a, s), ...watchButtons(a, s)),
      el("td", { class: "handled" }, today.has(a.id) && today.get(a.id) !== null ? String(today.get(a.id)) : "—"),
      adherenceCell(adherence.get(a.id)),
      el("td", {}, el("div", { class: "row", style: "margin:0" }, select,
        el("button", { type: "button", class: "secondary", onclick: () => setState(a, select.value) }, "Set"))),
      el("td", {}, el("span", { class: "skills" }, skillNames(a)), " ",
        el("button", { type: "button", class: "secondary", "aria-label": `Edit skills of ${a.display_name}`, onclick: () => editSkills(a) }, "Edit")));
  }));
}

// Scheduled now, adherence so far, and an alert while out of adherence.
function adherenceCell(x) {
  if (!x) return el("td", { class: "adherence muted" }, "not rostered");
  const pct = x.adherence_pct === null ? "" : ` · ${x.adherence_pct.toFixed(0)} %`;
  if (x.out_since) {
    return el("td", { class: "adherence" }, el("span", { class: "pill alert", role: "alert" },
      `Out since ${x.out_since.slice(11)}: scheduled ${x.planned_now}, is ${x.actual_now}`), pct);
  }
  return el("td", { class: "adherence" }, `${x.planned_now}${pct}`);
}

async function loadAdherence() {
  try {
    const { items } = await api("GET", "/api/v1/wfm/adherence?grace=5");
    adherence = new Map(items.map((x) => [x.agent_id, x]));
    draw();
  } catch { /* roles without reports see no adherence */ }
}
const adherenceSoon = debounce(() => loadAdherence(), 2000);

async function setState(a, state) {
  try {
    const [name, code] = state.split(":");
    const body = name === "away" ? { state: name, reason: code || "set by team leader" } : { state: name };
    await api("PUT", `/api/v1/agents/${a.id}/state`, body);
    say(`${a.display_name} is now ${name}${code ? ` (${code})` : ""}.`);
  } catch (e) { say(`Could not change ${a.display_name}: ${e.message}`, true); }
  refreshSoon();
}

function editSkills(a) {
  const have = new Map(a.skills.map((s) => [s.skill_id, s.proficiency]));
  document.getElementById("skills-title").textContent = `Skills of ${a.display_name}`;
  document.getElementById("skills-fields").replaceChildren(...skills.map((s, i) => el("div", {},
    el("label", { for: `skill-${i}` }, s.name),
    el("input", { id: `skill-${i}`, name: `skills[${i}].proficiency`, "data-skill": s.id, type: "number", min: 1, max: 10,
      value: have.get(s.id) ?? "" }))));
  skillsForm.onsubmit = async (ev) => {
    ev.preventDefault();
    const inputs = [...skillsForm.querySelectorAll("[data-skill]")];
    const filled = inputs.filter((i) => i.value !== "");
    // Name each input after its place in the request, so the server's
    // field errors (`skills[0].proficiency`) land beside the right one.
    for (const i of inputs) i.name = "";
    filled.forEach((i, k) => { i.name = `skills[${k}].proficiency`; });
    const chosen = filled.map((i) => ({ skill_id: i.dataset.skill, proficiency: Number(i.value) }));
    try {
      const updated = await api("PATCH", `/api/v1/agents/${a.id}`, { skills: chosen });
      agents = agents.map((x) => (x.id === a.id ? updated : x));
      dialog.close();
      say(`Skills of ${a.display_name} saved.`);
      draw();
    } catch (e) {
      if (e instanceof ApiError && e.fields.length) showFieldErrors(skillsForm, e);
      else say(e.message, true);
    }
  };
  document.getElementById("skills-cancel").onclick = () => dialog.close();
  dialog.showModal();
}

async function loadHands() {
  const box = document.getElementById("hands");
  const names = new Map(agents.map((a) => [a.id, a.display_name]));
  try {
    const { items } = await api("GET", "/api/v1/help-requests?state=open");
    box.replaceChildren(el("h2", {}, `Raised hands (${items.length})`),
      items.length ? el("ul", {}, ...items.map((h) => {
        const answer = el("input", { name: "answer", "aria-label": `Answer to ${names.get(h.agent_id) || "agent"}`, style: "flex:1" });
        const form = el("form", { class: "row", style: "margin:.25rem 0 .75rem" }, answer, el("button", { type: "submit" }, "Answer"));
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          try {
            await api("POST", `/api/v1/help-requests/${h.id}/answer`, { answer: answer.value });
            say(`Answered ${names.get(h.agent_id) || "the agent"}.`);
            await loadHands();
          } catch (e) {
            if (e instanceof ApiError && e.fields.length) showFieldErrors(form, e);
            else say(e.message, true);
          }
        });
        return el("li", { "data-help": h.id }, el("strong", {}, names.get(h.agent_id) || "An agent"), ": ", h.question, form);
      })) : el("p", { class: "muted" }, "Nobody is waiting for help."));
  } catch (e) {
    box.replaceChildren(el("h2", {}, "Raised hands"), el("p", { class: "error" }, e.message));
  }
}

setInterval(() => {
  for (const td of document.querySelectorAll("td.since[data-since]")) {
    if (td.dataset.since) td.textContent = duration(Date.now() - Number(td.dataset.since));
  }
}, 1000);
const todaySoon = debounce(() => loadToday().catch(() => {}), 1000);
live((kind, data) => {
  if (watching && data && data.subject_id === watching.contact) {
    if (kind.startsWith("message.")) drawWatch();
    if (kind === "chat.typing") {
      const line = document.querySelector("#watch .watch-typing");
      clearTimeout(watchTyping);
      if (line) { line.hidden = !data.payload.on; watchTyping = setTimeout(() => { line.hidden = true; }, 6_000); }
    }
  }
  // A call over: what the agent holds is read again (no monitoring offered).
  if (kind === "contact.wrap_up_started" && data) { inHand.delete(data.subject_id); refreshSoon(); }
  if (kind === "contact.ended" || kind === "reconnected") todaySoon();
  if (kind.startsWith("help.") || kind === "reconnected") loadHands();
  if (kind === "agent.status" || kind.startsWith("reservation") || kind === "reconnected") refreshSoon();
  if (kind === "agent.status" || kind === "reconnected") adherenceSoon();
});
// This interval's agents needed against agents logged in (team leaders
// and planners may read it; anyone else simply does not see the line).
async function loadIntraday() {
  const line = document.getElementById("intraday");
  try {
    const day = await api("GET", "/api/v1/wfm/intraday?interval=30&history_weeks=2");
    const minute = Number(day.now_local.slice(11, 13)) * 60 + Number(day.now_local.slice(14, 16));
    const now = day.intervals[Math.floor(minute / 30)];
    const on = now.staffed === null ? 0 : now.staffed;
    line.textContent = `This half hour: ${now.required} agents needed, ${now.scheduled.toFixed(1)} scheduled, ` +
      `${on.toFixed(1)} logged in on average; ` +
      `${now.reforecast.toFixed(0)} contacts expected.`;
    line.className = on + 0.5 < now.required ? "error" : "muted";
  } catch { line.textContent = ""; }
}

await load();
await refresh();
await loadIntraday();
setInterval(loadIntraday, 60_000);
await loadToday();
await loadAdherence();
setInterval(loadAdherence, 30_000);
await loadHands();
