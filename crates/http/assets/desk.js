// The agent desktop: state, ringing reservations with a countdown, the
// contacts in hand (customer card, an email's conversation and reply box,
// notes, complete, wrap-up with a disposition, transfer, callback), kept
// current by the live stream.
import { api, el, duration, live, debounce, showFieldErrors, clearFieldErrors, ApiError } from "/assets/common.js";

const root = document.getElementById("desk");
const agentId = root.dataset.agent;
const stateBox = document.getElementById("state");
const ringBox = document.getElementById("ringing");
const workBox = document.getElementById("work");
const notice = document.getElementById("notice");

let status = null;                  // last /agents/{id}/status answer
let phone;                          // my SIP phone: {username, registered}, null for none
let statusSeenAt = Date.now();      // our clock when `since` was read
let queues = new Map();             // queue id → name
let departments = new Map();        // queue id → department
let wrapSeconds = new Map();        // queue id → wrap-up time allowed
const contacts = new Map();         // contact id → {contact, customer, recent}
const wrapping = new Set();         // ended here, disposition not yet given

function say(text, bad = false) {
  notice.textContent = text;
  notice.className = bad ? "error" : "muted";
}

let colleagues = [];                // agents one may transfer to by name
const consulting = new Map();       // call → the colleague consulted (attended transfer)
let reasons = [], dispositions = []; // the centre's codes; empty means free text

async function loadQueues() {
  const page = await api("GET", "/api/v1/queues?limit=500");
  queues = new Map(page.items.map((q) => [q.id, q.name]));
  departments = new Map(page.items.map((q) => [q.id, q.department]));
  wrapSeconds = new Map(page.items.map((q) => [q.id, q.wrap_up_seconds]));
  colleagues = (await api("GET", "/api/v1/agents?limit=500")).items;
  const codes = (await api("GET", "/api/v1/codes")).items;
  reasons = codes.filter((c) => c.kind === "reason");
  dispositions = codes.filter((c) => c.kind === "disposition");
}

/** A select of the centre's codes, or free text while it keeps none. */
function codeInput(list, attrs, suggestions) {
  if (list.length) {
    return el("select", attrs, el("option", { value: "" }, "Choose…"),
      ...list.map((c) => el("option", { value: c.code }, c.label)));
  }
  return el("input", { ...attrs, list: suggestions, autocomplete: "off" });
}

async function loadContact(id) {
  const contact = await api("GET", `/api/v1/contacts/${id}`);
  let customer = null, recent = [];
  if (contact.customer_id) {
    try {
      customer = await api("GET", `/api/v1/customers/${contact.customer_id}`);
      recent = (await api("GET", `/api/v1/contacts?customer_id=${contact.customer_id}&limit=6`)).items
        .filter((c) => c.id !== id).slice(0, 5);
    } catch { /* the card shows what it has */ }
  }
  contacts.set(id, { contact, customer, recent });
}

async function refresh() {
  try {
    status = await api("GET", `/api/v1/agents/${agentId}/status`);
    statusSeenAt = Date.now();
    phone = await api("GET", `/api/v1/agents/${agentId}/phone`).catch(() => null);
    const wanted = new Set([...status.contacts, ...status.reservations.map((r) => r.contact_id), ...wrapping]);
    for (const id of [...contacts.keys()]) if (!wanted.has(id)) contacts.delete(id);
    for (const id of wanted) await loadContact(id);
    render();
  } catch (e) {
    say(`Could not read your status: ${e.message}`, true);
  }
}
const refreshSoon = debounce(refresh, 100);

function channelName(c) { return { voice: "Call", email: "Email", chat: "Chat", sms: "Text message" }[c] || c; }

