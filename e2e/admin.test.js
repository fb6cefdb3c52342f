// Administration in a real browser: every area's form is checked by the
// server and its answer shown beside the field; what is saved is what the
// API then returns.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, apiAs, launchBrowser, loggedIn, shot, textIs } from "./harness.js";

let server, browser, admin, page;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.base, "admin@demo.example");
  page = await loggedIn(browser, server.base, "admin@demo.example");
  page.on("dialog", (d) => d.accept());
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const editor = () => page.locator("#editor");

/** A WAV file of a tone: mono, 16-bit, at `rate`. */
function wav(rate, seconds) {
  const n = Math.round(rate * seconds);
  const b = Buffer.alloc(44 + n * 2);
  b.write("RIFF", 0); b.writeUInt32LE(36 + n * 2, 4); b.write("WAVE", 8);
  b.write("fmt ", 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write("data", 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  return b;
}
/** The error shown right after the control labelled `label`. */
const errorBeside = (scope, label) => scope.getByLabel(label, { exact: true }).locator("xpath=following-sibling::div[contains(@class,'field-error')]");

async function open(area) {
  await page.goto(`${server.base}/admin#${area}`);
  await page.locator(`#area[data-shown="${area}"]`).waitFor({ timeout: 5000 });
}

test("an admin adds a user; a bad email is refused beside the field", async () => {
  await open("users");
  await page.getByRole("button", { name: "Add a user" }).click();
  const d = editor();
  await d.getByLabel("Name", { exact: true }).fill("Nina <b>New</b>");
  await d.getByLabel("Email", { exact: true }).fill("not-an-email");
  await d.getByLabel("Password", { exact: true }).fill("long-enough-secret");
  await d.getByRole("button", { name: "Add user" }).click();
  await textIs(errorBeside(d, "Email"), "must look like name@example.com");
  assert.equal((await admin("GET", "/api/v1/users?limit=500")).items.some((u) => u.display_name.startsWith("Nina")), false);
  await d.getByLabel("Email", { exact: true }).fill("nina@demo.example");
  await d.getByLabel("team leader").check();
  await d.getByRole("button", { name: "Add user" }).click();
  const row = page.locator("tr", { hasText: "nina@demo.example" });
  await row.waitFor({ timeout: 5000 });
  // Markup in a name is shown as text.
  await textIs(row.locator("th"), "Nina <b>New</b>");
  await textIs(row.locator("td").nth(1), "agent, team leader");
  await shot(page, "admin-users");
});

test("an admin makes a user an agent with skills; a proficiency of 11 is refused", async () => {
  await open("agents");
  await page.getByRole("button", { name: "Make a user an agent" }).click();
  const d = editor();
  await d.getByLabel("User").selectOption({ label: "Nina <b>New</b> (nina@demo.example)" });
  await d.getByLabel("billing", { exact: true }).fill("11");
  await d.getByLabel("Attributes").fill("languages=en,fr\nteam=blue");
  await d.getByRole("button", { name: "Make agent" }).click();
  await textIs(d.locator("fieldset[data-field='skills'] .field-error"), "skills[0].proficiency: must be from 1 to 10");
  await d.getByLabel("billing", { exact: true }).fill("7");
  await d.getByRole("button", { name: "Make agent" }).click();
  await page.locator("tr", { hasText: "Nina <b>New</b>" }).waitFor({ timeout: 5000 });
  const agent = (await admin("GET", "/api/v1/agents?limit=500")).items.find((a) => a.display_name === "Nina <b>New</b>");
  const billing = (await admin("GET", "/api/v1/skills?limit=500")).items.find((s) => s.name === "billing");
  assert.deepEqual(agent.skills, [{ skill_id: billing.id, proficiency: 7 }]);
  assert.deepEqual(agent.attributes, { languages: "en,fr", team: "blue" });
  await shot(page, "admin-agents");
});

test("an admin adds a queue with routing rules; a bad minimum and a bad condition are refused", async () => {
  await open("queues");
  await page.getByRole("button", { name: "Add a queue" }).click();
  const d = editor();
  await d.getByLabel("Name", { exact: true }).fill("Retentions");
  await d.getByLabel("Department").fill("Customer care");
  await d.getByLabel("Agent selection").selectOption("most_skilled");
  await d.getByLabel("billing minimum", { exact: true }).fill("12");
  await d.getByRole("button", { name: "Add queue" }).click();
  await textIs(d.locator("fieldset[data-field='routing_rules.required_skills'] .field-error"), /must be from 1 to 10/);
  await d.getByLabel("billing minimum", { exact: true }).fill("5");
  await d.getByLabel("Eligibility condition").fill("languages HAS");
  await d.getByRole("button", { name: "Add queue" }).click();
  await textIs(errorBeside(d, "Eligibility condition"), /./);
  await d.getByLabel("Eligibility condition").fill("languages HAS 'fr'");
  await d.getByRole("button", { name: "Add escalation step" }).click();
  await d.getByLabel("Escalate after seconds").fill("60");
  await d.getByLabel("billing minimum after escalation").fill("2");
  await d.getByRole("button", { name: "Add queue" }).click();
  const row = page.locator("tr", { hasText: "Retentions" });
  await row.waitFor({ timeout: 5000 });
  const q = (await admin("GET", "/api/v1/queues?limit=500")).items.find((x) => x.name === "Retentions");
  const billing = (await admin("GET", "/api/v1/skills?limit=500")).items.find((s) => s.name === "billing");
  assert.equal(q.strategy, "most_skilled");
  assert.equal(q.department, "Customer care");
  assert.deepEqual(q.routing_rules.required_skills, [{ skill_id: billing.id, min_proficiency: 5 }]);
  assert.deepEqual(q.routing_rules.escalation, [{ after_seconds: 60, required_skills: [{ skill_id: billing.id, min_proficiency: 2 }] }]);
  assert.equal(q.routing_rules.condition, "languages HAS 'fr'");
  // Editing shows what was saved.
  await row.getByRole("button", { name: "Edit queue Retentions" }).click();
  assert.equal(await d.getByLabel("billing minimum", { exact: true }).inputValue(), "5");
  assert.equal(await d.getByLabel("Eligibility condition").inputValue(), "languages HAS 'fr'");
  await shot(page, "admin-queue-editor");
  await d.getByRole("button", { name: "Cancel" }).click();
});

test("an admin adds and retires a reason code; agents' desks then offer it", async () => {
  await open("codes");
  const add = page.getByRole("form", { name: "Add reason code" });
  await add.getByLabel("Code").fill("Fire Drill");
  await add.getByLabel("Label").fill("Fire drill");
  await add.getByRole("button", { name: "Add reason code" }).click();
  await textIs(errorBeside(add, "Code"), /lowercase letters/);
  await page.getByRole("form", { name: "Add reason code" }).getByLabel("Code").fill("fire_drill");
  await page.getByRole("form", { name: "Add reason code" }).getByRole("button", { name: "Add reason code" }).click();
  await page.locator('tr[data-code="fire_drill"]').waitFor({ timeout: 5000 });
  const codes = (await admin("GET", "/api/v1/codes?kind=reason")).items.map((c) => c.code);
  assert.ok(codes.includes("fire_drill"), codes.join());
  await page.getByRole("button", { name: "Retire lunch" }).click();
  await textIs(page.locator('tr[data-code="lunch"] td').nth(1), "retired");
  assert.ok(!(await admin("GET", "/api/v1/codes?kind=reason")).items.some((c) => c.code === "lunch"));
  await shot(page, "admin-codes");

  const agent = await loggedIn(browser, server.base, "agent2@demo.example");
  await agent.goto(`${server.base}/desk`);
  const reasons = agent.locator("#away-reason option");
  await textIs(reasons.last(), /./);
  const labels = await reasons.allTextContents();
  assert.ok(labels.includes("Fire drill") && !labels.includes("Lunch"), labels.join());
  await agent.context().close();
});

test("an admin keeps business hours with a holiday; a bad time is refused beside the day", async () => {
  await open("hours");
  await page.getByRole("button", { name: "Add business hours" }).click();
  const d = editor();
  await d.getByLabel("Name", { exact: true }).fill("Weekdays");
  for (const day of ["monday", "tuesday", "wednesday", "thursday", "friday"]) await d.getByLabel(day, { exact: true }).fill("08:00–17:00");
  await d.getByLabel("monday", { exact: true }).fill("25:00-17:00");
  await d.getByRole("button", { name: "Add holiday" }).click();
  await d.getByLabel("Holiday date").fill("2026-12-25");
  await d.getByLabel("Holiday name").fill("Christmas Day");
  await d.getByRole("button", { name: "Add hours" }).click();
  await textIs(errorBeside(d, "monday"), "hours.monday[0].open: must be a time HH:MM from 00:00 to 23:59");
  await d.getByLabel("monday", { exact: true }).fill("08:00-12:00, 13:00-17:00");
  await d.getByRole("button", { name: "Add hours" }).click();
  await page.locator("tr", { hasText: "Weekdays" }).waitFor({ timeout: 5000 });
  const h = (await admin("GET", "/api/v1/business-hours")).items.find((x) => x.name === "Weekdays");
  assert.deepEqual(h.hours.monday, [{ open: "08:00", close: "12:00" }, { open: "13:00", close: "17:00" }]);
  assert.deepEqual(h.hours.saturday ?? [], []);
  assert.equal(h.hours.holidays[0].date, "2026-12-25");
  assert.equal(h.hours.holidays[0].name, "Christmas Day");
  await shot(page, "admin-hours");
});

test("an admin sets up voice: a number to a queue, a trunk, an agent's phone; bad values are refused beside the field", async () => {
  await open("voice");
  await page.getByRole("button", { name: "Add number" }).click();
  let d = editor();
  await d.getByLabel("Number dialled").fill("02 9000 0000");
  await d.getByLabel("Queue").selectOption({ label: "Sales" });
  await d.getByRole("button", { name: "Add number" }).click();
  await textIs(errorBeside(d, "Number dialled"), "must be in E.164 form, like +61291234567");
  await d.getByLabel("Number dialled").fill("+61 2 9000 0000");
  await d.getByRole("button", { name: "Add number" }).click();
  await page.locator('tr[data-number="+61290000000"]').waitFor({ timeout: 5000 });
  await textIs(page.locator('tr[data-number="+61290000000"] td').first(), "Sales");

  await page.getByRole("button", { name: "Add trunk" }).click();
  d = editor();
  await d.getByLabel("Trunk").fill("carrier");
  await d.getByLabel("Addresses calls may come from").fill("203.0.113.0/24\nnot-an-address");
  await d.getByRole("button", { name: "Add trunk" }).click();
  await textIs(d.locator(".field-error"), "sources[1]: must be an address or a CIDR block, like 203.0.113.0/24");
  await d.getByLabel("Addresses calls may come from").fill("203.0.113.0/24\n198.51.100.7");
  await d.getByRole("button", { name: "Add trunk" }).click();
  await textIs(page.locator('tr[data-trunk="carrier"] td').first(), "203.0.113.0/24, 198.51.100.7/32");
  // Outbound calls through it: the caller ID is needed; the password is
  // kept but never shown.
  await page.getByRole("button", { name: "Edit trunk carrier" }).click();
  d = editor();
  await d.getByLabel("Send calls to").fill("sip.carrier.example:5060");
  await d.getByLabel("Username").fill("acme");
  await d.getByRole("button", { name: "Save trunk" }).click();
  await textIs(errorBeside(d, "Caller ID"), "is needed for a trunk that takes outbound calls");
  await textIs(errorBeside(d, "Password"), "is needed with a username");
  await d.getByLabel("Caller ID").fill("+61290000000");
  await d.getByLabel("Password").fill("carrier-secret");
  await d.getByRole("button", { name: "Save trunk" }).click();
  await textIs(page.locator('tr[data-trunk="carrier"] td').nth(1), "sip.carrier.example:5060 as +61290000000 (signs in as acme)");
  const trunk = (await admin("GET", "/api/v1/voice/trunks")).items.find((t) => t.name === "carrier");
  assert.equal(trunk.has_password, true);
  assert.ok(!JSON.stringify(trunk).includes("carrier-secret"));

  // A greeting, uploaded; a menu on the number: key 2 for Support.
  await page.getByRole("button", { name: "Upload prompt" }).click();
  d = editor();
  await d.getByLabel("Prompt name").fill("greeting");
  await d.getByLabel("Recording").setInputFiles({ name: "loud.wav", mimeType: "audio/wav", buffer: wav(44100, 0.1) });
  await d.getByRole("button", { name: "Upload prompt" }).click();
  await textIs(errorBeside(d, "Recording"), /^must be 8 kHz mono 16-bit PCM/);
  await d.getByLabel("Recording").setInputFiles({ name: "greeting.wav", mimeType: "audio/wav", buffer: wav(8000, 1.5) });
  await d.getByRole("button", { name: "Upload prompt" }).click();
  await textIs(page.locator('tr[data-prompt="greeting"] td').first(), "1.5 s");
  await page.getByRole("button", { name: "Edit +61290000000" }).click();
  d = editor();
  await d.getByText("Greet callers with a menu").click();
  await d.getByLabel("Greeting").selectOption("greeting");
  await d.getByLabel("Keys").fill("2 = Support\n9 = Nowhere");
  await d.getByRole("button", { name: "Save number" }).click();
  await textIs(d.locator(".field-error"), "menu.options.9: must be a queue id");
  await d.getByLabel("Keys").fill("2 = Support");
  await d.getByRole("button", { name: "Save number" }).click();
  await textIs(page.locator('tr[data-number="+61290000000"] td').nth(1), "greeting; 2 → Support");
  const n = (await admin("GET", "/api/v1/voice/numbers")).items[0];
  assert.equal(n.menu.prompt, "greeting");
  assert.equal(n.menu.timeout_seconds, 5);

  await page.getByRole("button", { name: "Phone for Emma Wilson" }).click();
  d = editor();
  await d.getByLabel("SIP username").fill("Emma W");
  await d.getByLabel("SIP password").fill("short");
  await d.getByRole("button", { name: "Save phone" }).click();
  await textIs(errorBeside(d, "SIP username"), "must be 3 to 64 of a-z, 0-9, '.', '_' and '-'");
  await textIs(errorBeside(d, "SIP password"), "must be 8 to 256 characters");
  await d.getByLabel("SIP username").fill("emma");
  await d.getByLabel("SIP password").fill("a-long-phone-secret");
  await d.getByRole("button", { name: "Save phone" }).click();
  const row = page.locator("tr", { hasText: "Emma Wilson" });
  await textIs(row.locator("td").first(), "emma");
  await textIs(row.locator("td").nth(1), "not registered");
  const phones = (await admin("GET", "/api/v1/voice/phones")).items;
  assert.equal(phones.find((p) => p.username === "emma").registered, false);
  await shot(page, "admin-voice");
});

test("an admin adds an IMAP mailbox; a bad server name is refused beside the field, and a failed poll is shown", async () => {
  await open("email");
  await page.getByRole("button", { name: "Add mailbox" }).click();
  const d = editor();
  await d.getByLabel("Taken as mail to").selectOption("support@demo.example");
  await d.getByLabel("IMAP server").fill("imap server");
  await d.getByLabel("Security").selectOption("none");
  await d.getByLabel("Port").fill("1");
  await d.getByLabel("Username").fill("helpdesk");
  await d.getByLabel("Password").fill("mailbox-secret-9");
  await d.getByRole("button", { name: "Add mailbox" }).click();
  await textIs(errorBeside(d, "IMAP server"), "must be a host name or an IP address");
  assert.deepEqual((await admin("GET", "/api/v1/email/mailboxes")).items, []);
  await d.getByLabel("IMAP server").fill("127.0.0.1");
  await d.getByRole("button", { name: "Add mailbox" }).click();
  const row = page.locator("tr[data-mailbox]", { hasText: "helpdesk at 127.0.0.1:1" });
  await row.waitFor({ timeout: 5000 });
  // Nothing listens on port 1: the poll fails, and the page says why.
  await page.getByRole("button", { name: "Poll helpdesk at 127.0.0.1 now" }).click();
  for (let i = 0; i < 50 && !/connecting to 127\.0\.0\.1:1/.test(await row.locator("td").nth(1).textContent()); i++) {
    await page.waitForTimeout(200);
    await open("email");
  }
  await textIs(row.locator("td").nth(1), /connecting to 127\.0\.0\.1:1/);
  assert.equal((await page.content()).includes("mailbox-secret-9"), false, "the password is never shown");
  const [m] = (await admin("GET", "/api/v1/email/mailboxes")).items;
  assert.equal(m.username, "helpdesk");
  assert.equal(m.has_password, true);
  await shot(page, "admin-mailboxes");
});

test("an admin creates an API token, sees its secret once, and revokes it", async () => {
  await open("tokens");
  await page.getByLabel("Name", { exact: true }).fill("CRM sync");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator("pre.token-secret").textContent()).trim();
  const me = (s) => fetch(`${server.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${s}` } }).then((r) => r.status);
  assert.equal(await me(secret), 200);
  await shot(page, "admin-tokens");
  await page.getByRole("button", { name: "Revoke CRM sync" }).click();
  await textIs(page.locator("tr", { hasText: "CRM sync" }).locator("td").nth(2), /^revoked/);
  assert.equal(await me(secret), 401);
});

test("the audit log shows who changed what, newest first, filtered by action", async () => {
  await open("audit");
  const first = page.locator("#area tbody tr").first();
  await textIs(first.locator("td").nth(2), "api_token.revoked");
  await textIs(first.locator("td").nth(1), "Ada Admin");
  await page.getByLabel("Action").fill("code.created");
  await page.getByRole("button", { name: "Filter" }).click();
  await textIs(page.locator("#area tbody tr").first().locator("td").nth(2), "code.created");
  await textIs(page.locator("#area tbody tr").first().locator("td.details"), /fire_drill/);
  await shot(page, "admin-audit");
});
