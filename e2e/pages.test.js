// Switchboard's pages in a real browser: the agent desktop, the wallboard,
// what an agent may not open, escaping, and the live stream reconnecting.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, apiAs, launchBrowser, loggedIn, artifacts, shot, textIs, countIs, registerPhone } from "./harness.js";

let server, browser, admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.base, "admin@demo.example");
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an agent is rung, accepts, writes a note and wraps up with a disposition", async () => {
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E Desk", wrap_up_seconds: 60 });
  const customer = await admin("POST", "/api/v1/customers", {
    name: "<script>window.pwned = 1</script> Ann Smith", email: "ann.smith@example.com",
  });
  const page = await loggedIn(browser, server.base, "agent1@demo.example");
  await page.goto(`${server.base}/desk`);
  await textIs(page.locator("#live"), "Live");
  await page.getByRole("button", { name: "Available", exact: true }).click();
  await textIs(page.locator("#my-state"), /^(available|busy)/);

  const contact = await admin("POST", "/api/v1/contacts", {
    channel: "chat", queue_id: queue.id, customer_id: customer.id, subject: "Where is my order?",
  });
  const ringing = page.locator(`[data-for="${contact.id}"]`);
  await ringing.waitFor({ timeout: 5000 });
  // The customer's name is shown as text, never run.
  await textIs(ringing.locator("p").first(), "<script>window.pwned = 1</script> Ann Smith");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.match(await ringing.locator(".countdown").textContent(), /^\d+:\d\d$/);
  await shot(page, "desk-ringing");
  await ringing.getByRole("button", { name: "Accept" }).click();

  const card = page.locator(`[data-contact="${contact.id}"]`);
  await card.waitFor({ timeout: 5000 });
  await textIs(card.locator(".customer-name"), "<script>window.pwned = 1</script> Ann Smith");
  await card.getByLabel("Notes").fill("Parcel is delayed; promised an update by Friday.");

  // Book a callback for two hours from now (the centre's local time).
  await card.getByText("Book a callback").click();
  await card.getByRole("button", { name: "Book callback" }).click();
  await textIs(card.locator(".callback-form .field-error"), /^must be a date and time/);
  const local = new Intl.DateTimeFormat("sv-SE", { timeZone: "Australia/Sydney", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(Date.now() + 2 * 3600_000)).replace(" ", "T");
  await card.getByLabel("Call back at (local time)").fill(local);
  await card.getByLabel("Callback note").fill("Confirm the parcel arrived");
  await card.getByRole("button", { name: "Book callback" }).click();
  const booked = page.locator("#callbacks li");
  await textIs(booked.locator(".muted"), "Confirm the parcel arrived");
  const [cb] = (await admin("GET", "/api/v1/callbacks?state=pending")).items.filter((c) => c.origin_contact_id === contact.id);
  assert.ok(Math.abs(cb.due_at - (Date.now() + 2 * 3600_000)) < 90_000, `due ${new Date(cb.due_at).toISOString()}`);
  assert.equal(cb.agent_id, await page.locator("#desk").getAttribute("data-agent"));
  await booked.getByRole("button", { name: /^Cancel callback/ }).click();
  await textIs(page.locator("#callbacks p"), "None booked.");
  assert.equal((await admin("GET", "/api/v1/callbacks?state=cancelled")).items.filter((c) => c.id === cb.id).length, 1);
  await card.getByRole("button", { name: "Complete" }).click();
  await card.getByLabel("Disposition").waitFor({ timeout: 5000 });
  // The server checks the form; its answer is shown beside the field.
  await card.getByRole("button", { name: "Finish wrap-up" }).click();
  await textIs(card.locator(".field-error"), /^choose one of the centre's disposition codes: /);
  await card.getByLabel("Disposition").selectOption("resolved");
  assert.match(await card.locator(".wrap-timer .countdown").textContent(), /^\d+:\d\d$/);
  await shot(page, "desk-wrap-up");
  await card.getByRole("button", { name: "Finish wrap-up" }).click();
  await card.waitFor({ state: "detached", timeout: 5000 });

  const stored = await admin("GET", `/api/v1/contacts/${contact.id}`);
  assert.equal(stored.state, "ended");
  assert.equal(stored.disposition, "resolved");
  assert.equal(stored.notes, "Parcel is delayed; promised an update by Friday.");
  assert.ok(stored.timeline.answered_at, "answered");
  // My day so far counts it.
  await textIs(page.locator("#today-handled"), "1");
  // Away needs one of the centre's reasons: the server says so beside the list.
  await page.getByRole("button", { name: "Away", exact: true }).click();
  await textIs(page.locator("#state .field-error"), /./);
  await page.getByLabel("Away because").selectOption("lunch");
  await page.getByRole("button", { name: "Away", exact: true }).click();
  await textIs(page.locator("#my-state"), "away (Lunch)");
  await page.getByRole("button", { name: "Offline" }).click();
  await textIs(page.locator("#my-state"), "offline");
  await page.context().close();
});