function renderState() {
  // Keep a reason the agent has chosen but not yet sent.
  const chosen = document.getElementById("away-reason")?.value;
  const typed = document.getElementById("dial-number")?.value;
  const since = status.since ? Date.now() - status.since : Date.now() - statusSeenAt;
  const label = status.status.replace("_", "-");
  const known = reasons.find((c) => c.code === status.reason);
  const reason = status.reason ? ` (${known ? known.label : status.reason})` : "";
  stateBox.replaceChildren(
    el("h2", {}, "My state"),
    el("p", {}, el("span", { class: `pill ${status.status}`, id: "my-state" }, label + reason), " for ",
      el("span", { id: "state-clock" }, duration(since))),
    el("div", { class: "row" },
      el("button", { type: "button", id: "go-available", onclick: () => setState({ state: "available" }) }, "Available"),
      el("button", { type: "button", class: "secondary", id: "go-offline", onclick: () => setState({ state: "offline" }) }, "Offline")),
    el("label", { for: "away-reason" }, "Away because"),
    el("div", { class: "row", style: "margin-top:0" },
      codeInput(reasons, { id: "away-reason", name: "reason", style: "flex:1" }, "reasons"),
      el("button", { type: "button", class: "secondary", id: "go-away",
        onclick: () => setState({ state: "away", reason: document.getElementById("away-reason").value }) }, "Away")),
    // Calls ring the phone registered as mine.
    phone ? el("p", { id: "my-phone", class: phone.registered ? "muted" : "error" },
      phone.registered ? `Phone ${phone.username}: registered — calls ring it.`
        : `Phone ${phone.username}: not registered — calls cannot reach you.`) : "",
    // Click-to-call: the phone rings, then the number is called.
    phone?.registered ? el("form", { id: "dial", class: "row", style: "margin-top:0", onsubmit: dial },
      el("input", { id: "dial-number", name: "to", type: "tel", placeholder: "Number to call", "aria-label": "Number to call",
        autocomplete: "off", style: "flex:1" }),
      el("button", { type: "submit", class: "secondary", id: "dial-button" }, "Call")) : "",
  );
  if (chosen) document.getElementById("away-reason").value = chosen;
  if (typed && document.getElementById("dial-number")) document.getElementById("dial-number").value = typed;
  if (stateError) showFieldErrors(stateBox, stateError);
}

async function dial(ev) {
  ev.preventDefault();
  const input = document.getElementById("dial-number");
  try {
    await api("POST", "/api/v1/me/calls", { to: input.value });
    say(`Calling ${input.value}: answer your phone.`);
    input.value = "";
  } catch (e) {
    say(`Could not call: ${e instanceof ApiError && e.fields.length ? e.fields[0].message : e.message}`, true);
  }
}

// The server's answer to the last state change, kept across redraws (a
// live event may redraw the box just after it is shown).
let stateError = null;

async function setState(body) {
  try {
    status = await api("PUT", `/api/v1/agents/${agentId}/state`, body);
    statusSeenAt = Date.now();
    stateError = null;
    say("");
    await refresh();
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) { stateError = e; showFieldErrors(stateBox, e); }
    else say(`Could not change state: ${e.message}`, true);
  }
}

function renderRinging() {
  const items = status.reservations.map((r) => {
    const c = contacts.get(r.contact_id);
    const who = c && c.customer ? c.customer.name : (c && c.contact.from_address) || "Unknown customer";
    return el("article", { class: "card ringing contact", "data-reservation": r.id, "data-for": r.contact_id, "aria-live": "assertive" },
      el("h3", {}, `${channelName(c ? c.contact.channel : "")} for ${queues.get(r.queue_id) || "a queue"}`),
      el("p", { style: "margin:.25rem 0" }, who, r.callback ? " — callback" : ""),
      el("p", { class: "muted", style: "margin:0" }, "Answer within ",
        el("span", { class: "countdown", "data-expires": r.expires_at }, duration(r.expires_at - Date.now()))),
      el("div", { class: "row" },
        el("button", { type: "button", class: "accept", onclick: () => respond(r.id, "accept") }, "Accept"),
        el("button", { type: "button", class: "danger reject", onclick: () => respond(r.id, "reject") }, "Reject")));
  });
  ringBox.replaceChildren(el("h2", {}, "Incoming"),
    items.length ? el("div", {}, ...items) : el("p", { class: "muted" }, "Nothing ringing."));
}

