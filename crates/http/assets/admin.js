// Administration: users and roles, agents and skills, queues and their
// routing rules, reason and disposition codes, business hours and
// holidays, the voice channel (numbers, trunks, agents' phones), the
// email channel (receiving addresses), API tokens, and the audit log. Every form is checked by the
// server; its answer is shown beside the field at fault.
import { api, el, showFieldErrors, clearFieldErrors, ApiError } from "/assets/common.js";

const area = document.getElementById("area");
const notice = document.getElementById("notice");
const dialog = document.getElementById("editor");
const me = area.dataset.me;

const ROLES = ["agent", "team_leader", "trainer", "workforce_planner", "admin"];
const STRATEGIES = ["longest_idle", "most_skilled", "fewest_contacts", "least_talk_time", "round_robin",
  "linear", "weighted_random", "ring_all", "ring_progressive"];
const DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const CHANNELS = ["voice", "email", "chat", "sms"];

function say(text, bad = false) { notice.textContent = text; notice.className = bad ? "error" : "muted"; }
const words = (s) => String(s).replaceAll("_", " ");
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "—");
let seq = 0;
const uid = (p) => `${p}-${++seq}`;

// ---------- form pieces ----------

/** A labelled control; the label names it for screen readers. */
function field(label, control, hint) {
  if (!control.id) control.id = uid("f");
  return el("div", { class: "field" }, el("label", { for: control.id }, label), control,
    hint ? el("div", { class: "hint muted" }, hint) : null);
}
const text = (name, value, attrs = {}) => el("input", { name, value: value ?? "", autocomplete: "off", ...attrs });
const num = (name, value, attrs = {}) => el("input", { name, type: "number", value: value ?? "", inputmode: "numeric", ...attrs });
function select(name, options, selected, attrs = {}) {
  return el("select", { name, ...attrs },
    ...options.map(([v, l]) => el("option", { value: v, selected: String(v) === String(selected ?? "") }, l)));
}
function check(name, label, checked) {
  const box = el("input", { type: "checkbox", name, checked: !!checked, id: uid("c"), style: "width:auto" });
  return el("label", { class: "check", for: box.id }, box, " ", label);
}
/** The number in an input, or null when it is empty; what is not a number goes to the server as typed. */
function numberOf(input) {
  const v = input.value.trim();
  if (v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/**
 * A form whose submit runs `send(form)`; a 422 is shown beside the fields,
 * any other failure above the buttons. `done` runs after success.
 */
function form(children, submitLabel, send, done) {
  const status = el("p", { class: "form-status", role: "status" });
  const f = el("form", { novalidate: true }, ...children, status,
    el("div", { class: "row" }, el("button", { type: "submit" }, submitLabel),
      dialog.open ? el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel") : null));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors(f);
    status.textContent = "";
    status.className = "form-status";
    try {
      const result = await send(f);
      if (done) await done(result);
    } catch (e) {
      if (e instanceof ApiError && e.fields.length) showFieldErrors(f, e);
      else { status.textContent = e.message; status.className = "form-status error"; }
    }
  });
  return f;
}

/** Opens the editor dialog with a form built by `build()`. */
function edit(title, build) {
  document.getElementById("editor-title").textContent = title;
  const body = document.getElementById("editor-body");
  body.replaceChildren();
  if (!dialog.open) dialog.showModal();
  body.append(build());
  const first = body.querySelector("input, select, textarea");
  if (first) first.focus();
}

function section(title, ...children) {
  return el("section", { class: "card", "aria-label": title, style: "margin-bottom:1rem" }, el("h2", {}, title), ...children);
}
function table(headers, rows, label) {
  return el("table", { "aria-label": label },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}
const button = (label, onclick, cls = "secondary", attrs = {}) => el("button", { type: "button", class: cls, onclick, ...attrs }, label);

// ---------- shared lookups ----------

const all = async (path) => (await api("GET", `${path}${path.includes("?") ? "&" : "?"}limit=500`)).items;
let cache = {};
async function load(...what) {
  const paths = { users: "/api/v1/users", skills: "/api/v1/skills", agents: "/api/v1/agents", queues: "/api/v1/queues",
    hours: "/api/v1/business-hours" };
  await Promise.all(what.map(async (w) => { cache[w] = await all(paths[w]); }));
}
const nameOf = (list, id) => (cache[list] || []).find((x) => x.id === id);

// ---------- users ----------

function roleBoxes(selected) {
  return el("fieldset", { "data-field": "roles", class: "roles-field" }, el("legend", {}, "Roles"),
    ...ROLES.map((r) => check("role", words(r), selected.includes(r))));
}
const chosenRoles = (f) => [...f.querySelectorAll('input[name="role"]:checked')].map((b) => ROLES[[...f.querySelectorAll('input[name="role"]')].indexOf(b)]);

function userForm(u) {
  const name = text("display_name", u ? u.display_name : ""), email = text("email", u ? u.email : "", { type: "email" });
  const password = text("password", "", { type: "password", autocomplete: "new-password" });
  const parts = [field("Name", name), field("Email", email), roleBoxes(u ? u.roles : ["agent"]),
    field(u ? "New password" : "Password", password, u ? "Leave empty to keep the current one." : "8 or more characters; without one the user cannot log in yet.")];
  const active = u ? check("active", "Active (may log in)", u.active) : null;
  if (active) parts.push(active);
  return form(parts, u ? "Save user" : "Add user", (f) => {
    const body = { display_name: name.value, email: email.value, roles: chosenRoles(f) };
    if (password.value) body.password = password.value;
    if (u) {
      body.active = f.querySelector('input[name="active"]').checked;
      return api("PATCH", `/api/v1/users/${u.id}`, body);
    }
    return api("POST", "/api/v1/users", body);
  }, async (saved) => { dialog.close(); say(`Saved ${saved.display_name}.`); await show(); });
}

async function usersArea() {
  await load("users");
  const rows = cache.users.map((u) => el("tr", { "data-user": u.id },
    el("th", { scope: "row" }, u.display_name), el("td", {}, u.email), el("td", {}, u.roles.map(words).join(", ")),
    el("td", {}, u.active ? "active" : "inactive"), el("td", {}, u.can_log_in ? "yes" : "no"),
    el("td", {}, button("Edit", () => edit(`Edit ${u.display_name}`, () => userForm(u)), "secondary", { "aria-label": `Edit ${u.display_name}` }))));
  return [
    section("Users", table(["Name", "Email", "Roles", "Status", "Can log in", ""], rows, "Users"),
      el("div", { class: "row" }, button("Add a user", () => edit("Add a user", () => userForm(null)), "")))];
}

// ---------- agents and skills ----------

function skillForm(s) {
  const name = text("name", s ? s.name : ""), description = text("description", s ? s.description : "");
  return form([field("Name", name), field("Description", description)], s ? "Save skill" : "Add skill",
    () => api(s ? "PATCH" : "POST", s ? `/api/v1/skills/${s.id}` : "/api/v1/skills", { name: name.value, description: description.value }),
    async () => { dialog.close(); say("Skill saved."); await show(); });
}

function attributesText(attrs) { return Object.entries(attrs || {}).map(([k, v]) => `${k}=${v}`).join("\n"); }
function attributesOf(textarea) {
  const out = {};
  for (const line of textarea.value.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 0) out[line.trim()] = ""; else out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function agentForm(a) {
  const parts = [];
  let user = null;
  if (!a) {
    const taken = new Set(cache.agents.map((x) => x.user_id));
    user = select("user_id", [["", "Choose a user…"], ...cache.users.filter((u) => !taken.has(u.id)).map((u) => [u.id, `${u.display_name} (${u.email})`])], "");
    parts.push(field("User", user, "Each agent is a user who logs in; add the user first."));
  }
  const name = text("display_name", a ? a.display_name : "");
  parts.push(field("Name on the floor", name, a ? null : "The user's name when empty."));
  const cap = a ? a.capacity : { voice: 1, email: 5, chat: 3, sms: 3 };
  const caps = Object.fromEntries(CHANNELS.map((c) => [c, num(`capacity.${c}`, cap[c], { min: 0, max: 50 })]));
  parts.push(el("fieldset", { "data-field": "capacity" }, el("legend", {}, "Contacts at once"),
    el("div", { class: "grid4" }, ...CHANNELS.map((c) => field(words(c), caps[c])))));
  parts.push(check("voice_blocks_others", "A call stops other channels", a ? a.voice_blocks_others : true));
  const prof = new Map((a ? a.skills : []).map((s) => [s.skill_id, s.proficiency]));
  const skillInputs = cache.skills.map((s) => [s.id, num(`skill-${s.id}`, prof.get(s.id), { min: 1, max: 10 })]);
  parts.push(el("fieldset", { "data-field": "skills" }, el("legend", {}, "Skills (proficiency 1–10; empty: none)"),
    el("div", { class: "grid4" }, ...skillInputs.map(([id, input]) => field(nameOf("skills", id).name, input)))));
  const attrs = el("textarea", { name: "attributes", rows: 3 }, attributesText(a ? a.attributes : {}));
  parts.push(field("Attributes", attrs, "One per line, as name=value (e.g. languages=en,fr); routing conditions read them."));
  return form(parts, a ? "Save agent" : "Make agent", (f) => {
    const body = {
      capacity: Object.fromEntries(CHANNELS.map((c) => [c, numberOf(caps[c])])),
      voice_blocks_others: f.querySelector('input[name="voice_blocks_others"]').checked,
      skills: skillInputs.filter(([, i]) => i.value.trim() !== "").map(([skill_id, i]) => ({ skill_id, proficiency: numberOf(i) })),
      attributes: attributesOf(attrs),
    };
    if (name.value.trim() || a) body.display_name = name.value;
    if (a) return api("PATCH", `/api/v1/agents/${a.id}`, body);
    return api("POST", "/api/v1/agents", { user_id: user.value, ...body });
  }, async (saved) => { dialog.close(); say(`Saved agent ${saved.display_name}.`); await show(); });
}

async function agentsArea() {
  await load("users", "skills", "agents");
  const skillName = (id) => (nameOf("skills", id) || { name: "?" }).name;
  const skillRows = cache.skills.map((s) => el("tr", {}, el("th", { scope: "row" }, s.name), el("td", {}, s.description),
    el("td", {}, button("Edit", () => edit(`Edit skill ${s.name}`, () => skillForm(s)), "secondary", { "aria-label": `Edit skill ${s.name}` }))));
  const agentRows = cache.agents.map((a) => el("tr", { "data-agent": a.id },
    el("th", { scope: "row" }, a.display_name),
    el("td", {}, a.skills.map((s) => `${skillName(s.skill_id)} ${s.proficiency}`).join(", ") || "none"),
    el("td", {}, CHANNELS.map((c) => `${a.capacity[c]} ${c}`).join(", ")),
    el("td", {}, Object.entries(a.attributes).map(([k, v]) => `${k}=${v}`).join("; ") || "—"),
    el("td", {}, button("Edit", () => edit(`Edit ${a.display_name}`, () => agentForm(a)), "secondary", { "aria-label": `Edit agent ${a.display_name}` }))));
  return [
    section("Agents", table(["Agent", "Skills", "Capacity", "Attributes", ""], agentRows, "Agents"),
      el("div", { class: "row" }, button("Make a user an agent", () => edit("Make a user an agent", () => agentForm(null)), ""))),
    section("Skills", table(["Skill", "Description", ""], skillRows, "Skills"),
      el("div", { class: "row" }, button("Add a skill", () => edit("Add a skill", () => skillForm(null)), "")))];
}

// ---------- queues and routing rules ----------

/** Rows of skill minimums: "from arrival" then escalation steps after a wait. */
function stepsEditor(rules) {
  const wrap = el("div", {});
  const steps = [{ after: null, skills: rules.required_skills || [] },
    ...(rules.escalation || []).map((e) => ({ after: e.after_seconds, skills: e.required_skills }))];
  const body = el("tbody", {});
  const addRow = (step, first) => {
    const mins = new Map(step.skills.map((s) => [s.skill_id, s.min_proficiency]));
    const after = first ? el("span", { class: "muted" }, "from arrival")
      : num("after_seconds", step.after, { min: 0, "aria-label": "Escalate after seconds" });
    const row = el("tr", { class: first ? "step first" : "step" }, el("td", {}, after),
      ...cache.skills.map((s) => el("td", {}, num(`min-${s.id}`, mins.get(s.id), { min: 1, max: 10, "aria-label": `${s.name} minimum${first ? "" : " after escalation"}`, "data-skill": s.id }))),
      el("td", {}, first ? "" : button("Remove", () => row.remove(), "secondary", { "aria-label": "Remove escalation step" })));
    body.append(row);
  };
  steps.forEach((s, i) => addRow(s, i === 0));
  wrap.append(el("table", { class: "steps", "aria-label": "Required skills and escalation" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Step"), ...cache.skills.map((s) => el("th", { scope: "col" }, `${s.name} ≥`)), el("th", {}))),
    body), el("div", { class: "row" }, button("Add escalation step", () => addRow({ after: null, skills: [] }, false))));
  wrap.read = () => {
    const rows = [...body.querySelectorAll("tr.step")];
    const skillsOf = (r) => [...r.querySelectorAll("input[data-skill]")].filter((i) => i.value.trim() !== "")
      .map((i) => ({ skill_id: i.dataset.skill, min_proficiency: numberOf(i) }));
    return {
      required_skills: skillsOf(rows[0]),
      escalation: rows.slice(1).map((r) => ({ after_seconds: numberOf(r.querySelector('input[name="after_seconds"]')), required_skills: skillsOf(r) })),
    };
  };
  return wrap;
}

function queueForm(q) {
  const r = (q && q.routing_rules) || {};
  const others = [["", "—"], ...cache.queues.filter((x) => !q || x.id !== q.id).map((x) => [x.id, x.name])];
  const i = {
    name: text("name", q ? q.name : ""), description: text("description", q ? q.description : ""),
    department: text("department", q ? q.department : "", { list: "departments" }),
    strategy: select("strategy", STRATEGIES.map((s) => [s, words(s)]), q ? q.strategy : "longest_idle"),
    priority: num("priority", q ? q.priority : 50, { min: 0, max: 100 }),
    sl: num("service_level_seconds", q ? q.service_level_seconds : 20, { min: 1 }),
    slPct: num("service_level_target_pct", q ? q.service_level_target_pct : 80, { min: 0, max: 100 }),
    maxWait: num("max_wait_seconds", q ? q.max_wait_seconds : "", { min: 1 }),
    wrap: num("wrap_up_seconds", q ? q.wrap_up_seconds : 30, { min: 0 }),
    condition: text("routing_rules.condition", r.condition || "", { placeholder: "e.g. languages HAS task.language" }),
    ovQueue: select("routing_rules.overflow.queue_id", others, r.overflow ? r.overflow.queue_id : ""),
    ovAfter: num("routing_rules.overflow.after_seconds", r.overflow ? r.overflow.after_seconds : "", { min: 0 }),
    ovLen: num("routing_rules.overflow.queue_length_over", r.overflow ? r.overflow.queue_length_over : "", { min: 0 }),
    hours: select("routing_rules.business_hours_id", [["", "Always open"], ...cache.hours.map((h) => [h.id, h.name])], r.business_hours_id || ""),
    closed: select("routing_rules.when_closed.action", [["close", "Closed message, then end"], ["voicemail", "Voicemail"], ["callback", "Call back when open"], ["overflow", "Send to another queue"]],
      r.when_closed ? r.when_closed.action : "close"),
    closedQueue: select("routing_rules.when_closed.queue_id", others, r.when_closed ? r.when_closed.queue_id || "" : ""),
    announce: num("routing_rules.announce_every_seconds", r.announce_every_seconds ?? "", { min: 1 }),
    requested: num("routing_rules.requested_agent_seconds", r.requested_agent_seconds ?? "", { min: 0 }),
    firstReply: num("routing_rules.first_response_seconds", r.first_response_seconds ?? "", { min: 1 }),
    resolve: num("routing_rules.resolution_seconds", r.resolution_seconds ?? "", { min: 1 }),
  };
  const mw = r.max_wait_action || {};
  const maxWaitActions = Object.fromEntries(CHANNELS.map((c) => [c, select(`routing_rules.max_wait_action.${c}`,
    [["", "default"], ["callback", "call back"], ["voicemail", "voicemail"], ["close", "close"]], mw[c] || "")]));
  const steps = stepsEditor(r);
  const parts = [
    el("div", { class: "grid2" }, field("Name", i.name), field("Department", i.department, "Transfers to another department's queue are referrals."),
      field("Description", i.description)),
    el("datalist", { id: "departments" }, ...[...new Set(cache.queues.map((x) => x.department).filter(Boolean))].map((d) => el("option", { value: d }))),
    el("div", { class: "grid4" }, field("Agent selection", i.strategy), field("Priority (0–100)", i.priority),
      field("Service level: answered within (s)", i.sl), field("Service level target %", i.slPct),
      field("Maximum wait (s)", i.maxWait, "Empty: no limit."), field("Wrap-up time (s)", i.wrap),
      field("Announce position every (s)", i.announce, "Voice and chat; empty: never."),
      field("Keep for the requested agent (s)", i.requested, "Empty: wait for that agent alone."),
      field("Email: first reply within (s)", i.firstReply, "Shown on the wallboard; empty: no target."),
      field("Email: resolved within (s)", i.resolve, "Empty: no target.")),
    el("fieldset", { "data-field": "routing_rules.required_skills" }, el("legend", {}, "Required skills (minimum proficiency) and escalation"),
      el("div", { "data-field": "routing_rules.escalation" }, steps)),
    field("Eligibility condition", i.condition, "Over agent and contact attributes: skills HAS 'billing' AND language == task.language"),
    el("fieldset", { "data-field": "routing_rules.overflow" }, el("legend", {}, "Overflow"),
      el("div", { class: "grid4" }, field("To queue", i.ovQueue), field("After waiting (s)", i.ovAfter), field("When more than this many wait", i.ovLen))),
    el("fieldset", { "data-field": "routing_rules.when_closed" }, el("legend", {}, "Business hours"),
      el("div", { class: "grid4" }, field("Hours", i.hours), field("While closed", i.closed), field("Closed: send to", i.closedQueue))),
    el("fieldset", { "data-field": "routing_rules.max_wait_action" }, el("legend", {}, "At the maximum wait"),
      el("div", { class: "grid4" }, ...CHANNELS.map((c) => field(words(c), maxWaitActions[c])))),
  ];
  return form(parts, q ? "Save queue" : "Add queue", () => {
    const rules = { ...steps.read() };
    if (i.condition.value.trim()) rules.condition = i.condition.value;
    if (i.ovQueue.value) rules.overflow = { queue_id: i.ovQueue.value, after_seconds: numberOf(i.ovAfter), queue_length_over: numberOf(i.ovLen) };
    if (i.hours.value) rules.business_hours_id = i.hours.value;
    if (i.hours.value || i.closed.value !== "close") rules.when_closed = { action: i.closed.value, queue_id: i.closedQueue.value || null };
    if (numberOf(i.announce) !== null) rules.announce_every_seconds = numberOf(i.announce);
    if (numberOf(i.requested) !== null) rules.requested_agent_seconds = numberOf(i.requested);
    if (numberOf(i.firstReply) !== null) rules.first_response_seconds = numberOf(i.firstReply);
    if (numberOf(i.resolve) !== null) rules.resolution_seconds = numberOf(i.resolve);
    const mwa = Object.fromEntries(CHANNELS.filter((c) => maxWaitActions[c].value).map((c) => [c, maxWaitActions[c].value]));
    if (Object.keys(mwa).length) rules.max_wait_action = mwa;
    const body = {
      name: i.name.value, description: i.description.value, department: i.department.value, strategy: i.strategy.value, priority: numberOf(i.priority),
      service_level_seconds: numberOf(i.sl), service_level_target_pct: numberOf(i.slPct), max_wait_seconds: numberOf(i.maxWait),
      wrap_up_seconds: numberOf(i.wrap), routing_rules: rules,
    };
    return api(q ? "PATCH" : "POST", q ? `/api/v1/queues/${q.id}` : "/api/v1/queues", body);
  }, async (saved) => { dialog.close(); say(`Saved queue ${saved.name}.`); await show(); });
}

async function queuesArea() {
  await load("skills", "queues", "hours");
  const skillName = (id) => (nameOf("skills", id) || { name: "?" }).name;
  const rows = cache.queues.map((q) => {
    const r = q.routing_rules || {};
    return el("tr", { "data-queue": q.id }, el("th", { scope: "row" }, q.name), el("td", {}, q.department || "—"), el("td", {}, words(q.strategy)),
      el("td", {}, (r.required_skills || []).map((s) => `${skillName(s.skill_id)} ≥ ${s.min_proficiency}`).join(", ") || "any agent"),
      el("td", {}, `${q.service_level_target_pct}% in ${q.service_level_seconds} s`),
      el("td", {}, r.business_hours_id ? (nameOf("hours", r.business_hours_id) || { name: "?" }).name : "always open"),
      el("td", {}, button("Edit", () => edit(`Edit queue ${q.name}`, () => queueForm(q)), "secondary", { "aria-label": `Edit queue ${q.name}` })));
  });
  return [section("Queues", table(["Queue", "Department", "Agent selection", "Requires", "Service level", "Hours", ""], rows, "Queues"),
    el("div", { class: "row" }, button("Add a queue", () => edit("Add a queue", () => queueForm(null)), "")))];
}

// ---------- reason and disposition codes ----------

async function codesArea() {
  const codes = (await api("GET", "/api/v1/codes?retired=true")).items;
  const list = (kind, title, help) => {
    const rows = codes.filter((c) => c.kind === kind).map((c) => el("tr", { "data-code": c.code },
      el("th", { scope: "row" }, c.code), el("td", {}, c.label), el("td", {}, c.active ? "in use" : "retired"),
      el("td", {}, button(c.active ? "Retire" : "Restore", async () => {
        try { await api("PATCH", `/api/v1/codes/${c.id}`, { active: !c.active }); await show(); }
        catch (e) { say(e.message, true); }
      }, "secondary", { "aria-label": `${c.active ? "Retire" : "Restore"} ${c.code}` }))));
    const code = text("code", ""), label = text("label", "");
    const add = form([el("input", { type: "hidden", name: "kind", value: kind }),
      el("div", { class: "grid2" }, field("Code", code, "Lowercase letters, digits, _ and -."), field("Label", label))],
      `Add ${kind} code`, () => api("POST", "/api/v1/codes", { kind, code: code.value, label: label.value }),
      async (c) => { say(`Added ${c.code}.`); await show(); });
    add.setAttribute("aria-label", `Add ${kind} code`);
    return section(title, el("p", { class: "muted" }, help), table(["Code", "Label", "State", ""], rows, title), add);
  };
  return [list("reason", "Reason codes", "Why an agent is away. While any are in use, agents choose from this list."),
    list("disposition", "Disposition codes", "How a contact ended, chosen at wrap-up. While any are in use, agents choose from this list.")];
}

// ---------- business hours and holidays ----------

const spans = (list) => (list || []).map((s) => `${s.open}–${s.close}`).join(", ");
function parseSpans(value) {
  return value.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const m = s.match(/^(\S+?)\s*[-–]\s*(\S+)$/);
    return m ? { open: m[1], close: m[2] } : { open: s, close: "" };
  });
}

function hoursForm(h) {
  const hours = h ? h.hours : {};
  const name = text("name", h ? h.name : "");
  const days = Object.fromEntries(DAYS.map((d) => [d, text(`hours.${d}`, spans(hours[d]), { placeholder: "closed" })]));
  const holidays = el("tbody", {});
  const addHoliday = (x) => {
    const row = el("tr", { class: "holiday" },
      el("td", {}, el("input", { type: "date", "data-part": "date", value: x ? x.date : "", "aria-label": "Holiday date" })),
      el("td", {}, text("", x ? x.name : "", { "data-part": "name", "aria-label": "Holiday name" })),
      el("td", {}, text("", x ? spans(x.hours) : "", { "data-part": "hours", placeholder: "closed all day", "aria-label": "Holiday opening hours" })),
      el("td", {}, button("Remove", () => row.remove(), "secondary", { "aria-label": "Remove holiday" })));
    holidays.append(row);
  };
  for (const x of hours.holidays || []) addHoliday(x);
  const parts = [field("Name", name),
    el("fieldset", { "data-field": "hours" }, el("legend", {}, "Opening hours (local time, e.g. 08:00–12:00, 13:00–17:00)"),
      el("div", { class: "grid4" }, ...DAYS.map((d) => field(words(d), days[d])))),
    el("fieldset", { "data-field": "hours.holidays" }, el("legend", {}, "Holidays"),
      el("table", { "aria-label": "Holidays" }, el("thead", {}, el("tr", {}, el("th", {}, "Date"), el("th", {}, "Name"), el("th", {}, "Open"), el("th", {}))), holidays),
      el("div", { class: "row" }, button("Add holiday", () => addHoliday(null))))];
  return form(parts, h ? "Save hours" : "Add hours", () => {
    const body = { name: name.value, hours: Object.fromEntries(DAYS.map((d) => [d, parseSpans(days[d].value)])) };
    const rows = [...holidays.querySelectorAll("tr.holiday")].filter((r) => r.querySelector('[data-part="date"]').value || r.querySelector('[data-part="name"]').value);
    body.hours.holidays = rows.map((r, n) => {
      // Name the inputs by their place in what is sent, so errors land beside them.
      for (const part of ["date", "name", "hours"]) r.querySelector(`[data-part="${part}"]`).name = `hours.holidays[${n}].${part}`;
      return { date: r.querySelector('[data-part="date"]').value, name: r.querySelector('[data-part="name"]').value,
        hours: parseSpans(r.querySelector('[data-part="hours"]').value) };
    });
    return api(h ? "PATCH" : "POST", h ? `/api/v1/business-hours/${h.id}` : "/api/v1/business-hours", body);
  }, async (saved) => { dialog.close(); say(`Saved ${saved.name}.`); await show(); });
}

async function hoursArea() {
  await load("hours", "queues");
  const rows = cache.hours.map((h) => {
    const used = cache.queues.filter((q) => q.routing_rules && q.routing_rules.business_hours_id === h.id).map((q) => q.name);
    return el("tr", {}, el("th", { scope: "row" }, h.name),
      el("td", {}, DAYS.map((d) => `${d.slice(0, 3)} ${spans(h.hours[d]) || "closed"}`).join("; ")),
      el("td", {}, String((h.hours.holidays || []).length)), el("td", {}, used.join(", ") || "—"),
      el("td", {}, el("div", { class: "row", style: "margin:0" },
        button("Edit", () => edit(`Edit ${h.name}`, () => hoursForm(h)), "secondary", { "aria-label": `Edit hours ${h.name}` }),
        button("Delete", async () => {
          if (!confirm(`Delete ${h.name}?`)) return;
          try { await api("DELETE", `/api/v1/business-hours/${h.id}`); await show(); } catch (e) { say(e.message, true); }
        }, "danger", { "aria-label": `Delete hours ${h.name}` }))));
  });
  return [section("Business hours and holidays", table(["Name", "Week", "Holidays", "Queues", ""], rows, "Business hours"),
    el("div", { class: "row" }, button("Add business hours", () => edit("Add business hours", () => hoursForm(null)), "")))];
}

// ---------- API tokens ----------

async function tokensArea() {
  await load("users");
  const tokens = (await api("GET", "/api/v1/tokens?limit=500")).items;
  const userName = (id) => (nameOf("users", id) || { display_name: "?" }).display_name;
  const rows = tokens.map((t) => el("tr", { "data-token": t.id }, el("th", { scope: "row" }, t.name), el("td", {}, userName(t.user_id)),
    el("td", {}, when(t.created_at)), el("td", {}, t.revoked_at ? `revoked ${when(t.revoked_at)}` : "active"),
    el("td", {}, t.revoked_at ? "" : button("Revoke", async () => {
      if (!confirm(`Revoke ${t.name}? Integrations using it stop working at once.`)) return;
      try { await api("DELETE", `/api/v1/tokens/${t.id}`); await show(); } catch (e) { say(e.message, true); }
    }, "danger", { "aria-label": `Revoke ${t.name}` }))));
  const name = text("name", ""), user = select("user_id", cache.users.filter((u) => u.active).map((u) => [u.id, u.display_name]), me);
  const secretBox = el("div", { id: "secret", "aria-live": "polite" });
  const add = form([el("div", { class: "grid2" }, field("Name", name, "What uses it, e.g. CRM sync."), field("Acts as", user, "The token has this user's roles."))],
    "Create token", () => api("POST", "/api/v1/tokens", { name: name.value, user_id: user.value }),
    async (made) => {
      await show();
      document.getElementById("secret").replaceChildren(el("div", { class: "card secret" },
        el("strong", {}, `Token “${made.token.name}” created. Copy it now: it is not shown again.`),
        el("pre", { class: "token-secret" }, made.secret)));
    });
  return [section("API tokens", el("p", { class: "muted" }, "Integrations send a token as Authorization: Bearer <token>."),
    table(["Name", "Acts as", "Created", "State", ""], rows, "API tokens"), secretBox, el("h3", {}, "New token"), add)];
}

// ---------- audit log ----------

async function auditArea() {
  await load("users");
  const action = text("action", ""), object = text("object_id", "");
  const body = el("tbody", {});
  const more = el("div", { class: "row" });
  const who = (a) => (a.actor_user_id ? (nameOf("users", a.actor_user_id) || { display_name: a.actor_user_id }).display_name : a.actor_kind);
  const fetchPage = async (cursor) => {
    const q = new URLSearchParams({ order: "newest", limit: "50" });
    if (action.value.trim()) q.set("action", action.value.trim());
    if (object.value.trim()) q.set("object_id", object.value.trim());
    if (cursor) q.set("cursor", cursor);
    const page = await api("GET", `/api/v1/audit?${q}`);
    if (!cursor) body.replaceChildren();
    body.append(...page.items.map((a) => el("tr", {}, el("td", {}, when(a.at)), el("td", {}, who(a)), el("td", {}, a.action),
      el("td", {}, `${a.object_type} ${a.object_id}`), el("td", { class: "details" }, JSON.stringify(a.details)), el("td", {}, a.source))));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Nothing recorded that matches.")));
    more.replaceChildren(page.next_cursor ? button("Older entries", () => fetchPage(page.next_cursor).catch((e) => say(e.message, true))) : "");
  };
  const filter = form([el("div", { class: "grid2" }, field("Action", action, "e.g. user.updated, queue.created"), field("Object id", object))],
    "Filter", () => fetchPage(null));
  await fetchPage(null);
  return [section("Audit log", el("p", { class: "muted" }, "Who changed what, newest first."), filter,
    el("table", { "aria-label": "Audit log" }, el("thead", {}, el("tr", {}, ...["When", "Who", "Action", "Object", "Details", "From"].map((h) => el("th", { scope: "col" }, h)))), body), more)];
}

// ---------- navigation ----------


// ---------- voice: numbers, trunks, agents' phones ----------

const queueByName = (name) => cache.queues.find((q) => q.name.toLowerCase() === name.trim().toLowerCase());

/** Menu keys as lines `2 = Support`; unknown queue names go to the server as typed. */
function keysText(options) {
  return Object.entries(options || {}).map(([k, id]) => `${k} = ${nameOf("queues", id)?.name || id}`).join("\n");
}
function keysOf(textarea) {
  const out = {};
  for (const line of textarea.value.split("\n")) {
    if (!line.trim()) continue;
    const [k, ...rest] = line.split("=");
    const name = rest.join("=").trim();
    out[k.trim()] = queueByName(name)?.id || name;
  }
  return out;
}

function numberForm(n, prompts) {
  const number = text("number", n?.number, { placeholder: "+61290000000", readonly: !!n });
  const queue = select("queue_id", cache.queues.map((q) => [q.id, q.name]), n?.queue_id);
  const m = n?.menu;
  const useMenu = check("menu", "Greet callers with a menu", !!m);
  const promptChoices = [["", "— none —"], ...prompts.map((p) => [p.name, p.name])];
  const greeting = select("menu.prompt", promptChoices, m?.prompt);
  const keys = el("textarea", { name: "menu.options", rows: 3, placeholder: "1 = Sales\n2 = Support" }, keysText(m?.options));
  const wait = num("menu.timeout_seconds", m?.timeout_seconds ?? 5);
  const hours = select("menu.business_hours_id", [["", "always open"], ...cache.hours.map((h) => [h.id, h.name])], m?.business_hours_id);
  const closed = select("menu.closed_prompt", promptChoices, m?.closed_prompt);
  const menuFields = el("fieldset", { "data-field": "menu" }, el("legend", {}, "Menu"),
    el("div", { class: "grid2" }, field("Greeting", greeting), field("Seconds to wait for a key", wait)),
    field("Keys", keys, "One a line: a key (0-9, * or #) = a queue. With no key, calls go to the queue above."),
    el("div", { class: "grid2" }, field("Open hours", hours), field("Closed message", closed, "Played out of hours; then the call ends.")));
  const box = useMenu.querySelector("input");
  menuFields.hidden = !box.checked;
  box.addEventListener("change", () => { menuFields.hidden = !box.checked; });
  return form([el("div", { class: "grid2" }, field("Number dialled", number, "E.164, with the country code."), field("Queue", queue)),
    useMenu, menuFields],
    n ? "Save number" : "Add number",
    () => api("PUT", `/api/v1/voice/numbers/${encodeURIComponent(number.value.trim())}`, {
      queue_id: queue.value,
      menu: box.checked ? {
        prompt: greeting.value || null, options: keysOf(keys), timeout_seconds: numberOf(wait),
        business_hours_id: hours.value || null, closed_prompt: closed.value || null,
      } : null,
    }),
    async (r) => { dialog.close(); say(`${r.number} goes to ${nameOf("queues", r.queue_id)?.name}.`); await show(); });
}

function promptForm() {
  const name = text("name", "");
  const file = el("input", { name: "body", type: "file", accept: "audio/wav,.wav" });
  return form([el("div", { class: "grid2" }, field("Prompt name", name, "a-z, 0-9, '.', '_' and '-'."),
    field("Recording", file, "A WAV file: 8 kHz, mono, 16-bit."))],
    "Upload prompt",
    async () => {
      const f = file.files[0];
      const res = await fetch(`/api/v1/voice/prompts/${encodeURIComponent(name.value.trim())}`, {
        method: "PUT", headers: { "content-type": "audio/wav" }, body: f ? await f.arrayBuffer() : new ArrayBuffer(0),
      });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new ApiError(res.status, data);
      return data;
    },
    async (p) => { dialog.close(); say(`Prompt ${p.name} saved (${(p.duration_ms / 1000).toFixed(1)} s).`); await show(); });
}

function trunkForm(t) {
  const name = text("name", t?.name, { readonly: !!t });
  const sources = el("textarea", { name: "sources", rows: 3 }, (t?.sources || []).join("\n"));
  const outbound = text("outbound", t?.outbound, { placeholder: "sip.carrier.example:5060" });
  const callerId = text("caller_id", t?.caller_id, { placeholder: "+61290000000" });
  const username = text("username", t?.username, { autocomplete: "off" });
  const password = el("input", { name: "password", type: "password", autocomplete: "new-password",
    placeholder: t?.has_password ? "kept — type to change" : "" });
  const register = check("register", "Register with the carrier (it then sends calls from that address)", !!t?.register);
  return form([field("Trunk", name), field("Addresses calls may come from", sources, "One address or CIDR block a line, like 203.0.113.0/24. None for a trunk that only takes outbound calls."),
    el("fieldset", {}, el("legend", {}, "Outbound calls"),
      el("div", { class: "grid2" }, field("Send calls to", outbound, "The carrier's host or address, with its port."),
        field("Caller ID", callerId, "The number called parties see.")),
      el("div", { class: "grid2" }, field("Username", username, "If the carrier asks for credentials."),
        field("Password", password, "Kept to answer the carrier's challenges; never shown.")),
      register)],
    t ? "Save trunk" : "Add trunk",
    () => api("PUT", `/api/v1/voice/trunks/${encodeURIComponent(name.value.trim())}`, {
      sources: sources.value.split(/\s+/).filter(Boolean),
      outbound: outbound.value.trim() || null,
      caller_id: callerId.value.trim() || null,
      username: username.value.trim() || null,
      password: password.value || null,
      register: register.querySelector("input").checked,
    }),
    async (r) => { dialog.close(); say(`Trunk ${r.name} saved.`); await show(); });
}

function phoneForm(a, phone) {
  const username = text("username", phone?.username, { autocomplete: "off" });
  const password = el("input", { name: "password", type: "password", autocomplete: "new-password" });
  return form([el("div", { class: "grid2" }, field("SIP username", username, "a-z, 0-9, '.', '_' and '-'."),
    field("SIP password", password, "8 characters or more; only a hash is kept."))],
    "Save phone",
    () => api("PUT", `/api/v1/agents/${a.id}/phone`, { username: username.value, password: password.value }),
    async () => { dialog.close(); say(`${a.display_name}'s phone saved.`); await show(); });
}

async function voiceArea() {
  await load("queues", "agents", "hours");
  const [numbers, trunks, phoneList, promptList] = await Promise.all([api("GET", "/api/v1/voice/numbers"),
    api("GET", "/api/v1/voice/trunks"), api("GET", "/api/v1/voice/phones"), api("GET", "/api/v1/voice/prompts")]);
  const prompts = promptList.items;
  const phones = new Map(phoneList.items.map((p) => [p.agent_id, p]));
  const numberRows = numbers.items.map((n) => el("tr", { "data-number": n.number },
    el("th", { scope: "row" }, n.number), el("td", {}, nameOf("queues", n.queue_id)?.name || "—"),
    el("td", {}, n.menu ? `${n.menu.prompt || "no greeting"}; ${Object.keys(n.menu.options).map((k) => `${k} → ${nameOf("queues", n.menu.options[k])?.name}`).join(", ") || "no keys"}` : "—"),
    el("td", {}, button("Edit", () => edit(`Number ${n.number}`, () => numberForm(n, prompts)), "secondary", { "aria-label": `Edit ${n.number}` }),
      " ", button("Remove", async () => {
        try { await api("DELETE", `/api/v1/voice/numbers/${encodeURIComponent(n.number)}`); await show(); } catch (e) { say(e.message, true); }
      }, "secondary", { "aria-label": `Remove ${n.number}` }))));
  const trunkRows = trunks.items.map((t) => el("tr", { "data-trunk": t.name },
    el("th", { scope: "row" }, t.name), el("td", {}, t.sources.join(", ") || "—"),
    el("td", {}, t.outbound ? `${t.outbound} as ${t.caller_id}${t.username ? ` (signs in as ${t.username})` : ""}` : "—",
      t.register ? el("div", { class: t.registration === "registered" ? "muted" : "error" }, `Registration: ${t.registration}`) : ""),
    el("td", {}, button("Edit", () => edit(`Trunk ${t.name}`, () => trunkForm(t)), "secondary", { "aria-label": `Edit trunk ${t.name}` }),
      " ", button("Remove", async () => {
        try { await api("DELETE", `/api/v1/voice/trunks/${encodeURIComponent(t.name)}`); await show(); } catch (e) { say(e.message, true); }
      }, "secondary", { "aria-label": `Remove trunk ${t.name}` }))));
  const phoneRows = cache.agents.map((a) => {
    const p = phones.get(a.id);
    return el("tr", { "data-agent": a.id },
      el("th", { scope: "row" }, a.display_name), el("td", {}, p ? p.username : "—"),
      el("td", {}, p ? (p.registered ? "registered" : "not registered") : "no phone"),
      el("td", {}, button(p ? "Change" : "Set up", () => edit(`${a.display_name}'s phone`, () => phoneForm(a, p)), "secondary",
        { "aria-label": `Phone for ${a.display_name}` })));
  });
  return [
    section("Numbers", el("p", { class: "muted" }, "Calls to these numbers from your trunks are queued; the routing engine rings an agent's phone."),
      table(["Number", "Queue", "Menu", ""], numberRows, "Numbers"), el("div", { class: "row" }, button("Add number", () => edit("New number", () => numberForm(null, prompts)), ""))),
    section("Prompts", el("p", { class: "muted" }, "Recordings menus play: greetings and closed messages."),
      table(["Prompt", "Length", ""], prompts.map((p) => el("tr", { "data-prompt": p.name },
        el("th", { scope: "row" }, p.name), el("td", {}, `${(p.duration_ms / 1000).toFixed(1)} s`),
        el("td", {}, el("audio", { controls: "", preload: "none", src: `/api/v1/voice/prompts/${encodeURIComponent(p.name)}`, "aria-label": `Play ${p.name}` })))), "Prompts"),
      el("div", { class: "row" }, button("Upload prompt", () => edit("New prompt", () => promptForm()), ""))),
    section("Trunks", el("p", { class: "muted" }, "Only calls from these addresses are taken; any other caller is refused. Agents' calls and callbacks go out through the first trunk with an outbound address."),
      table(["Trunk", "Addresses", "Outbound", ""], trunkRows, "Trunks"), el("div", { class: "row" }, button("Add trunk", () => edit("New trunk", () => trunkForm()), ""))),
    section("Agents' phones", el("p", { class: "muted" }, "Desk phones and softphones register with these credentials (realm: switchboard)."),
      table(["Agent", "SIP username", "State", ""], phoneRows, "Agents' phones")),
  ];
}

// ---------- email: receiving addresses ----------

function addressForm(a) {
  const address = text("address", a?.address, { placeholder: "support@example.com", readonly: !!a, type: "email" });
  const queue = select("queue_id", cache.queues.map((q) => [q.id, q.name]), a?.queue_id);
  const name = text("display_name", a?.display_name, { placeholder: "Example Support" });
  return form([el("div", { class: "grid2" }, field("Address", address, "Mail to it over SMTP becomes an email contact."), field("Queue", queue)),
    field("Replies are sent as", name, "The name customers see on replies and acknowledgements.")],
    a ? "Save address" : "Add address",
    () => api("PUT", `/api/v1/email/addresses/${encodeURIComponent(address.value.trim())}`, {
      queue_id: queue.value, display_name: name.value,
    }),
    async (r) => { dialog.close(); say(`${r.address} goes to ${nameOf("queues", r.queue_id)?.name}.`); await show(); });
}

function mailboxForm(m, addresses) {
  const address = select("address", addresses.map((a) => [a.address, a.address]), m?.address);
  const host = text("host", m?.host, { placeholder: "imap.example.com" });
  const security = select("security", [["tls", "TLS (port 993)"], ["starttls", "STARTTLS (port 143)"], ["none", "none: this network only"]], m?.security || "tls");
  const port = num("port", m?.port, { placeholder: "by security" });
  const user = text("username", m?.username);
  const password = text("password", "", { type: "password", placeholder: m ? "unchanged unless typed" : "" });
  const folder = text("folder", m?.folder || "INBOX");
  const interval = num("interval_seconds", m?.interval_seconds ?? 60);
  const enabled = check("enabled", "Poll this mailbox", m ? m.enabled : true);
  const remove = check("delete_after", "Delete messages from the server once taken (otherwise they are marked read and kept)", m?.delete_after);
  return form([field("Taken as mail to", address, "Its queue and its name on replies apply."),
    el("div", { class: "grid2" }, field("IMAP server", host), field("Security", security)),
    el("div", { class: "grid2" }, field("Port", port), field("Folder", folder)),
    el("div", { class: "grid2" }, field("Username", user), field("Password", password, "Kept to log in; never shown.")),
    field("Seconds between polls", interval, "10 to 86400."), enabled, remove],
    m ? "Save mailbox" : "Add mailbox",
    (f) => api(m ? "PUT" : "POST", m ? `/api/v1/email/mailboxes/${m.id}` : "/api/v1/email/mailboxes", {
      address: address.value, host: host.value.trim(), security: security.value, port: numberOf(port),
      username: user.value.trim(), password: password.value, folder: folder.value.trim(), interval_seconds: numberOf(interval),
      enabled: f.elements.enabled.checked, delete_after: f.elements.delete_after.checked,
    }),
    async (r) => { dialog.close(); say(`Mailbox ${r.username} at ${r.host} saved; it is polled now.`); await show(); });
}

function smsNumberForm() {
  const number = text("number", "", { placeholder: "+61480000000" });
  const queue = select("queue_id", cache.queues.map((q) => [q.id, q.name]), "");
  return form([el("div", { class: "grid2" }, field("Number", number, "E.164, with the country code."), field("Queue", queue))],
    "Add number",
    () => api("PUT", `/api/v1/sms/numbers/${encodeURIComponent(number.value.trim())}`, { queue_id: queue.value }),
    async (r) => { dialog.close(); say(`Texts to ${r.number} go to ${nameOf("queues", r.queue_id)?.name}.`); await show(); });
}

function smsAccountForm(a) {
  const sid = text("account_sid", a?.account_sid);
  const token = text("auth_token", "", { type: "password", placeholder: a ? "unchanged unless typed" : "" });
  const base = text("api_base", a?.api_base || "https://api.twilio.com");
  const hook = text("webhook_url", a?.webhook_url || `${location.origin}/api/v1/sms/twilio`);
  return form([el("div", { class: "grid2" }, field("Account SID", sid), field("Auth token", token, "Kept to check the provider's signatures and to send; never shown.")),
    field("Provider API", base), field("Webhook address", hook, "Give the provider exactly this address for incoming messages; signatures cover it.")],
    "Save account",
    () => api("PUT", "/api/v1/sms/account", {
      provider: "twilio", account_sid: sid.value.trim(), auth_token: token.value.trim(), api_base: base.value.trim(), webhook_url: hook.value.trim(),
    }),
    async () => { dialog.close(); say("SMS account saved."); await show(); });
}

function widgetForm(w, addresses) {
  const name = text("name", w?.name, { placeholder: "Website chat" });
  const queue = select("queue_id", cache.queues.map((q) => [q.id, q.name]), w?.queue_id);
  const origins = el("textarea", { name: "allowed_origins", rows: 3, placeholder: "https://www.example.com" }, (w?.allowed_origins || []).join("\n"));
  const from = select("transcript_from", [["", "no transcripts"], ...addresses.map((a) => [a.address, a.address])], w?.transcript_from || "");
  const greeting = text("greeting", w?.greeting, { placeholder: "Hello! How can we help?" });
  return form([el("div", { class: "grid2" }, field("Name", name), field("Queue", queue, "Its chats are routed here.")),
    field("Websites allowed to embed it", origins, "One origin a line (https://www.example.com); empty allows any site."),
    el("div", { class: "grid2" }, field("Transcripts are emailed from", from), field("Greeting", greeting, "Shown above the pre-chat form."))],
    w ? "Save widget" : "Add widget",
    () => api(w ? "PUT" : "POST", w ? `/api/v1/chat/widgets/${w.id}` : "/api/v1/chat/widgets", {
      name: name.value, queue_id: queue.value, greeting: greeting.value, transcript_from: from.value || null,
      allowed_origins: origins.value.split("\n").map((o) => o.trim()).filter(Boolean),
    }),
    async (r) => { dialog.close(); say(`Chat widget ${r.name} saved.`); await show(); });
}

async function emailArea() {
  await load("queues");
  const addresses = await api("GET", "/api/v1/email/addresses");
  const [smsNumbers, smsAccount, widgets, mailboxes] = await Promise.all([api("GET", "/api/v1/sms/numbers"),
    api("GET", "/api/v1/sms/account").catch(() => null), api("GET", "/api/v1/chat/widgets"), api("GET", "/api/v1/email/mailboxes")]);
  const mailboxRows = mailboxes.items.map((m) => el("tr", { "data-mailbox": m.id },
    el("th", { scope: "row" }, `${m.username} at ${m.host}:${m.port}`), el("td", {}, `${m.folder} → ${m.address}`),
    el("td", {}, !m.enabled ? "off" : m.last_error ? el("span", { class: "error" }, m.last_error) : m.last_polled_at ? "ok" : "not yet polled",
      el("div", { class: "muted" }, `${m.taken} taken, ${m.refused} refused; last ${when(m.last_polled_at)}`)),
    el("td", {}, button("Poll now", async () => {
      try { await api("POST", `/api/v1/email/mailboxes/${m.id}/poll`); say(`Polling ${m.username} at ${m.host}.`); } catch (e) { say(e.message, true); }
    }, "secondary", { "aria-label": `Poll ${m.username} at ${m.host} now` }),
      " ", button("Edit", () => edit(`Mailbox ${m.username} at ${m.host}`, () => mailboxForm(m, addresses.items)), "secondary", { "aria-label": `Edit ${m.username} at ${m.host}` }),
      " ", button("Remove", async () => {
        try { await api("DELETE", `/api/v1/email/mailboxes/${m.id}`); await show(); } catch (e) { say(e.message, true); }
      }, "secondary", { "aria-label": `Remove ${m.username} at ${m.host}` }))));
  const snippet = (w) => `<script src="${location.origin}/chat/widget.js" data-widget="${w.id}" async></script>`;
  const rows = addresses.items.map((a) => el("tr", { "data-address": a.address },
    el("th", { scope: "row" }, a.address), el("td", {}, nameOf("queues", a.queue_id)?.name || "—"), el("td", {}, a.display_name),
    el("td", {}, button("Edit", () => edit(`Address ${a.address}`, () => addressForm(a)), "secondary", { "aria-label": `Edit ${a.address}` }),
      " ", button("Remove", async () => {
        try { await api("DELETE", `/api/v1/email/addresses/${encodeURIComponent(a.address)}`); await show(); } catch (e) { say(e.message, true); }
      }, "secondary", { "aria-label": `Remove ${a.address}` }))));
  return [
    section("Addresses", el("p", { class: "muted" },
      "Mail to these addresses is queued as email contacts; mail to any other address is refused. A new conversation is acknowledged with its reference; replies go out through the SMTP relay."),
      table(["Address", "Queue", "Replies sent as", ""], rows, "Addresses"),
      el("div", { class: "row" }, button("Add address", () => edit("New address", () => addressForm(null)), ""))),
    section("Mailboxes (IMAP)", el("p", { class: "muted" },
      "Mail kept at another provider is fetched from these mailboxes and taken as mail to the address chosen: unread messages on the first poll, then each new one."),
      table(["Mailbox", "Folder → address", "Last poll", ""], mailboxRows, "Mailboxes"),
      el("div", { class: "row" }, button("Add mailbox", () => addresses.items.length ? edit("New mailbox", () => mailboxForm(null, addresses.items)) : say("Add a receiving address first.", true), ""))),
    section("Text messages (SMS)", el("p", { class: "muted" },
      smsAccount ? `Provider account ${smsAccount.account_sid} (${smsAccount.api_base}); incoming texts are posted to ${smsAccount.webhook_url}.`
        : "No provider account yet: texts can be neither received nor sent."),
      table(["Number", "Queue"], smsNumbers.items.map((n) => el("tr", { "data-sms-number": n.number },
        el("th", { scope: "row" }, n.number), el("td", {}, nameOf("queues", n.queue_id)?.name || "—"))), "SMS numbers"),
      el("div", { class: "row" }, button(smsAccount ? "Change account" : "Set up account", () => edit("SMS provider account", () => smsAccountForm(smsAccount)), "secondary"),
        button("Add SMS number", () => edit("New SMS number", () => smsNumberForm()), ""))),
    section("Web chat", el("p", { class: "muted" },
      "A website shows a chat button by adding the widget's script tag. Chats are routed to the widget's queue; agents take as many at once as their chat capacity allows."),
      table(["Widget", "Queue", "Embed", ""], widgets.items.map((w) => el("tr", { "data-widget": w.id },
        el("th", { scope: "row" }, w.name), el("td", {}, nameOf("queues", w.queue_id)?.name || "—"),
        el("td", {}, el("code", { class: "snippet" }, snippet(w)), " ", el("a", { href: `/chat/w/${w.id}`, target: "_blank", rel: "noopener" }, "Try it")),
        el("td", {}, button("Edit", () => edit(`Chat widget ${w.name}`, () => widgetForm(w, addresses.items)), "secondary", { "aria-label": `Edit ${w.name}` }),
          " ", button("Remove", async () => {
            try { await api("DELETE", `/api/v1/chat/widgets/${w.id}`); await show(); } catch (e) { say(e.message, true); }
          }, "secondary", { "aria-label": `Remove ${w.name}` })))), "Chat widgets"),
      el("div", { class: "row" }, button("Add chat widget", () => edit("New chat widget", () => widgetForm(null, addresses.items)), ""))),
  ];
}

const AREAS = { users: usersArea, agents: agentsArea, queues: queuesArea, codes: codesArea, hours: hoursArea, voice: voiceArea, email: emailArea, tokens: tokensArea, audit: auditArea };

async function show() {
  const name = AREAS[location.hash.slice(1)] ? location.hash.slice(1) : "users";
  for (const a of document.querySelectorAll("nav.tabs a")) {
    if (a.getAttribute("href") === `#${name}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  try {
    const parts = await AREAS[name]();
    area.replaceChildren(...parts);
    area.dataset.shown = name;
  } catch (e) {
    area.replaceChildren(el("p", { class: "error" }, `Could not load: ${e.message}`));
  }
}

// A closed editor keeps nothing: the next one starts from what is saved.
dialog.addEventListener("close", () => document.getElementById("editor-body").replaceChildren());
window.addEventListener("hashchange", () => {
  if (dialog.open) dialog.close();
  say("");
  show();
});
await show();
