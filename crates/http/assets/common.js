// Shared by Switchboard's pages: JSON API calls with the session cookie, the
// live event stream (reconnecting by itself and saying so), and small DOM
// helpers that only ever set text, never HTML.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  /** Field errors of a 422 answer: [{field, message}]. */
  get fields() { return this.problem.errors || []; }
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** "4:05" or "1:02:03". */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

/**
 * Follows /api/v1/events/stream. `onEvent(kind, event)` for each event;
 * the element `#live` says whether the page is live or reconnecting.
 * EventSource reconnects by itself; on reconnection `onEvent("reconnected")`
 * lets the page re-read what it may have missed.
 */
export function live(onEvent) {
  const badge = document.getElementById("live");
  let wasDown = false;
  const say = (up) => {
    if (!badge) return;
    badge.textContent = up ? "Live" : "Connection lost — reconnecting…";
    badge.classList.toggle("down", !up);
  };
  const source = new EventSource("/api/v1/events/stream");
  source.onopen = () => {
    say(true);
    if (wasDown) onEvent("reconnected", null);
    wasDown = false;
  };
  source.onerror = () => { wasDown = true; say(false); };
  const kinds = [
    "contact.created", "contact.queued", "contact.position", "contact.answered", "contact.overflowed",
    "contact.transferred", "contact.max_wait_reached", "contact.arrived_closed", "contact.callback_scheduled",
    "contact.wrap_up_started", "contact.abandoned", "contact.ended", "reservation.created",
    "reservation.ended", "agent.status", "queue.opened", "queue.closed", "help.raised", "help.answered",
    "message.received", "message.sent", "message.failed", "chat.typing", "lagged",
  ];
  for (const k of kinds) {
    source.addEventListener(k, (m) => {
      let data = null;
      try { data = JSON.parse(m.data); } catch { /* lagged carries a number */ }
      onEvent(k, data);
    });
  }
  return source;
}

/** Calls `fn` at most once per `ms`, trailing. */
export function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

/**
 * The input a server field error belongs to: the one named like the field
 * (`name` or `data-field`), else the nearest enclosing field
 * (`hours.monday[0].open` → `hours.monday`).
 */
function fieldTarget(form, field) {
  let f = field;
  while (f) {
    const n = form.querySelector(`[name="${CSS.escape(f)}"], [data-field="${CSS.escape(f)}"]`);
    if (n) return n;
    const cut = Math.max(f.lastIndexOf("."), f.lastIndexOf("["));
    if (cut <= 0) return null;
    f = f.slice(0, cut);
  }
  return null;
}

/** Clears what `showFieldErrors` showed. */
export function clearFieldErrors(form) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const bad of form.querySelectorAll("[aria-invalid]")) bad.removeAttribute("aria-invalid");
}

/** Shows field errors of a 422 beside the inputs they are about. */
export function showFieldErrors(form, err) {
  clearFieldErrors(form);
  let n = 0;
  for (const f of err.fields) {
    const input = fieldTarget(form, f.field);
    const id = `err-${Date.now().toString(36)}-${n++}`;
    const exact = input && (input.name === f.field || input.dataset.field === f.field);
    const note = el("div", { class: "field-error", role: "alert", id }, exact ? "" : `${f.field}: `, f.message);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      if (input.tagName === "FIELDSET") input.append(note); else input.after(note);
    } else {
      form.append(note);
    }
  }
}