async function respond(id, what) {
  try {
    await api("POST", `/api/v1/reservations/${id}/${what}`, {});
    say(what === "accept" ? "Accepted." : "Rejected.");
  } catch (e) {
    say(`Could not ${what}: ${e.message}`, true);
  }
  await refresh();
}

function customerCard(c) {
  if (!c.customer) return el("p", { class: "muted" }, c.contact.from_address ? `From ${c.contact.from_address}` : "No customer linked.");
  return el("div", {},
    el("dl", { class: "kv" },
      el("dt", {}, "Customer"), el("dd", { class: "customer-name" }, c.customer.name),
      el("dt", {}, "Status"), el("dd", {}, c.customer.status),
      el("dt", {}, "Email"), el("dd", {}, c.customer.email || "—"),
      el("dt", {}, "Phone"), el("dd", {}, c.customer.phone || "—")),
    c.recent.length ? el("details", {}, el("summary", {}, `Recent contacts (${c.recent.length})`),
      el("ul", {}, ...c.recent.map((r) => el("li", {}, `${new Date(r.timeline.arrived_at).toLocaleString()} — ${channelName(r.channel)}, ${r.disposition || r.state}`))))
      : el("p", { class: "muted" }, "No earlier contacts."));
}

function workCard(id) {
  const c = contacts.get(id);
  if (!c) return null;
  const contact = c.contact;
  const inWrap = contact.state === "wrap_up" || wrapping.has(id) || contact.state === "ended";
  const notes = el("textarea", { name: "notes", id: `notes-${id}`, "aria-label": "Notes" }, contact.notes);
  const form = el("form", { class: "wrap-form", novalidate: true });
  const card = el("article", { class: "card contact", "data-contact": id, "data-channel": contact.channel },
    el("h3", {}, `${channelName(contact.channel)} — ${queues.get(contact.queue_id) || ""}`),
    contact.subject ? el("p", { style: "margin:.25rem 0" }, contact.subject) : null,
    customerCard(c),
    contact.channel !== "voice" ? writtenThread(id, !inWrap, contact.channel) : null,
    form);
  form.append(el("label", { for: `notes-${id}` }, "Notes"), notes);
  if (!inWrap) {
    // Queues grouped by department: another department's queue is a referral.
    const groups = new Map();
    for (const [q, n] of queues) {
      if (q === contact.queue_id) continue;
      const d = departments.get(q) || "Other queues";
      if (!groups.has(d)) groups.set(d, []);
      groups.get(d).push(el("option", { value: q }, n));
    }
    const target = el("select", { name: "queue_id", "aria-label": "Transfer to queue" },
      ...[...groups].sort(([a], [b]) => a.localeCompare(b)).map(([d, options]) => el("optgroup", { label: d }, ...options)));
    const person = el("select", { name: "agent_id", "aria-label": "Transfer to agent" },
      el("option", { value: "" }, "anyone in that queue"),
      ...colleagues.filter((a) => a.id !== agentId).map((a) => el("option", { value: a.id }, a.display_name)));
    form.append(
      el("div", { class: "row" },
        el("button", { type: "button", class: "secondary save-notes", onclick: () => saveNotes(id, notes.value) }, "Save notes"),
        el("button", { type: "button", class: "complete", onclick: () => complete(id, notes.value) }, "Complete")),
      el("div", { class: "row" }, target, person,
        el("button", { type: "button", class: "secondary", onclick: () => transfer(id, target.value, person.value) }, "Transfer")));
    // On a call from my phone: talk to a colleague first, then hand over.
    if (contact.channel === "voice" && phone?.registered) form.append(consultRow(id));
    const question = el("input", { name: "question", "aria-label": "Question for a team leader", placeholder: "Ask a team leader…", style: "flex:1" });
    form.append(el("div", { class: "row" }, question,
      el("button", { type: "button", class: "secondary raise-hand", onclick: () => raiseHand(form, id, question) }, "Raise hand")));
    card.append(callbackForm(id));
  } else {
    const disp = codeInput(dispositions, { name: "disposition", id: `disp-${id}`, required: true }, "dispositions");
    const started = contact.timeline.wrap_started_at;
    const allowed = wrapSeconds.get(contact.queue_id);
    if (started && allowed && contact.state === "wrap_up") {
      form.append(el("p", { class: "muted wrap-timer" }, "Wrap-up time left: ",
        el("span", { class: "countdown", "data-expires": started + allowed * 1000 }, duration(started + allowed * 1000 - Date.now()))));
    }
    form.append(
      el("label", { for: `disp-${id}` }, "Disposition"), disp,
      el("div", { class: "row" },
        el("button", { type: "submit", class: "finish" }, "Finish wrap-up")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); finish(form, id, disp.value, notes.value); });
  }
  return card;
}