test("the wallboard shows waiting go 1 → 0 and answered go up without a reload", async () => {
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E Wall", wrap_up_seconds: 0 });
  const user = await admin("POST", "/api/v1/users", {
    email: "wall.agent@demo.example", display_name: "Wally Agent", roles: ["agent"],
  });
  const agent = await admin("POST", "/api/v1/agents", { user_id: user.id });

  const page = await loggedIn(browser, server.base, "lead@demo.example", { width: 1920, height: 1080 });
  await page.goto(`${server.base}/wallboard`);
  await textIs(page.locator("#live"), "Live");
  const tile = page.locator(`[data-queue="${queue.id}"]`);
  await textIs(tile.locator(".waiting"), "0");
  await textIs(tile.locator(".answered"), "0");
  let reloaded = false;
  page.on("load", () => { reloaded = true; });

  const contact = await admin("POST", "/api/v1/contacts", { channel: "chat", queue_id: queue.id });
  await textIs(tile.locator(".waiting"), "1");
  await shot(page, "wallboard");

  const st = await admin("PUT", `/api/v1/agents/${agent.id}/state`, { state: "available" });
  const r = st.reservations.find((x) => x.contact_id === contact.id);
  assert.ok(r, "the new agent is offered the contact");
  await admin("POST", `/api/v1/reservations/${r.id}/accept`, {});
  await textIs(tile.locator(".waiting"), "0");
  await textIs(tile.locator(".answered"), "1");
  assert.equal(reloaded, false, "no reload");

  // Wall mode hides the navigation and enlarges the figures.
  await page.getByRole("button", { name: "Wall mode (full screen)" }).click();
  assert.equal(await page.evaluate(() => document.body.classList.contains("wall")), true);
  await shot(page, "wallboard-wall-mode");
  await page.context().close();
});

test("an agent cannot open the wallboard or the admin pages", async () => {
  const page = await loggedIn(browser, server.base, "agent2@demo.example");
  for (const path of ["/admin", "/wallboard"]) {
    const res = await page.goto(`${server.base}${path}`);
    assert.equal(res.status(), 403, path);
    await textIs(page.getByRole("heading", { level: 1 }), "Not allowed");
  }
  await shot(page, "forbidden");
  // The navigation offers only what the agent may use.
  assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "My desk" }).count(), 1);
  await page.context().close();

  const adminPage = await loggedIn(browser, server.base, "admin@demo.example");
  const res = await adminPage.goto(`${server.base}/admin`);
  assert.equal(res.status(), 200);
  await adminPage.getByRole("cell", { name: "agent1@demo.example" }).waitFor();
  await shot(adminPage, "admin");
  await adminPage.context().close();
});

test("a lost live connection says so and comes back by itself", async () => {
  const page = await loggedIn(browser, server.base, "agent3@demo.example");
  await page.goto(`${server.base}/desk`);
  await textIs(page.locator("#live"), "Live");
  const restarting = server.restart(3000);
  await textIs(page.locator("#live"), "Connection lost — reconnecting…", 10000);
  await shot(page, "desk-reconnecting");
  await restarting;
  await textIs(page.locator("#live"), "Live", 20000);
  await page.context().close();
});

