// Contact search and the full timeline of one contact: arrival, queueing,
// every reservation and why it went where it went, answer, transfers,
// wrap-up, what people recorded, the end; a call's recordings for those
// who may listen to them.
import { api, el, duration } from "/assets/common.js";

const form = document.getElementById("search");
const body = document.querySelector("#results tbody");
const more = document.getElementById("more");
const timeline = document.getElementById("timeline");
const error = document.getElementById("search-error");
let queues = new Map();
let cursor = null;

const time = (ms) => new Date(ms).toLocaleString();

function summary(e) {
  const p = e.payload || {};
  const q = (id) => queues.get(id) || "another queue";
  switch (e.kind) {
    case "contact.created": return `arrived by ${p.channel} in ${q(p.queue_id)}${p.position ? `, place ${p.position}` : ""}`;
    case "contact.queued": return `waiting in ${q(p.queue_id)}, place ${p.position}`;
    case "contact.position": return `told place ${p.position}, about ${duration(p.expected_wait_ms)}`;
    case "reservation.created": return `offered to an agent (rule step ${p.why.step}, ${p.why.eligible} eligible, ${p.why.strategy.replace("_", " ")}, waited ${duration(p.why.waited_ms)})`;
    case "reservation.ended": return `offer ${p.end}`;
    case "contact.answered": return `answered after ${duration(p.waited_ms)}`;
    case "contact.overflowed": return `overflowed from ${q(p.from)} to ${q(p.to)}`;
    case "contact.transferred": return `transferred from ${q(p.from)} to ${q(p.to)}`;
    case "contact.wrap_up_started": return "wrap-up started";
    case "contact.updated": return `updated: ${(p.fields || []).join(", ")}`;
    case "contact.ended": return "ended";
    case "contact.abandoned": return `abandoned after ${duration(p.waited_ms)}`;
    case "contact.arrived_closed": return `arrived while ${q(p.queue_id)} was closed: ${p.action}`;
    case "contact.max_wait_reached": return `waited the longest allowed: ${p.action}`;
    case "contact.callback_scheduled": return "callback booked";
    default: return "";
  }
}

async function showTimeline(c) {
  timeline.replaceChildren(el("h2", {}, "Timeline"), el("p", { class: "muted" }, "Loading…"));
  try {
    const { items } = await api("GET", `/api/v1/contacts/${c.id}/events`);
    timeline.replaceChildren(
      el("h2", {}, "Timeline"),
      el("p", { class: "muted" }, `${c.channel}, ${queues.get(c.queue_id) || ""} — ${c.subject || "no subject"}`),
      c.notes ? el("p", {}, el("strong", {}, "Notes: "), c.notes) : null,
      el("ol", { id: "events" }, ...items.map((e) => el("li", { "data-kind": e.kind },
        el("span", { class: "muted" }, new Date(e.at).toLocaleTimeString()), " ", el("strong", {}, e.kind), " ", summary(e)))));
    if (c.channel === "voice") timeline.append(await recordings(c));
  } catch (e) {
    timeline.replaceChildren(el("h2", {}, "Timeline"), el("p", { class: "error" }, e.message));
  }
}

// A call's recordings, each playable (caller on the left, agent on the
// right). Those who may not listen see nothing.
async function recordings(c) {
  let items;
  try {
    ({ items } = await api("GET", `/api/v1/contacts/${c.id}/recordings`));
  } catch (e) {
    return e.status === 403 ? "" : el("p", { class: "error" }, e.message);
  }
  return el("div", { id: "recordings" },
    el("h3", {}, "Recordings"),
    items.length === 0 ? el("p", { class: "muted" }, "No recording.") : "",
    ...items.map((r) => el("figure", { class: "recording" },
      el("figcaption", {}, `${new Date(r.started_at).toLocaleTimeString()}, ${duration(r.duration_ms)} — caller left, agent right`),
      el("audio", { controls: "", preload: "metadata", src: `/api/v1/recordings/${r.id}/audio` }))));
}

// Only the newest search draws its answer: an earlier one that answers
// late (the search on opening the page, say) must not replace it.
let latest = 0;

async function search(next = false) {
  const mine = ++latest;
  const p = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
  p.set("limit", "50");
  if (next && cursor) p.set("cursor", cursor);
  error.textContent = "";
  try {
    const page = await api("GET", `/api/v1/contacts?${p}`);
    if (mine !== latest) return;
    const rows = page.items.map((c) => el("tr", { "data-contact": c.id },
      el("td", {}, time(c.timeline.arrived_at)), el("td", {}, c.channel), el("td", {}, queues.get(c.queue_id) || ""),
      el("td", {}, c.state), el("td", {}, c.disposition || "—"),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => showTimeline(c) }, "Timeline"))));
    if (next) body.append(...rows); else body.replaceChildren(...rows);
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
  } catch (e) {
    if (mine === latest) error.textContent = e.message;
  }
}

form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
more.addEventListener("click", () => search(true));
const qs = await api("GET", "/api/v1/queues?limit=500");
queues = new Map(qs.items.map((q) => [q.id, q.name]));
document.getElementById("queue").append(...qs.items.map((q) => el("option", { value: q.id }, q.name)));
await search();