/** An email or text-message contact's conversation (every message, oldest
 * first) and, while the contact is in hand, a reply box. Loaded on its own
 * so new messages appear without redrawing what the agent is typing. */
function writtenThread(id, canReply, channel) {
  const sms = channel === "sms", chat = channel === "chat";
  const list = el("div", { class: "messages", "aria-live": "polite" }, el("p", { class: "muted" }, "Loading the conversation…"));
  const box = el("section", { class: "thread", "data-thread": id, "aria-label": "Conversation" },
    el("h4", { class: "thread-title" }, "Conversation"), list,
    chat ? el("p", { class: "muted typing", hidden: true }, "The customer is typing…") : null);
  if (canReply) {
    const text = el("textarea", { name: "text", id: `reply-${id}`, rows: chat ? 2 : 5 });
    const files = el("input", { type: "file", multiple: true, name: "attachments", id: `reply-files-${id}` });
    const f = el("form", { class: "reply-form", novalidate: true, "aria-label": "Reply to the customer" },
      el("label", { for: text.id }, sms ? "Reply (text message, 1,600 characters at most)" : chat ? "Message (Enter sends; Shift+Enter for a new line)" : "Reply (your signature is added)"), text,
      sms ? null : el("label", { for: files.id }, "Attach files (5 MB in all)"), sms ? null : files,
      el("div", { class: "row" }, el("button", { type: "submit", class: "send-reply" }, chat ? "Send" : "Send reply")));
    if (chat) {
      // The customer sees me typing: told every few seconds while I type.
      let told = 0;
      text.addEventListener("input", () => {
        if (Date.now() - told < 3_000) return;
        told = Date.now();
        api("POST", `/api/v1/contacts/${id}/typing`, { on: true }).catch(() => {});
      });
      text.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); f.requestSubmit(); }
      });
    }
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const attachments = await Promise.all([...files.files].map(async (file) => ({
          filename: file.name, content_type: file.type || null, content_base64: base64(await file.arrayBuffer()),
        })));
        await api("POST", `/api/v1/contacts/${id}/messages`, { text: text.value, attachments });
        text.value = "";
        files.value = "";
        clearFieldErrors(f);
        say(chat ? "Sent." : "Reply queued to send.");
        await loadThread(id);
      } catch (e) {
        if (e instanceof ApiError && e.fields.length) showFieldErrors(f, e);
        say(`Could not send the reply: ${e.message}`, true);
      }
    });
    box.append(f);
  }
  loadThread(id, list);
  return box;
}

