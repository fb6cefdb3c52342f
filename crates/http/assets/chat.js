// The chat widget's page: the pre-chat form, then the chat over a
// WebSocket. Messages the customer writes wait in an outbox (kept in this
// browser) until the server acknowledges them, and are sent again after a
// reconnect with the same ids (the server keeps each once); what arrived
// while away is replayed from the last message seen.
const root = document.getElementById("chat");
const widget = root.dataset.widget;
const KEY = `switchboard-chat:${widget}`;
const $ = (id) => document.getElementById(id);
const list = $("messages");

// Where the session is kept: this browser's storage for the widget, or,
// where a browser refuses storage to a framed page, memory (a reload then
// starts a new chat; reconnects still resume).
const memory = new Map();
const storage = (() => {
  for (const get of [() => window.localStorage, () => window.sessionStorage]) {
    try { const s = get(); s.setItem(`${KEY}:probe`, "1"); s.removeItem(`${KEY}:probe`); return s; } catch { /* refused */ }
  }
  return { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => memory.set(k, v), removeItem: (k) => memory.delete(k) };
})();
let saved = null;                   // {token, reference, outbox: [{client_id, text}]}
try { saved = JSON.parse(storage.getItem(KEY) || "null"); } catch { saved = null; }
const seen = new Map();             // message id → message
let ws = null, backoff = 500, closedByUs = false, starting = null, typingSent = 0, typingTimer = null, theirTyping = null;

function save() {
  if (saved) storage.setItem(KEY, JSON.stringify(saved));
  else storage.removeItem(KEY);
}
function newId() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`).replace(/[^A-Za-z0-9-]/g, "");
}
function notice(text, bad = false) { $("notice").textContent = text; $("notice").className = bad ? "notice error" : "notice"; }
function status(text) { $("status").textContent = text; }
function lastId() { let l = null; for (const id of seen.keys()) if (l === null || id > l) l = id; return l; }
function minutes(ms) { const m = Math.max(1, Math.round(ms / 60000)); return m === 1 ? "about a minute" : `about ${m} minutes`; }

function render() {
  const items = [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const shown = new Set(items.map((m) => m.client_id).filter(Boolean));
  const pending = (saved?.outbox || []).filter((o) => !shown.has(o.client_id));
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
  list.replaceChildren(...items.map(item), ...pending.map((o) => item({ from: "customer", text: o.text, pending: true, files: [] })));
  if (atBottom) list.scrollTop = list.scrollHeight;
}
function item(m) {
  const li = document.createElement("li");
  li.className = `${m.from}${m.pending ? " pending" : ""}`;
  if (m.id) li.dataset.id = m.id;
  if (m.from === "agent") { const who = document.createElement("span"); who.className = "who"; who.textContent = m.name || "Agent"; li.append(who); }
  li.append(document.createTextNode(m.text));
  for (const f of m.files || []) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "plain"; b.textContent = `${f.filename} (${Math.ceil(f.bytes / 1024)} KB)`;
    b.addEventListener("click", () => download(f));
    li.append(document.createElement("br"), b);
  }
  if (m.pending) { const s = document.createElement("span"); s.className = "who"; s.textContent = "sending…"; li.append(s); }
  return li;
}

function showPrechat() { $("prechat").hidden = false; $("room").hidden = true; }
function showRoom() { $("prechat").hidden = true; $("room").hidden = false; }

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/chat/w/${widget}/ws`);
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify(starting || { type: "resume", token: saved.token, after: lastId() }));
  });
  ws.addEventListener("message", (ev) => {
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    handle(f);
  });
  ws.addEventListener("close", () => {
    ws = null;
    if (closedByUs || (!saved && !starting)) return;
    status("Reconnecting…");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  });
}
function send(frame) { if (ws && ws.readyState === WebSocket.OPEN && saved?.token) ws.send(JSON.stringify(frame)); }