test("a team leader's interval report shows the day's contacts and downloads as CSV", async () => {
  const page = await loggedIn(browser, server.base, "lead@demo.example");
  await page.goto(`${server.base}/reports`);
  const row = page.locator("#report tbody tr", { hasText: "E2E Desk" });
  await row.first().waitFor({ timeout: 5000 });
  await page.locator("#chart svg").waitFor();
  await shot(page, "reports");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByText("Download CSV").click(),
  ]);
  const { readFile } = await import("node:fs/promises");
  const path = join(artifacts, "intervals.csv");
  await download.saveAs(path);
  const lines = (await readFile(path, "utf8")).trim().split("\r\n");
  assert.equal(lines[0], "interval_start,queue,offered,answered,answered_within_threshold,abandoned,service_level_pct,asa_seconds,aht_seconds,occupancy_pct");
  const rows = lines.slice(1).map((l) => l.split(","));
  const desk = rows.filter((r) => r[1] === "E2E Desk");
  const wall = rows.filter((r) => r[1] === "E2E Wall");
  const sum = (rs, i) => rs.reduce((n, r) => n + Number(r[i]), 0);
  assert.equal(sum(desk, 2), 1, "one contact offered to E2E Desk");
  assert.equal(sum(desk, 3), 1, "and answered");
  assert.equal(sum(wall, 3), 1, "one answered on E2E Wall");
  assert.match(desk[0][0], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  // Agents were busy in that interval: the centre's occupancy is above 0.
  assert.ok(Number(desk[0][9]) > 0, `occupancy ${desk[0][9]}`);

  // The agent report: the agent who answered on E2E Desk handled one.
  const [agentDownload] = await Promise.all([
    page.waitForEvent("download"),
    page.getByText("Download agent CSV").click(),
  ]);
  const agentPath = join(artifacts, "agents.csv");
  await agentDownload.saveAs(agentPath);
  const agentLines = (await readFile(agentPath, "utf8")).trim().split("\r\n");
  assert.equal(agentLines[0], "agent,handled,aht_seconds,available_seconds,busy_seconds,wrap_up_seconds,away_seconds,occupancy_pct");
  const handled = agentLines.slice(1).map((l) => Number(l.split(",")[1]));
  assert.ok(handled.reduce((a, b) => a + b, 0) >= 2, agentLines.join("\n"));
  assert.ok(await page.locator("#agents tbody tr").count() >= 6);

  // Bad input is answered beside the field.
  await page.locator("#to").fill("2020-01-01");
  await page.getByRole("button", { name: "Show" }).click();
  await textIs(page.locator(".field-error"), "must not be before from");
  await page.context().close();

  // Agents do not see reports.
  const agent = await loggedIn(browser, server.base, "agent4@demo.example");
  const res = await agent.goto(`${server.base}/reports`);
  assert.equal(res.status(), 403);
  await agent.context().close();
});

test("a team leader moves an agent to another queue from the floor view", async () => {
  const sales = (await admin("GET", "/api/v1/queues?limit=100")).items.find((q) => q.name === "Sales");
  const salesSkill = (await admin("GET", "/api/v1/skills?limit=100")).items.find((s) => s.name === "sales");
  const wally = (await admin("GET", "/api/v1/agents?limit=100")).items.find((a) => a.display_name === "Wally Agent");
  assert.ok(sales && salesSkill && wally);
  assert.equal(wally.skills.length, 0, "no skills yet: only skill-less queues");

  const page = await loggedIn(browser, server.base, "lead@demo.example");
  await page.goto(`${server.base}/floor`);
  const row = page.locator(`tr[data-agent="${wally.id}"]`);
  await row.waitFor();
  // Wally answered one contact on the wallboard test today.
  await textIs(row.locator(".handled"), "1");
  await textIs(page.locator("#intraday"), /^This half hour: \d+ agents needed, \d+\.\d scheduled, \d+\.\d logged in on average; \d+ contacts expected\.$/);
  await shot(page, "floor");
  await row.getByRole("button", { name: "Edit skills of Wally Agent" }).click();
  await page.getByLabel("sales", { exact: true }).fill("11");
  await page.getByRole("button", { name: "Save skills" }).click();
  // Out of range: refused by the server, shown beside the field.
  await page.locator("dialog .field-error").first().waitFor();
  await page.getByLabel("sales", { exact: true }).fill("7");
  await page.getByRole("button", { name: "Save skills" }).click();
  await textIs(row.locator(".skills"), "sales 7");

  // Now he serves Sales: set him available from the floor and a Sales chat rings for him.
  await row.getByLabel("State for Wally Agent").selectOption("available");
  await row.getByRole("button", { name: "Set" }).click();
  const contact = await admin("POST", "/api/v1/contacts", { channel: "chat", queue_id: sales.id });
  const status = await admin("GET", `/api/v1/agents/${wally.id}/status`);
  assert.ok(status.reservations.some((r) => r.contact_id === contact.id), JSON.stringify(status));
  await textIs(row.locator("td").nth(2), "1");
  // He still holds the wallboard test's chat; answered, this one shows too.
  const reservation = status.reservations.find((r) => r.contact_id === contact.id);
  await admin("POST", `/api/v1/reservations/${reservation.id}/accept`, {});
  await textIs(row.locator(".in-hand .holding"), /^Chat — E2E Wall, Chat — Sales$/);
  // Away with one of the centre's reasons.
  await row.getByLabel("State for Wally Agent").selectOption({ label: "away — Coaching" });
  await row.getByRole("button", { name: "Set" }).click();
  await textIs(page.locator("#notice"), "Wally Agent is now away (coaching).");
  // Away, he is offered nothing new, though he keeps what he holds.
  const next = await admin("POST", "/api/v1/contacts", { channel: "chat", queue_id: sales.id });
  const after = await admin("GET", `/api/v1/agents/${wally.id}/status`);
  assert.ok(!after.reservations.some((r) => r.contact_id === next.id), JSON.stringify(after));
  assert.equal(after.contacts.length, 2);
  await page.context().close();
});