const typingTimers = new Map();     // contact → timer hiding "typing…"
function showTyping(id, on) {
  const line = document.querySelector(`[data-thread="${id}"] .typing`);
  if (!line) return;
  clearTimeout(typingTimers.get(id));
  line.hidden = !on;
  if (on) typingTimers.set(id, setTimeout(() => { line.hidden = true; }, 6_000));
}

/** An ArrayBuffer as standard base64. */
function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

const statusWords = { received: "received", pending: "sending…", sent: "sent", failed: "not sent" };

async function loadThread(id, into) {
  const list = into || document.querySelector(`[data-thread="${id}"] .messages`);
  if (!list) return;
  try {
    const conv = await api("GET", `/api/v1/contacts/${id}/messages`);
    const title = list.parentElement.querySelector(".thread-title");
    if (title) title.textContent = `Conversation #${conv.reference}`;
    const chat = conv.messages.some((m) => m.channel === "chat") || list.closest("[data-contact]")?.dataset.channel === "chat";
    list.replaceChildren(...conv.messages.map((m) => el("article", { class: `message ${m.direction}`, "data-message": m.id },
      el("p", { class: "message-head muted" },
        chat && m.automatic !== "transcript" ? `${m.from_name || (m.direction === "in" ? "Customer" : "Agent")}`
          : m.direction === "in" ? `From ${m.from_name ? `${m.from_name}${m.from_address ? ` <${m.from_address}>` : ""}` : m.from_address}` : `To ${m.to_address}`,
        ` · ${new Date(m.created_at).toLocaleString()}`,
        m.direction === "out" && !(chat && m.status === "sent" && !m.automatic) ? ` · ${statusWords[m.status] || m.status}` : "",
        m.automatic ? ` · automatic (${m.automatic})` : "",
        m.contact_id !== id ? " · earlier contact" : ""),
      el("div", { class: "message-text" }, m.text),
      m.remote_images_blocked ? el("p", { class: "muted" }, "Remote images were removed.") : null,
      m.last_error && m.status !== "sent" ? el("p", { class: "error" }, m.last_error) : null,
      m.attachments.length ? el("ul", { class: "attachments" }, ...m.attachments.map((a) =>
        el("li", {}, el("a", { href: `/api/v1/attachments/${a.id}`, download: a.filename }, a.filename), ` (${Math.ceil(a.bytes / 1024)} KB)`))) : null)));
  } catch (e) {
    list.replaceChildren(e instanceof ApiError && e.status === 404
      ? el("p", { class: "muted" }, "No messages: this contact was created without one.")
      : el("p", { class: "error" }, `Could not read the conversation: ${e.message}`));
  }
}

/** Book a callback to this contact's customer for later, perhaps kept for me. */
function callbackForm(contactId) {
  const due = el("input", { type: "datetime-local", name: "due_at", id: `cb-due-${contactId}` });
  const notes = el("input", { name: "notes", id: `cb-notes-${contactId}`, autocomplete: "off" });
  const keep = el("input", { type: "checkbox", id: `cb-keep-${contactId}`, checked: true, style: "width:auto" });
  const f = el("form", { class: "callback-form", novalidate: true, "aria-label": "Book a callback" },
    el("label", { for: due.id }, "Call back at (local time)"), due,
    el("label", { for: notes.id }, "Callback note"), notes,
    el("label", { class: "check", for: keep.id, style: "font-weight:400" }, keep, " Keep it for me"),
    el("div", { class: "row" }, el("button", { type: "submit", class: "secondary" }, "Book callback")));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const body = { contact_id: contactId, due_at: due.value, notes: notes.value };
      if (keep.checked) body.agent_id = agentId;
      const c = await api("POST", "/api/v1/callbacks", body);
      f.reset();
      clearFieldErrors(f);
      say(`Callback booked for ${new Date(c.due_at).toLocaleString()}.`);
      await loadCallbacks();
    } catch (e) {
      if (e instanceof ApiError && e.fields.length) showFieldErrors(f, e);
      else say(`Could not book the callback: ${e.message}`, true);
    }
  });
  return el("details", { class: "callback" }, el("summary", {}, "Book a callback"), f);
}

