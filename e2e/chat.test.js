// Web chat in a real browser: a customer's website (served here on its
// own origin) embeds the widget with one script tag; the customer fills in
// the pre-chat form and chats with an agent on the desktop; both see the
// messages in order, and each sees the other typing. The agent holds two
// chats at once; a team leader watches one from the floor. A site the
// widget does not name cannot frame it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startServer, apiAs, launchBrowser, loggedIn, shot, textIs, countIs } from "./harness.js";

let server, browser, admin, site, siteOrigin, widget, queue;
const pageErrors = [];               // scripts failing on the customers' pages (the widget's frame included)

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.base, "admin@demo.example");
  // The customer's website: a page with the widget's script tag.
  site = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>Shop</title><h1>Our shop</h1>
<script src="${server.base}/chat/widget.js" data-widget="${widget.id}" async></script>`);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteOrigin = `http://localhost:${site.address().port}`;
  queue = await admin("POST", "/api/v1/queues", { name: "E2E Chat", wrap_up_seconds: 60 });
  widget = await admin("POST", "/api/v1/chat/widgets", {
    name: "Shop chat", queue_id: queue.id, allowed_origins: [siteOrigin], greeting: "Hi! Ask us anything.",
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  site?.close();
});

/** A customer on the shop's site with the chat open; the widget's frame. */
async function customer(name, question) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${siteOrigin}/`);
  await page.getByRole("button", { name: "Chat with us" }).click();
  const chat = page.frameLocator("iframe.switchboard-chat-frame");
  await textIs(chat.locator(".greeting"), "Hi! Ask us anything.");
  await chat.getByLabel("Your name").fill(name);
  await chat.getByLabel("How can we help?").fill(question);
  await chat.getByRole("button", { name: "Start chat" }).click();
  await textIs(chat.locator("#status"), /^You are number \d+ in the queue|^Waiting for an agent/);
  return { page, chat };
}

async function contactFor(question) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const c = (await admin("GET", "/api/v1/contacts?limit=100")).items.find((x) => x.channel === "chat" && x.subject === question);
    if (c) return c;
    assert.ok(Date.now() < deadline, `no chat contact for ${question}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a customer chats with an agent through the widget; both see the messages in order", async () => {
  const ann = await customer("Ann <i>Lee</i>", "Where is my parcel?");
  const ben = await customer("Ben", "Can I change my order?");
  const annContact = await contactFor("Where is my parcel?");
  const benContact = await contactFor("Can I change my order?");

  const desk = await loggedIn(browser, server.base, "agent1@demo.example");
  await desk.goto(`${server.base}/desk`);
  await textIs(desk.locator("#live"), "Live");
  await desk.getByRole("button", { name: "Available", exact: true }).click();
  // Two chats at once (a chat capacity of three): both ring, both are taken.
  for (const c of [annContact, benContact]) {
    const ringing = desk.locator(`[data-for="${c.id}"]`);
    await ringing.waitFor({ timeout: 5000 });
    await ringing.getByRole("button", { name: "Accept" }).click();
    await desk.locator(`[data-contact="${c.id}"]`).waitFor({ timeout: 5000 });
  }
  await textIs(ann.chat.locator("#status"), "Aroha Ngata is with you.");
  await textIs(ben.chat.locator("#status"), "Aroha Ngata is with you.");

  const card = desk.locator(`[data-contact="${annContact.id}"]`);
  const thread = card.locator(".thread");
  await countIs(thread.locator(".message"), 1);
  await textIs(thread.locator(".message.in .message-head"), /^Ann <i>Lee<\/i> · /);
  const box = card.getByLabel(/^Message \(Enter sends/);
  // The agent types: the customer sees it, then the answer.
  await box.pressSequentially("It left ", { delay: 20 });
  await textIs(ann.chat.locator("#typing"), "The agent is typing…");
  await box.pressSequentially("our depot today.");
  await box.press("Enter");
  await textIs(ann.chat.locator("#messages li.agent").last(), /It left our depot today\.$/);
  await textIs(ann.chat.locator("#messages li.agent .who").last(), "Aroha Ngata");
  // The customer types: the desk sees it; the answer arrives live.
  await ann.chat.getByRole("textbox", { name: "Message" }).pressSequentially("Thank you", { delay: 20 });
  await textIs(thread.locator(".typing"), "The customer is typing…");
  assert.equal(await thread.locator(".typing").isVisible(), true);
  await ann.chat.getByRole("textbox", { name: "Message" }).press("Enter");
  await countIs(thread.locator(".message"), 3);
  const deskTexts = await thread.locator(".message-text").allTextContents();
  assert.deepEqual(deskTexts, ["Where is my parcel?", "It left our depot today.", "Thank you"]);
  await countIs(ann.chat.locator("#messages li:not(.pending)"), 3);
  const widgetTexts = await ann.chat.locator("#messages li").evaluateAll((lis) => lis.map((li) => li.lastChild.textContent));
  assert.deepEqual(widgetTexts, ["Where is my parcel?", "It left our depot today.", "Thank you"]);

  // The other chat is its own: Ben sees none of Ann's messages.
  const benThread = desk.locator(`[data-contact="${benContact.id}"] .thread`);
  await desk.locator(`[data-contact="${benContact.id}"]`).getByLabel(/^Message \(Enter sends/).fill("One moment, Ben.");
  await desk.locator(`[data-contact="${benContact.id}"]`).getByRole("button", { name: "Send", exact: true }).click();
  await countIs(benThread.locator(".message"), 2);
  await textIs(ben.chat.locator("#messages li.agent").last(), /One moment, Ben\.$/);
  await countIs(ben.chat.locator("#messages li"), 2);

  // A team leader watches Ann's chat from the floor; a new message arrives there live.
  const floor = await loggedIn(browser, server.base, "lead@demo.example", { width: 1600, height: 900 });
  await floor.goto(`${server.base}/floor`);
  await textIs(floor.locator("#live"), "Live");
  await floor.getByRole("button", { name: "Watch Aroha Ngata's chat" }).first().click();
  await textIs(floor.locator("#watch h2"), /^Watching Aroha Ngata's chat #[0-9A-Z]{8}$/);
  const watched = await floor.locator("#watch .message-text").count();
  assert.ok(watched === 3 || watched === 2, `${watched} messages watched`);
  await ann.chat.getByRole("textbox", { name: "Message" }).fill("Watched?");
  await ann.chat.getByRole("textbox", { name: "Message" }).press("Enter");
  await countIs(thread.locator(".message"), 4);
  await textIs(floor.locator("#watch .message-text").last(), /Watched\?|One moment, Ben\./);
  await shot(floor, "floor-watch-chat");
  await shot(ann.page, "chat-widget");
  await shot(desk, "desk-chat");

  // The agent closes Ann's chat: her widget says so.
  await card.getByRole("button", { name: "Complete" }).click();
  await textIs(ann.chat.locator("#status"), /^The chat has ended/);
  assert.deepEqual(pageErrors, []);
  for (const p of [ann.page, ben.page, desk, floor]) await p.context().close();
});

test("a site the widget does not name cannot frame it", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The same page from another origin (127.0.0.1 is not localhost).
  const blocked = [];
  page.on("console", (m) => { if (/frame-ancestors|Refused to frame/i.test(m.text())) blocked.push(m.text()); });
  await page.goto(siteOrigin.replace("localhost", "127.0.0.1") + "/");
  await page.getByRole("button", { name: "Chat with us" }).click();
  const deadline = Date.now() + 5000;
  while (!blocked.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(blocked.length, "the browser refused to frame the widget");
  assert.equal(await page.frameLocator("iframe.switchboard-chat-frame").locator("#prechat-form").count(), 0);
  await context.close();
});