test("contact search shows one contact's whole timeline in order", async () => {
  const desk = (await admin("GET", "/api/v1/queues?limit=100")).items.find((q) => q.name === "E2E Desk");
  const page = await loggedIn(browser, server.base, "lead@demo.example");
  await page.goto(`${server.base}/contacts`);
  await page.getByLabel("Queue").selectOption(desk.id);
  await page.getByRole("button", { name: "Search" }).click();
  const rows = page.locator("#results tbody tr");
  // The first search (all queues) may still be on screen: wait for the filtered one.
  await countIs(rows, 1);
  await textIs(rows.first().locator("td").nth(2), "E2E Desk");
  await rows.first().getByRole("button", { name: "Timeline" }).click();
  await page.locator("#events li").first().waitFor();
  const kinds = await page.locator("#events li").evaluateAll((ls) => ls.map((l) => l.dataset.kind));
  const order = ["contact.created", "reservation.created", "contact.answered", "contact.wrap_up_started", "contact.ended"];
  let at = -1;
  for (const k of order) {
    const i = kinds.indexOf(k, at + 1);
    assert.ok(i > at, `${k} after the step before, in ${kinds.join(" ")}`);
    at = i;
  }
  await textIs(page.locator("#timeline strong").first(), "Notes:");
  await shot(page, "contacts-timeline");
  await page.context().close();
});

test("an agent raises a hand on a contact and a team leader's answer appears live", async () => {
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E Help", wrap_up_seconds: 0 });
  const wally = (await admin("GET", "/api/v1/agents?limit=100")).items.find((a) => a.display_name === "Wally Agent");
  await admin("PUT", `/api/v1/agents/${wally.id}/state`, { state: "offline" });

  const desk = await loggedIn(browser, server.base, "agent5@demo.example");
  await desk.goto(`${server.base}/desk`);
  await textIs(desk.locator("#live"), "Live");
  await desk.getByRole("button", { name: "Available", exact: true }).click();
  const contact = await admin("POST", "/api/v1/contacts", { channel: "chat", queue_id: queue.id });
  const ringing = desk.locator(`[data-for="${contact.id}"]`);
  await ringing.waitFor({ timeout: 5000 });
  await ringing.getByRole("button", { name: "Accept" }).click();
  const card = desk.locator(`[data-contact="${contact.id}"]`);
  await card.waitFor({ timeout: 5000 });
  await card.getByLabel("Question for a team leader").fill("Can I waive the late fee?");
  await card.getByRole("button", { name: "Raise hand" }).click();
  await textIs(desk.locator("#help li .muted").first(), "Waiting for a team leader…");

  const floor = await loggedIn(browser, server.base, "lead@demo.example");
  await floor.goto(`${server.base}/floor`);
  const hand = floor.locator("#hands li", { hasText: "Can I waive the late fee?" });
  await hand.waitFor({ timeout: 5000 });
  await textIs(hand.locator("strong"), "Emma Wilson");
  await shot(floor, "floor-raised-hand");
  await hand.getByLabel("Answer to Emma Wilson").fill("Yes, once this year.");
  await hand.getByRole("button", { name: "Answer" }).click();
  await textIs(floor.locator("#hands h2"), "Raised hands (0)");

  await textIs(desk.locator("#help li .answer").first(), "A: Yes, once this year.");
  await shot(desk, "desk-answered");

  // Transfer it to a named colleague in another queue: it waits for him.
  const deskQueue = (await admin("GET", "/api/v1/queues?limit=100")).items.find((q) => q.name === "E2E Desk");
  const ben = (await admin("GET", "/api/v1/agents?limit=100")).items.find((a) => a.display_name === "Ben Nguyen");
  await card.getByLabel("Transfer to queue").selectOption(deskQueue.id);
  await card.getByLabel("Transfer to agent").selectOption(ben.id);
  await card.getByRole("button", { name: "Transfer" }).click();
  await card.waitFor({ state: "detached", timeout: 5000 });
  const moved = await admin("GET", `/api/v1/contacts/${contact.id}`);
  const events = await admin("GET", `/api/v1/contacts/${contact.id}/events`);
  const names = new Map((await admin("GET", "/api/v1/queues?limit=100")).items.map((q) => [q.id, q.name]));
  assert.equal(moved.queue_id, deskQueue.id, `${names.get(moved.queue_id)}: ${JSON.stringify(events.items.map((e) => [e.kind, e.payload]))}`);
  assert.equal(moved.requested_agent_id, ben.id);
  assert.equal(moved.state, "queued", "Ben is offline: it waits for him");
  await desk.getByRole("button", { name: "Offline" }).click();
  await desk.context().close();
  await floor.context().close();
});