async function loadCallbacks() {
  const box = document.getElementById("callbacks");
  try {
    const { items } = await api("GET", "/api/v1/callbacks?state=pending");
    box.replaceChildren(el("h2", {}, "My callbacks"),
      items.length ? el("ul", {}, ...items.map((c) => el("li", { "data-callback": c.id },
        el("div", {}, el("strong", {}, new Date(c.due_at).toLocaleString()), c.agent_id === agentId ? " · kept for me" : ""),
        c.notes ? el("div", { class: "muted" }, c.notes) : null,
        el("button", { type: "button", class: "secondary", "aria-label": `Cancel callback at ${new Date(c.due_at).toLocaleString()}`,
          onclick: async () => {
            try { await api("POST", `/api/v1/callbacks/${c.id}/cancel`, {}); say("Callback cancelled."); }
            catch (e) { say(`Could not cancel: ${e.message}`, true); }
            await loadCallbacks();
          } }, "Cancel"))))
        : el("p", { class: "muted" }, "None booked."));
  } catch (e) {
    box.replaceChildren(el("h2", {}, "My callbacks"), el("p", { class: "error" }, e.message));
  }
}

// My published shifts for the next two weeks, and an address to
// subscribe to them from a calendar.
async function loadShifts() {
  const box = document.getElementById("shifts");
  const subscribe = el("button", { type: "button", class: "secondary", id: "subscribe" }, "Subscribe in my calendar");
  const feed = el("p", { id: "feed", class: "muted" });
  subscribe.addEventListener("click", async () => {
    try {
      const f = await api("POST", "/api/v1/me/calendar", {});
      const url = new URL(f.path, location.href).href;
      feed.replaceChildren("Add this address to your calendar (it replaces any given before): ",
        el("input", { readonly: true, value: url, "aria-label": "Calendar address", onclick: (ev) => ev.target.select() }));
    } catch (e) { feed.textContent = e.message; feed.className = "error"; }
  });
  try {
    const { items } = await api("GET", "/api/v1/me/shifts?days=14");
    const when = (s) => `${s.local_start.slice(0, 10)} ${s.local_start.slice(11)}–${s.local_end.slice(11)}`;
    box.replaceChildren(el("h2", {}, "My shifts"),
      items.length ? el("ul", {}, ...items.map((s) => el("li", { "data-shift": s.id },
        el("strong", {}, when(s)), ` · ${s.shift}`,
        s.breaks.length ? el("div", { class: "muted" }, "Breaks ",
          s.breaks.map((b) => `${b.local_start.slice(11)}–${b.local_end.slice(11)}`).join(", ")) : null)))
        : el("p", { class: "muted" }, "No published shifts in the next two weeks."),
      el("div", { class: "row" }, subscribe), feed);
  } catch (e) {
    box.replaceChildren(el("h2", {}, "My shifts"), el("p", { class: "error" }, e.message));
  }
}

async function raiseHand(form, contactId, input) {
  try {
    await api("POST", "/api/v1/help-requests", { question: input.value, contact_id: contactId });
    input.value = "";
    say("Hand raised: a team leader will answer here.");
    await loadHelp();
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(form, e);
    else say(`Could not raise your hand: ${e.message}`, true);
  }
}

async function loadHelp() {
  const box = document.getElementById("help");
  try {
    const { items } = await api("GET", "/api/v1/help-requests");
    const recent = items.slice(0, 5);
    box.replaceChildren(el("h2", {}, "My raised hands"),
      recent.length ? el("ul", {}, ...recent.map((h) => el("li", { "data-help": h.id },
        el("div", {}, el("strong", {}, "Q: "), h.question),
        el("div", { class: h.answer ? "answer" : "muted" }, h.answer ? `A: ${h.answer}` : "Waiting for a team leader…"))))
        : el("p", { class: "muted" }, "None today."));
  } catch (e) {
    box.replaceChildren(el("h2", {}, "My raised hands"), el("p", { class: "error" }, e.message));
  }
}

