// The email channel in a real browser: a customer's mail, sent over SMTP by
// Python's smtplib, rings an agent's desk; the agent reads the
// conversation, replies, and sees the customer's answer arrive live. The
// administration page keeps the receiving addresses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, apiAs, launchBrowser, loggedIn, shot, textIs, countIs } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const PEER = join(here, "..", "crates", "switchboard", "tests", "mail", "peer.py");
let server, browser, admin, scratch;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.base, "admin@demo.example");
  scratch = mkdtempSync(join(tmpdir(), "sb-e2e-mail-"));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Sends a whole message with smtplib; what it reports. */
function sendMail(from, to, raw) {
  const file = join(scratch, `${Date.now()}-${Math.random()}.eml`);
  writeFileSync(file, raw);
  const out = execFileSync("python3", [PEER, "send", server.smtp, from, to, file], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

test("a customer's email rings an agent, who reads the conversation and replies; the answer arrives live", async () => {
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E Mail", wrap_up_seconds: 60 });
  await admin("PUT", "/api/v1/email/addresses/help@e2e.example", { queue_id: queue.id, display_name: "E2E Help" });
  const page = await loggedIn(browser, server.base, "agent1@demo.example");
  await page.goto(`${server.base}/desk`);
  await textIs(page.locator("#live"), "Live");
  await page.getByLabel("Added under my email replies").fill("Aroha\nE2E Help");
  await page.getByRole("button", { name: "Save signature" }).click();
  await textIs(page.locator("#notice"), "Signature saved.");
  await page.getByRole("button", { name: "Available", exact: true }).click();
  await textIs(page.locator("#my-state"), /^(available|busy)/);

  const sent = sendMail("ann@customer.example", "help@e2e.example",
    "From: Ann <ann@customer.example>\r\nTo: help@e2e.example\r\nSubject: Parcel missing\r\n" +
    "Message-ID: <e2e-1@customer.example>\r\n\r\n<script>window.pwned = 1</script> Where is my parcel?\r\n");
  assert.deepEqual(sent, { ok: true });
  const contact = (await admin("GET", "/api/v1/contacts?limit=50")).items.find((c) => c.channel === "email" && c.queue_id === queue.id);
  assert.ok(contact, "an email contact in the queue");
  const ringing = page.locator(`[data-for="${contact.id}"]`);
  await ringing.waitFor({ timeout: 5000 });
  await ringing.getByRole("button", { name: "Accept" }).click();

  const card = page.locator(`[data-contact="${contact.id}"]`);
  const thread = card.locator(".thread");
  await textIs(thread.locator(".thread-title"), /^Conversation #[0-9A-Z]{8}$/);
  // The customer's words are shown as text, never run; the acknowledgement
  // waits to be sent (this server has no relay).
  await countIs(thread.locator(".message"), 2);
  await textIs(thread.locator(".message.in .message-text"), "<script>window.pwned = 1</script> Where is my parcel?");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await textIs(thread.locator(".message.out .message-head"), /automatic \(acknowledgement\)/);

  // An empty reply is refused beside the box; a real one joins the thread.
  await card.getByRole("button", { name: "Send reply" }).click();
  await textIs(card.locator(".reply-form .field-error"), /^must be 1 to/);
  await card.getByLabel("Reply (your signature is added)").fill("It left our depot this morning.");
  await card.getByLabel("Attach files (5 MB in all)").setInputFiles({ name: "tracking.txt", mimeType: "text/plain", buffer: Buffer.from("Track: NZ123456") });
  await card.getByRole("button", { name: "Send reply" }).click();
  await countIs(thread.locator(".message"), 3);
  await textIs(thread.locator(".message.out").last().locator(".attachments a"), "tracking.txt");
  const href = await thread.locator(".message.out").last().locator(".attachments a").getAttribute("href");
  assert.equal(await page.evaluate(async (u) => (await fetch(u)).text(), href), "Track: NZ123456");
  await textIs(thread.locator(".message.out .message-text").last(), "It left our depot this morning.\n\n-- \nAroha\nE2E Help");

  // The customer answers, quoting the reference: it appears without a reload.
  const conv = await admin("GET", `/api/v1/contacts/${contact.id}/messages`);
  const answer = sendMail("ann@customer.example", "help@e2e.example",
    `From: ann@customer.example\r\nTo: help@e2e.example\r\nSubject: Re: Parcel missing [#${conv.reference}]\r\n` +
    "Message-ID: <e2e-2@customer.example>\r\n\r\nThank you, it has arrived.\r\n");
  assert.deepEqual(answer, { ok: true });
  await countIs(thread.locator(".message"), 4);
  await textIs(thread.locator(".message.in .message-text").last(), "Thank you, it has arrived.");
  await shot(page, "desk-email");

  await card.getByRole("button", { name: "Complete" }).click();
  await card.getByLabel("Disposition").selectOption("resolved");
  await card.getByRole("button", { name: "Finish wrap-up" }).click();
  await card.waitFor({ state: "detached", timeout: 5000 });
  await page.getByRole("button", { name: "Offline" }).click();
  await page.context().close();
});

test("an admin points an address at a queue; a bad address is refused beside the field", async () => {
  const page = await loggedIn(browser, server.base, "admin@demo.example");
  await page.goto(`${server.base}/admin#email`);
  const rows = page.locator("tr[data-address]");
  await textIs(rows.first().locator("th"), /@/);
  const before = await rows.count();
  await page.getByRole("button", { name: "Add address" }).click();
  await page.getByLabel("Address", { exact: true }).fill("not an address");
  await page.getByLabel("Replies are sent as").fill("Orders");
  await page.getByRole("button", { name: "Add address" }).last().click();
  await textIs(page.locator("dialog .field-error").first(), /^must be one address/);
  await page.getByLabel("Address", { exact: true }).fill("orders@demo.example");
  await page.getByRole("button", { name: "Add address" }).last().click();
  await countIs(rows, before + 1);
  await textIs(page.locator('tr[data-address="orders@demo.example"] td').nth(1), "Orders");
  // Mail to it is now taken; to an address nobody has, refused at RCPT.
  assert.deepEqual(sendMail("bob@customer.example", "orders@demo.example", "From: bob@customer.example\r\nSubject: hi\r\n\r\nhello\r\n"), { ok: true });
  assert.deepEqual(sendMail("bob@customer.example", "nobody@demo.example", "From: bob@customer.example\r\nSubject: hi\r\n\r\nhello\r\n"),
    { ok: false, code: 550, stage: "rcpt" });
  await shot(page, "admin-email");
  await page.context().close();
});

test("the wallboard shows email awaiting a first reply, and turns the tile red when it is overdue", async () => {
  const queue = await admin("POST", "/api/v1/queues", {
    name: "E2E Mail SLA", wrap_up_seconds: 0, routing_rules: { first_response_seconds: 2, resolution_seconds: 86400 },
  });
  await admin("PUT", "/api/v1/email/addresses/sla@e2e.example", { queue_id: queue.id, display_name: "E2E SLA" });
  const page = await loggedIn(browser, server.base, "lead@demo.example", { width: 1920, height: 1080 });
  await page.goto(`${server.base}/wallboard`);
  await textIs(page.locator("#live"), "Live");
  const tile = page.locator(`[data-queue="${queue.id}"]`);
  await textIs(tile.locator(".mail-open"), "0");
  assert.deepEqual(sendMail("cat@customer.example", "sla@e2e.example",
    "From: cat@customer.example\r\nSubject: Invoice\r\nMessage-ID: <e2e-sla@customer.example>\r\n\r\nWrong amount.\r\n"), { ok: true });
  await textIs(tile.locator(".mail-open"), "1");
  await textIs(tile.locator(".mail-awaiting"), "1");
  // Nobody answers within two seconds: overdue, and the tile says so.
  await textIs(tile.locator(".mail-reply-overdue"), "1", 10_000);
  assert.match(await tile.getAttribute("class"), /\bred\b/);
  await shot(page, "wallboard-email");
  await page.context().close();
});

test("a text message, posted by the provider's signed webhook, is answered from the desk; the admin page lists the SMS number", async () => {
  const { createHmac } = await import("node:crypto");
  const queue = await admin("POST", "/api/v1/queues", { name: "E2E SMS", wrap_up_seconds: 0 });
  const hook = `${server.base}/api/v1/sms/twilio`;
  await admin("PUT", "/api/v1/sms/account", {
    provider: "twilio", account_sid: "ACe2e", auth_token: "e2etoken", api_base: "http://127.0.0.1:9", webhook_url: hook,
  });
  await admin("PUT", "/api/v1/sms/numbers/+61480000111", { queue_id: queue.id });
  const page = await loggedIn(browser, server.base, "agent1@demo.example");
  await page.goto(`${server.base}/desk`);
  await textIs(page.locator("#live"), "Live");
  await page.getByRole("button", { name: "Available", exact: true }).click();

  // The provider's request, signed as Twilio signs (HMAC-SHA1 over the URL
  // and the sorted fields).
  const fields = { AccountSid: "ACe2e", MessageSid: "SMe2e1", From: "+61412000111", To: "+61480000111", Body: "<b>Is my order shipped?</b>" };
  const signed = hook + Object.keys(fields).sort().map((k) => k + fields[k]).join("");
  const signature = createHmac("sha1", "e2etoken").update(signed).digest("base64");
  const res = await fetch(hook, {
    method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    body: new URLSearchParams(fields),
  });
  assert.equal(res.status, 200);
  const contact = (await admin("GET", "/api/v1/contacts?limit=100")).items.find((c) => c.channel === "sms" && c.queue_id === queue.id);
  assert.ok(contact, "an sms contact in the queue");
  const ringing = page.locator(`[data-for="${contact.id}"]`);
  await ringing.waitFor({ timeout: 5000 });
  await ringing.getByRole("button", { name: "Accept" }).click();
  const card = page.locator(`[data-contact="${contact.id}"]`);
  const thread = card.locator(".thread");
  await textIs(thread.locator(".message.in .message-text"), "<b>Is my order shipped?</b>");
  await card.getByLabel("Reply (text message, 1,600 characters at most)").fill("Yes, this morning.");
  await card.getByRole("button", { name: "Send reply" }).click();
  await countIs(thread.locator(".message"), 2);
  await textIs(thread.locator(".message.out .message-text"), "Yes, this morning.");
  await shot(page, "desk-sms");
  await card.getByRole("button", { name: "Complete" }).click();
  await card.getByLabel("Disposition").selectOption("resolved");
  await card.getByRole("button", { name: "Finish wrap-up" }).click();
  await card.waitFor({ state: "detached", timeout: 5000 });
  await page.getByRole("button", { name: "Offline" }).click();
  await page.context().close();

  const adminPage = await loggedIn(browser, server.base, "admin@demo.example");
  await adminPage.goto(`${server.base}/admin#email`);
  await textIs(adminPage.locator('tr[data-sms-number="+61480000111"] td'), "E2E SMS");
  await adminPage.context().close();
});