function handle(f) {
  switch (f.type) {
    case "session":
      if (f.token) saved = { token: f.token, reference: f.reference, outbox: [] };
      starting = null;
      backoff = 500;
      save();
      showRoom();
      $("transcript").hidden = !f.transcripts;
      for (const o of saved.outbox) send({ type: "message", client_id: o.client_id, text: o.text });
      break;
    case "message":
      seen.set(f.id, f);
      if (f.client_id && saved) { saved.outbox = saved.outbox.filter((o) => o.client_id !== f.client_id); save(); }
      if (f.from === "agent") showTyping(false);
      render();
      break;
    case "ack":
      if (saved) { saved.outbox = saved.outbox.filter((o) => o.client_id !== f.client_id); save(); }
      render();
      break;
    case "rejected":
      if (saved) { saved.outbox = saved.outbox.filter((o) => o.client_id !== f.client_id); save(); }
      notice(`Not sent: ${f.reason}`, true);
      render();
      break;
    case "waiting":
      status(f.position ? `You are number ${f.position} in the queue${f.expected_wait_ms ? `; ${minutes(f.expected_wait_ms)} to wait` : ""}.` : "Waiting for an agent…");
      break;
    case "agent":
      status(`${f.name} is with you.`);
      break;
    case "typing":
      showTyping(f.on);
      break;
    case "ended":
      status("The chat has ended. Write again to reach us.");
      showTyping(false);
      break;
    case "transcript":
      notice("The transcript is on its way to your email.");
      break;
    case "error":
      if (starting) {
        $("pc-error").textContent = f.fields?.length ? f.fields.map((x) => `${x.field}: ${x.message}`).join("; ") : f.message;
        starting = null; closedByUs = true; ws?.close(); showPrechat();
      } else if (f.message === "the chat session is not known") {
        saved = null; save(); closedByUs = true; ws?.close(); showPrechat();
      } else {
        notice(f.message, true);
      }
      break;
  }
}

function showTyping(on) {
  clearTimeout(theirTyping);
  $("typing").hidden = !on;
  $("typing").textContent = on ? "The agent is typing…" : "";
  if (on) theirTyping = setTimeout(() => showTyping(false), 8_000);
}

$("prechat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("pc-name").value.trim(), email = $("pc-email").value.trim(), question = $("pc-question").value.trim();
  if (!name || !question) { $("pc-error").textContent = "Please give your name and your question."; return; }
  $("pc-error").textContent = "";
  starting = { type: "start", name, email: email || null, question, client_id: newId() };
  closedByUs = false;
  showRoom();
  status("Connecting…");
  connect();
});

$("send-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text || !saved) return;
  const o = { client_id: newId(), text };
  saved.outbox.push(o);
  save();
  $("text").value = "";
  render();
  send({ type: "message", client_id: o.client_id, text });
  clearTimeout(typingTimer);
  typingSent = 0;
  send({ type: "typing", on: false });
});
$("text").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("send-form").requestSubmit(); }
});
$("text").addEventListener("input", () => {
  if (Date.now() - typingSent > 2_000) { typingSent = Date.now(); send({ type: "typing", on: true }); }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { typingSent = 0; send({ type: "typing", on: false }); }, 3_000);
});

$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  $("file").value = "";
  if (!file || !saved) return;
  if (file.size > 5 * 1024 * 1024) { notice("Files are at most 5 MB.", true); return; }
  notice(`Sending ${file.name}…`);
  const q = new URLSearchParams({ name: file.name, client_id: newId() });
  const res = await fetch(`/chat/w/${widget}/files?${q}`, {
    method: "POST", body: file,
    headers: { Authorization: `Bearer ${saved.token}`, "Content-Type": file.type || "application/octet-stream" },
  }).catch(() => null);
  if (!res || !res.ok) { notice("The file could not be sent.", true); return; }
  const m = await res.json();
  seen.set(m.id, m);
  render();
  notice("");
});

async function download(f) {
  const res = await fetch(`/chat/w/${widget}/files/${f.id}`, { headers: { Authorization: `Bearer ${saved.token}` } }).catch(() => null);
  if (!res || !res.ok) { notice("The file could not be fetched.", true); return; }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url; a.download = f.filename; a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

$("transcript").addEventListener("click", () => send({ type: "transcript" }));
$("end").addEventListener("click", () => {
  send({ type: "end" });
  closedByUs = true;
  saved = null;
  save();
  status("You ended the chat. Thank you.");
  $("send-form").hidden = true;
});
$("chat-close").addEventListener("click", () => parent.postMessage("switchboard-chat:close", "*"));

if (saved?.token) { showRoom(); connect(); } else showPrechat();