async function saveNotes(id, notes) {
  try { await api("PATCH", `/api/v1/contacts/${id}`, { notes }); say("Notes saved."); }
  catch (e) { say(`Could not save notes: ${e.message}`, true); }
}

async function complete(id, notes) {
  try {
    await api("PATCH", `/api/v1/contacts/${id}`, { notes });
    const c = await api("POST", `/api/v1/contacts/${id}/complete`, {});
    wrapping.add(id);
    if (contacts.has(id)) contacts.get(id).contact = c;
    say("Completed: give a disposition to finish.");
  } catch (e) { say(`Could not complete: ${e.message}`, true); }
  await refresh();
}

async function finish(form, id, disposition, notes) {
  try {
    await api("POST", `/api/v1/contacts/${id}/wrap-up`, { disposition, notes });
    wrapping.delete(id);
    contacts.delete(id);
    say("Wrapped up.");
    await refresh();
  } catch (e) {
    if (e instanceof ApiError && e.fields.length) showFieldErrors(form, e);
    else say(`Could not finish: ${e.message}`, true);
  }
}

function consultRow(id) {
  const who = consulting.get(id);
  if (who) {
    return el("div", { class: "row consult" },
      el("span", { class: "muted", style: "flex:1" }, `Consulting ${who.name} — the caller hears music.`),
      el("button", { type: "button", onclick: () => endConsult(id, true) }, "Hand over"),
      el("button", { type: "button", class: "secondary", onclick: () => endConsult(id, false) }, "Back to caller"));
  }
  const person = el("select", { name: "consult_agent", "aria-label": "Consult agent" },
    ...colleagues.filter((a) => a.id !== agentId).map((a) => el("option", { value: a.id }, a.display_name)));
  return el("div", { class: "row consult" }, person,
    el("button", { type: "button", class: "secondary", onclick: () => consult(id, person) }, "Consult"));
}

async function consult(id, person) {
  try {
    await api("POST", `/api/v1/contacts/${id}/consult`, { agent_id: person.value });
    consulting.set(id, { id: person.value, name: person.selectedOptions[0]?.textContent || "" });
    say(`Ringing ${consulting.get(id).name}; the caller hears music.`);
  } catch (e) { say(`Could not consult: ${e.message}`, true); }
  renderWork();
}

async function endConsult(id, handOver) {
  try {
    await api(handOver ? "POST" : "DELETE", `/api/v1/contacts/${id}/consult${handOver ? "/complete" : ""}`);
    say(handOver ? `Handed over to ${consulting.get(id)?.name}.` : "Back with the caller.");
    consulting.delete(id);
  } catch (e) {
    // Nothing to end any more: the colleague hung up or never answered.
    if (e instanceof ApiError && e.status === 409 && /no consultation/.test(e.message)) consulting.delete(id);
    say(`${handOver ? "Could not hand over" : "Could not go back"}: ${e.message}`, true);
  }
  renderWork();
}

async function transfer(id, queue_id, agent_id) {
  const body = agent_id ? { queue_id, agent_id } : { queue_id };
  try { await api("POST", `/api/v1/contacts/${id}/transfer`, body); say("Transferred."); }
  catch (e) { say(`Could not transfer: ${e.message}`, true); }
  await refresh();
}

function renderWork() {
  const ids = [...new Set([...status.contacts, ...wrapping])];
  const cards = ids.map(workCard).filter(Boolean);
  workBox.replaceChildren(el("h2", {}, "My contacts"),
    cards.length ? el("div", {}, ...cards) : el("p", { class: "muted" }, "No contacts in hand."));
}