test("a planner forecasts a day from uploaded history and sees the agents it needs", async () => {
  // Three weeks of 30-minute history with a morning peak, from Monday 2026-11-02.
  const lines = ["interval_start,contacts,aht_seconds"];
  for (let day = 0; day < 21; day++) {
    const date = new Date(Date.UTC(2026, 10, 2 + day)).toISOString().slice(0, 10);
    const weekday = [1, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3][day % 7];
    for (let slot = 0; slot < 48; slot++) {
      const h = slot / 2;
      const m = (Math.exp(-(((h - 10.5) / 2.5) ** 2)) * 80 + 1) * weekday;
      lines.push(`${date}T${String(Math.floor(slot / 2)).padStart(2, "0")}:${slot % 2 ? "30" : "00"},${Math.round(m)},240`);
    }
  }
  const { writeFile } = await import("node:fs/promises");
  const history = join(artifacts, "history.csv");
  await writeFile(history, lines.join("\n") + "\n");

  const page = await loggedIn(browser, server.base, "planner@demo.example");
  await page.goto(`${server.base}/planning`);
  await page.getByLabel("First day").fill("2026-11-23");
  await page.getByLabel("Days", { exact: true }).fill("0");
  await page.getByText("A CSV file").click();
  await page.getByLabel("History CSV file").setInputFiles(history);
  await page.getByRole("button", { name: "Plan" }).click();
  // Refused by the server, beside the field.
  await textIs(page.locator("#days + .field-error"), "must be from 1 to 31");
  await page.getByLabel("Days", { exact: true }).fill("1");
  await page.getByRole("button", { name: "Plan" }).click();
  await countIs(page.locator("#plan tbody tr"), 48);
  await textIs(page.locator("#accuracy"), /WAPE/);
  await page.locator("#plan-chart svg").waitFor();
  const positions = await page.locator("#plan tbody td.positions").allTextContents();
  assert.ok(Number(positions[21]) > Number(positions[6]) + 5, `10:30 ${positions[21]} vs 03:00 ${positions[6]}`);
  // Shifts that cover the positions: a bad template is refused beside the field.
  const templates = page.locator("#shift-templates");
  const good = await templates.inputValue();
  await templates.fill("[{\"name\": \"x\", \"minutes\": 480, \"starts\": [\"25:00\"]}]");
  await page.getByRole("button", { name: "Schedule shifts" }).click();
  await textIs(page.locator("#shifts-form .field-error"), "shifts[0].starts[0]: must be a time HH:MM");
  await templates.fill(good);
  await page.getByRole("button", { name: "Schedule shifts" }).click();
  await textIs(page.locator("#schedule-summary"), /^\d+ shifts started \(no schedule can start fewer than \d+\)/);
  assert.ok(await page.locator("#shifts tbody tr").count() > 0);
  await shot(page, "planning");

  // Today so far, from Switchboard's own contacts.
  await page.getByRole("button", { name: "Show today" }).click();
  await textIs(page.locator("#today-summary"), /^As of \d\d:\d\d: contacts so far are/, 30_000);
  await countIs(page.locator("#today tbody tr"), 48);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const { readFile } = await import("node:fs/promises");
  const path = join(artifacts, "plan.csv");
  await download.saveAs(path);
  const csv = (await readFile(path, "utf8")).trim().split("\r\n");
  assert.equal(csv[0], "interval_start,contacts,aht_seconds,agents,positions,service_level,asa_seconds,occupancy");
  assert.equal(csv.length, 49);
  assert.match(csv[1], /^2026-11-23T00:00,/);
  await page.context().close();

  // Agents do not plan.
  const agent = await loggedIn(browser, server.base, "agent5@demo.example");
  assert.equal((await agent.goto(`${server.base}/planning`)).status(), 403);
  await agent.context().close();
});

