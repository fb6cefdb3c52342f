// Starts a real Switchboard (the demo tenant on a fresh data directory)
// and a real Chromium for the browser tests; helpers to call the API and
// to wait for what a page shows.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });

const BIN = process.env.SWITCHBOARD_BIN || join(here, "..", "target", "debug", "switchboard");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "sb-e2e-"));
  const server = { dir };
  server.child = await run(server, "127.0.0.1:0");
  server.stop = async () => {
    await halt(server.child);
    rmSync(dir, { recursive: true, force: true });
  };
  /** Stops the server and starts it again on the same address and data. */
  server.restart = async (pauseMs = 0) => {
    await halt(server.child);
    await new Promise((r) => setTimeout(r, pauseMs));
    server.child = await run(server, server.base.replace("http://", ""));
  };
  return server;
}

async function halt(child) {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
}

async function run(server, addr) {
  const child = spawn(BIN, ["--data-dir", server.dir, "demo", "--http", addr, "--no-traffic"], {
    env: { ...process.env, SWITCHBOARD_LOG: "warn", SWITCHBOARD_SIP: "127.0.0.1:0", SWITCHBOARD_SMTP: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("the server did not start in 60 s")), 60_000);
    lines.on("line", (line) => {
      const sip = line.match(/listening on udp:\/\/(\S+)/);
      if (sip) server.sip = sip[1];
      const smtp = line.match(/listening on smtp:\/\/(\S+)/);
      if (smtp) server.smtp = smtp[1];
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  server.base = base;
  return child;
}

/** An API client with a bearer token made by logging in as `email`. */
export async function apiAs(base, email) {
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "switchboard" }),
  });
  if (!login.ok) throw new Error(`login ${email}: ${login.status}`);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const tok = await fetch(`${base}/api/v1/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: JSON.stringify({ name: "e2e" }),
  });
  if (!tok.ok) throw new Error(`token for ${email}: ${tok.status}`);
  const { secret } = await tok.json();
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return data;
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** A page in a fresh context, logged in through the login form. */
export async function loggedIn(browser, base, email, size = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport: size, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill("switchboard");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${base}/`);
  return page;
}

/** Saves a full-page screenshot as a test artefact. */
export const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

/** Waits until `locator`'s text is `want` (or matches it). */
export async function textIs(locator, want, timeout = 5000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = (await locator.textContent().catch(() => null))?.trim();
    if (want instanceof RegExp ? want.test(last ?? "") : last === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`expected ${want}, saw ${JSON.stringify(last)}`);
}

/** Waits until `locator` matches exactly `n` elements. */
export async function countIs(locator, n, timeout = 5000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await locator.count();
    if (last === n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`expected ${n} matches, saw ${last}`);
}

/** Registers a demo phone with a real SIP user agent (PJSIP, from the
 * voice tests' virtual environment); the registration outlasts it. */
export async function registerPhone(server, username, password = "switchboard") {
  const root = join(here, "..");
  const python = process.env.SWITCHBOARD_SIP_PYTHON || join(root, "target", "sip-venv", "bin", "python");
  for (let i = 0; i < 100 && !server.sip; i++) await new Promise((r) => setTimeout(r, 100));
  const out = mkdtempSync(join(tmpdir(), "sb-e2e-sip-"));
  const child = spawn(python, [join(root, "crates", "switchboard", "tests", "sip", "peer.py"), "register",
    "--server", server.sip, "--username", username, "--password", password, "--out", out], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.on("data", (d) => { text += d; });
  await new Promise((r) => child.once("exit", r));
  rmSync(out, { recursive: true, force: true });
  const result = JSON.parse(text.trim().split("\n").pop());
  assert.equal(result.registration, 200, text);
}