function render() {
  renderState();
  renderRinging();
  // Keep what the agent is typing: redraw work cards only when the set changed.
  const shown = [...workBox.querySelectorAll("[data-contact]")].map((n) => `${n.dataset.contact}:${n.querySelector(".finish") ? "w" : "a"}`).join();
  const want = [...new Set([...status.contacts, ...wrapping])].map((id) => {
    const c = contacts.get(id);
    const w = c && (c.contact.state === "wrap_up" || wrapping.has(id) || c.contact.state === "ended");
    return `${id}:${w ? "w" : "a"}`;
  }).join();
  if (shown !== want || !workBox.firstChild) renderWork();
}

// Clocks tick without asking the server.
setInterval(() => {
  const clock = document.getElementById("state-clock");
  if (clock && status) clock.textContent = duration(status.since ? Date.now() - status.since : Date.now() - statusSeenAt);
  for (const cd of document.querySelectorAll(".countdown")) cd.textContent = duration(Number(cd.dataset.expires) - Date.now());
}, 500);

let todayTimer = null;
live((kind, e) => {
  if (kind.startsWith("help.") && e && e.payload && e.payload.agent_id === agentId) loadHelp();
  if (kind === "contact.ended" || kind === "agent.status") {
    clearTimeout(todayTimer);
    todayTimer = setTimeout(loadToday, 500);
  }
  if (kind === "reconnected" || kind === "lagged") return refreshSoon();
  if (!e) return;
  const p = e.payload || {};
  const mine = p.agent_id === agentId || e.subject_id === agentId || contacts.has(e.subject_id);
  if (kind.startsWith("message.") && contacts.has(e.subject_id)) loadThread(e.subject_id);
  if (kind === "chat.typing" && contacts.has(e.subject_id)) showTyping(e.subject_id, p.on);
  if (mine) refreshSoon();
});

await loadQueues();
await refresh();

// My day so far: contacts handled, average handle time, time in each state.
async function loadToday() {
  const todayBox = document.getElementById("today");
  try {
    const t = await api("GET", `/api/v1/agents/${agentId}/today`);
    const states = ["available", "busy", "wrap_up", "away"];
    todayBox.replaceChildren(el("h2", {}, "Today"),
      el("dl", { class: "kv" },
        el("dt", {}, "Handled"), el("dd", { id: "today-handled" }, String(t.handled)),
        el("dt", {}, "Average handle time"), el("dd", {}, t.aht_ms === null ? "—" : duration(t.aht_ms)),
        ...states.flatMap((s) => [el("dt", {}, s.replace("_", "-")), el("dd", {}, duration(t.time_in_state[s] || 0))])));
  } catch (e) {
    todayBox.replaceChildren(el("h2", {}, "Today"), el("p", { class: "error" }, e.message));
  }
}
setInterval(loadToday, 60_000);
await loadToday();
await loadHelp();
await loadCallbacks();
setInterval(loadCallbacks, 30_000);
await loadShifts();

// My signature under email replies.
async function loadSignature() {
  const box = document.getElementById("signature");
  let current = "";
  try {
    current = (await api("GET", "/api/v1/me/signature")).signature;
  } catch { /* shown empty */ }
  const text = el("textarea", { name: "signature", id: "signature-text", rows: 3 }, current);
  const f = el("form", { novalidate: true },
    el("label", { for: text.id }, "Added under my email replies"), text,
    el("div", { class: "row" }, el("button", { type: "submit", class: "secondary" }, "Save signature")));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("PUT", "/api/v1/me/signature", { signature: text.value });
      clearFieldErrors(f);
      say("Signature saved.");
    } catch (e) {
      if (e instanceof ApiError && e.fields.length) showFieldErrors(f, e);
      say(`Could not save the signature: ${e.message}`, true);
    }
  });
  box.replaceChildren(el("h2", {}, "Email signature"), f);
}
await loadSignature();