test("a planner publishes a roster; the agent sees the shift and subscribes; the floor flags who is out of adherence", async () => {
  // A shift for every agent, from an hour ago for four hours (Sydney time).
  const agents = (await admin("GET", "/api/v1/agents?limit=500")).items;
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: "Australia/Sydney", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(Date.now() - 3_600_000)).map((p) => [p.type, p.value]));
  const firstDay = `${parts.year}-${parts.month}-${parts.day}`;
  const start = `${parts.hour}:${parts.minute}`;
  const built = await admin("POST", "/api/v1/wfm/rosters", {
    name: "On now", first_day: firstDay, days: 2,
    shifts: [{ day: 0, shift: "Floor", start, minutes: 240, agents: agents.length }],
  });
  assert.equal(built.explanation.unfilled.length, 0);

  const page = await loggedIn(browser, server.base, "planner@demo.example");
  await page.goto(`${server.base}/planning`);
  // A contract with overlapping hours is refused beside the day.
  await page.getByRole("button", { name: "Edit contract of Farid Haddad" }).click();
  await page.getByLabel("monday").fill("08:00-12:00, 11:00-15:00");
  await page.getByRole("button", { name: "Save contract" }).click();
  await textIs(page.locator("#contract-form .field-error"), "spans overlap");
  await page.getByLabel("monday").fill("08:00-18:00");
  await page.getByLabel("At most (hours a week)").fill("30");
  await page.getByRole("button", { name: "Save contract" }).click();
  const farid = page.locator("#contracts tr", { hasText: "Farid Haddad" });
  await textIs(farid.locator("td").first(), "0–30");
  await textIs(farid.locator("td.available"), /^mon 08:00-18:00; tue 00:00-24:00/);
  // The draft on a timeline, a row per agent, then published.
  await page.getByRole("button", { name: "Open On now" }).click();
  await countIs(page.locator("#timeline tbody tr"), agents.length);
  await countIs(page.locator("#timeline .bar"), agents.length);
  await textIs(page.locator("#roster-summary"), `${agents.length} of ${agents.length} shifts have an agent, from ${firstDay} for 2 days.`);
  await page.getByRole("button", { name: "Publish" }).click();
  await textIs(page.locator("#roster-status"), /^Published: agents now see these shifts/);
  await textIs(page.locator("#rosters tr", { hasText: "On now" }).locator(".pill"), "published");
  // What if: the roster on the simulator against the forecast.
  await page.getByRole("button", { name: "Predict service level" }).click();
  await textIs(page.locator("#predict-summary"), /^Predicted over 10 runs: service level /, 60_000);
  await page.locator("#predict-chart svg").waitFor();
  assert.ok(await page.locator("#predict-queues tbody tr").count() >= 1);
  await shot(page, "roster");
  await page.context().close();

  // The agent sees the shift on the desk and subscribes to the feed.
  const desk = await loggedIn(browser, server.base, "agent6@demo.example");
  await desk.goto(`${server.base}/desk`);
  await countIs(desk.locator("#shifts li"), 1);
  await textIs(desk.locator("#shifts li strong"), new RegExp(`^${firstDay} ${start}–`));
  await desk.getByRole("button", { name: "Subscribe in my calendar" }).click();
  const url = await desk.getByLabel("Calendar address").inputValue();
  const feed = await fetch(url);
  assert.match(feed.headers.get("content-type"), /^text\/calendar/);
  const ics = await feed.text();
  assert.match(ics, /BEGIN:VEVENT/);
  assert.match(ics, /SUMMARY:Shift: Floor/);
  await desk.context().close();

  // Farid has not logged in: the floor flags him out of adherence.
  const lead = await loggedIn(browser, server.base, "lead@demo.example");
  await lead.goto(`${server.base}/floor`);
  const row = lead.locator("#floor tr", { hasText: "Farid Haddad" });
  await textIs(row.locator(".adherence .pill.alert"), /^Out since \d\d:\d\d: scheduled work, is offline$/);
  await shot(lead, "floor-adherence");
  await lead.context().close();
});

test("on the floor a team leader may listen in on a call in progress; one not on a phone says so", async () => {
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E Calls", wrap_up_seconds: 0 });
  const farid = (await admin("GET", "/api/v1/agents?limit=100")).items.find((a) => a.display_name === "Farid Haddad");
  await admin("PUT", `/api/v1/agents/${farid.id}/state`, { state: "available" });
  const call = await admin("POST", "/api/v1/contacts", { channel: "voice", queue_id: queue.id });
  const status = await admin("GET", `/api/v1/agents/${farid.id}/status`);
  const reservation = status.reservations.find((r) => r.contact_id === call.id);
  assert.ok(reservation, JSON.stringify(status));
  await admin("POST", `/api/v1/reservations/${reservation.id}/accept`, {});

  const page = await loggedIn(browser, server.base, "lead@demo.example");
  await page.goto(`${server.base}/floor`);
  const row = page.locator(`tr[data-agent="${farid.id}"]`);
  await textIs(row.locator(".in-hand"), /^Call — E2E Calls/);
  await row.getByRole("button", { name: "Listen on Farid Haddad's call" }).click();
  await textIs(page.locator("#notice"), "the contact is not a call in progress with an agent");
  await shot(page, "floor-monitor");
  // Once the call is over, nothing is offered.
  await admin("POST", `/api/v1/contacts/${call.id}/complete`, {});
  await row.getByRole("button", { name: "Listen on Farid Haddad's call" }).waitFor({ state: "detached" });
  await admin("PUT", `/api/v1/agents/${farid.id}/state`, { state: "offline" });
  await page.context().close();
  // Farid's desk says whether calls can reach his phone.
  const desk = await loggedIn(browser, server.base, "agent6@demo.example");
  await desk.goto(`${server.base}/desk`);
  await textIs(desk.locator("#my-phone"), "Phone agent6: not registered — calls cannot reach you.");
  assert.equal(await desk.locator("#dial").count(), 0, "no dialling without a phone");
  // Registered, the phone can call out: a bad number is refused, then a
  // call needs a trunk that takes outbound calls.
  await registerPhone(server, "agent6");
  await desk.reload();
  await textIs(desk.locator("#my-phone"), "Phone agent6: registered — calls ring it.");
  await desk.getByRole("button", { name: "Available", exact: true }).click();
  await textIs(desk.locator("#my-state"), "available");
  await desk.getByLabel("Number to call").fill("call me");
  await desk.getByRole("button", { name: "Call", exact: true }).click();
  await textIs(desk.locator("#notice"), "Could not call: must be 3 to 20 digits, with an optional leading +");
  await desk.getByLabel("Number to call").fill("+61 400 111 222");
  await desk.getByRole("button", { name: "Call", exact: true }).click();
  await textIs(desk.locator("#notice"), "Could not call: no trunk takes outbound calls: an administrator sets one up under Voice");
  await shot(desk, "desk-dial");
  // A call in hand offers a consultation with a colleague; one that is no
  // call on the phone says so.
  const second = await admin("POST", "/api/v1/contacts", { channel: "voice", queue_id: queue.id });
  const st = await admin("GET", `/api/v1/agents/${farid.id}/status`);
  const res = st.reservations.find((r) => r.contact_id === second.id);
  assert.ok(res, JSON.stringify(st));
  await admin("POST", `/api/v1/reservations/${res.id}/accept`, {});
  const card = desk.locator(`[data-contact="${second.id}"]`);
  await card.getByLabel("Consult agent").selectOption({ label: "Emma Wilson" });
  await card.getByRole("button", { name: "Consult", exact: true }).click();
  await textIs(desk.locator("#notice"), /^Could not consult: the other agent is not available$/);
  await admin("POST", `/api/v1/contacts/${second.id}/complete`, {});
  await desk.getByRole("button", { name: "Offline" }).click();
  await desk.context().close();
});
