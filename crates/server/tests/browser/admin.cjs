// The admin console in Debian's chromium driven by playwright-core, with
// axe-core on every page. Run by crates/server/tests/api/browser.rs, which
// starts the real `warden` binary (and the gateway in front of an
// upstream), creates the admin with `warden user add` and passes:
//   WARDEN_URL            http://127.0.0.1:<port> of that binary
//   WARDEN_GATEWAY_URL    the gateway, whose route `/app` needs a token
//   WARDEN_ADMIN_EMAIL    the admin (password ADMIN_PASSWORD below)
//   WARDEN_TEST_NODE_MODULES, WARDEN_TEST_CHROMIUM, WARDEN_SCREENSHOTS
// An admin finds a user, bans them (their token refused by Warden and by
// the gateway within a second), unbans them, changes their roles, resets
// their second factor, registers an app and rotates its secret, filters
// the audit log and exports it; a non-admin gets 403 and a signed-out
// visitor the sign-in page; the same by keyboard alone and with
// JavaScript off; screenshots at phone and desktop widths, light and dark.
"use strict";
const path = require("path");
const fs = require("fs");
const os = require("os");
const crypto = require("crypto");

const modules = process.env.WARDEN_TEST_NODE_MODULES;
const { chromium } = require(path.join(modules, "playwright-core"));

const BASE = process.env.WARDEN_URL;
const GATEWAY = process.env.WARDEN_GATEWAY_URL;
const ADMIN = process.env.WARDEN_ADMIN_EMAIL;
const SHOTS = process.env.WARDEN_SCREENSHOTS;
const ADMIN_PASSWORD = "a long admin passphrase 42";
const PASSWORD = "correct horse battery staple 9!";

const harness = require("./harness.cjs");
const { check, step, axe } = harness;

async function api(method, route, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(`${BASE}${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

// RFC 6238 with SHA-1, 6 digits, 30 s: the authenticator app's code.
function totp(base32, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(at) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, "0");
}

// A signed-up user with an authenticator app: their address and access token.
async function userWithApp() {
  const address = harness.email("member");
  const signup = await api("POST", "/v1/signup", { email: address, password: PASSWORD });
  check(signup.status === 201, `signed up: ${signup.status}`);
  const token = signup.body.tokens.access_token;
  const started = await api("POST", "/v1/mfa/totp", {}, token);
  check(started.status === 200, `totp started: ${started.status}`);
  const confirmed = await api("POST", "/v1/mfa/totp/confirm", { code: totp(started.body.secret) }, token);
  check(confirmed.status === 200, `totp confirmed: ${confirmed.status}`);
  return { address, token };
}

async function signIn(page, address, password) {
  await page.goto(`${BASE}/signin`);
  await page.fill("#email", address);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/account/), page.click("form[action$='/signin'] button[type=submit]")]);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Until `probe` says true, for at most `ms`; how long it took.
async function within(ms, probe) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await probe()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`expected within ${ms} ms`);
}

async function confirmChange(page, notice, js = true) {
  // axe runs in the page: only with JavaScript on.
  if (js) await axe(page, "the confirmation page");
  await Promise.all([page.waitForURL(/notice=/), page.click(".actions button[type=submit]")]);
  check((await page.textContent(".notice")).includes(notice), `notice "${notice}"`);
}

async function console_(browser, js) {
  const label = js ? "" : " (JavaScript off)";
  const check_ = js ? axe : async () => {};
  const context = await browser.newContext({ javaScriptEnabled: js });
  const page = await context.newPage();
  const member = await userWithApp();
  await signIn(page, ADMIN, ADMIN_PASSWORD);

  await step(`overview${label}`, async () => {
    await page.goto(`${BASE}/admin`);
    check((await page.textContent("h1")).includes("Overview"), "the overview");
    check(await page.isVisible(".chart svg"), "the sign-in chart");
    await check_(page, "/admin");
  });

  await step(`an admin finds a user and opens their page${label}`, async () => {
    await page.click("nav.admin-nav >> text=Users");
    await page.fill("#q", member.address);
    await Promise.all([page.waitForURL(/q=/), page.click("form.search button")]);
    check((await page.locator("table.data tbody tr").count()) === 1, "one match");
    await check_(page, "/admin/users");
    await Promise.all([page.waitForURL(/\/admin\/users\/[0-9a-f-]+$/), page.click(`text=${member.address}`)]);
    check((await page.textContent("h1")) === member.address, "the user's page");
    await check_(page, "a user's page");
  });
  const userUrl = page.url();

  await step(`ban: confirmed, then the token is refused by Warden and the gateway within a second${label}`, async () => {
    const before = await fetch(`${GATEWAY}/app/`, { headers: { authorization: `Bearer ${member.token}` } });
    check(before.status === 200, `the gateway lets the token through first: ${before.status}`);
    await page.fill("#reason", "chargeback fraud");
    await page.click("text=Ban this user");
    check((await page.textContent("h1")).startsWith("Ban "), "asked first");
    const stillValid = await api("POST", "/v1/validate", null, member.token);
    check(stillValid.status === 200, "nothing changed before confirming");
    if (js) await shot(page, "admin-confirm-desktop-light");
    await confirmChange(page, "banned", js);
    const warden = await within(1000, async () => (await api("POST", "/v1/validate", null, member.token)).status === 401);
    const gateway = await within(1000, async () => (await fetch(`${GATEWAY}/app/`, { headers: { authorization: `Bearer ${member.token}` } })).status === 401);
    console.log(`     refused by Warden after ${warden} ms, by the gateway after ${gateway} ms`);
  });

  await step(`unban${label}`, async () => {
    await page.click("text=Lift the ban");
    await confirmChange(page, "ban is lifted", js);
  });

  await step(`change roles${label}`, async () => {
    await page.fill("#roles", "user, billing");
    await page.click("text=Change roles");
    await confirmChange(page, "roles are changed", js);
    check((await page.inputValue("#roles")) === "billing, user", "the new roles");
  });

  await step(`reset two-step verification${label}`, async () => {
    const refused = await api("POST", "/v1/signin", { email: member.address, password: PASSWORD });
    check(refused.status === 403 && refused.body.code === "mfa_required", "a second factor is asked first");
    await page.click("text=Reset two-step verification");
    await confirmChange(page, "Two-step verification is reset", js);
    const signedIn = await api("POST", "/v1/signin", { email: member.address, password: PASSWORD });
    check(signedIn.status === 200, `the password alone signs in now: ${signedIn.status}`);
  });

  await step(`register an app and rotate its secret${label}`, async () => {
    await page.click("nav.admin-nav >> text=Apps");
    await check_(page, "/admin/clients");
    await page.fill("#name", `Billing ${js}`);
    await page.fill("#redirect_uris", "https://billing.example.com/cb");
    await page.check("input[name=grant_client_credentials]");
    await page.fill("#scopes", "billing:read");
    await page.click("form[action$='/admin/clients'] button[type=submit]");
    check((await page.textContent("h1")).startsWith("Register "), "asked first");
    await Promise.all([page.waitForLoadState(), page.click(".actions button[type=submit]")]);
    const first = await page.inputValue("#client-secret");
    check(first.startsWith("wcs_"), "the secret, shown once");
    await check_(page, "the secret page");
    if (js) await shot(page, "admin-secret-desktop-light");
    await page.click("text=Done");
    await page.click("text=Make a new secret");
    await Promise.all([page.waitForLoadState(), page.click(".actions button[type=submit]")]);
    const second = await page.inputValue("#client-secret");
    check(second.startsWith("wcs_") && second !== first, "a new secret");
  });

  await step(`filter the audit log and export it${label}`, async () => {
    await page.click("nav.admin-nav >> text=Audit log");
    await page.fill("#user", member.address);
    await page.selectOption("#action", "ban");
    await Promise.all([page.waitForURL(/action=ban/), page.click("form.filters button[type=submit]")]);
    check((await page.locator("table.data tbody tr").count()) === 1, "the one ban");
    check((await page.textContent("table.data tbody")).includes("chargeback fraud"), "with its reason");
    await check_(page, "/admin/audit");
    const href = await page.getAttribute("text=Export as CSV", "href");
    const csv = await page.request.get(`${BASE}${href}`);
    check(csv.status() === 200, `CSV: ${csv.status()}`);
    const lines = (await csv.text()).trim().split("\r\n");
    check(lines[0] === "id,at,actor,action,target,ip,user_agent,outcome,detail", "the CSV header");
    check(lines.length === 2 && lines[1].includes(",ban,"), `one ban row: ${lines.length}`);
  });
  await page.goto(userUrl);
  await context.close();
}

async function outsiders(browser) {
  await step("a signed-out visitor is sent to sign in, a non-admin gets 403", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE}/admin/users`);
    check(page.url().startsWith(`${BASE}/signin?rd=`), `sign-in first: ${page.url()}`);
    const address = harness.email("outsider");
    await api("POST", "/v1/signup", { email: address, password: PASSWORD });
    await signIn(page, address, PASSWORD);
    const response = await page.goto(`${BASE}/admin/users`);
    check(response.status() === 403, `403: ${response.status()}`);
    check((await page.textContent("h1")).includes("Admins only"), "says why");
    await axe(page, "the 403 page");
    await context.close();
  });
}

async function keyboardOnly(browser) {
  await step("keyboard only: sign in, find a user and ban them", async () => {
    const member = await userWithApp();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${BASE}/signin?rd=%2Fadmin%2Fusers`);
    await page.keyboard.press("Tab"); // skip link
    const tabTo = async (selector, limit = 40) => {
      for (let i = 0; i < limit; i++) {
        if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
        await page.keyboard.press("Tab");
      }
      throw new Error(`could not reach ${selector} by Tab`);
    };
    await tabTo("#email");
    await page.keyboard.type(ADMIN);
    await page.keyboard.press("Tab");
    await page.keyboard.type(ADMIN_PASSWORD);
    await Promise.all([page.waitForURL(/\/admin\/users/), page.keyboard.press("Enter")]);
    await tabTo("#q");
    await page.keyboard.type(member.address);
    await Promise.all([page.waitForURL(/q=/), page.keyboard.press("Enter")]);
    await tabTo("table.data a");
    await Promise.all([page.waitForURL(/\/admin\/users\/[0-9a-f-]+$/), page.keyboard.press("Enter")]);
    await tabTo("#reason");
    await page.keyboard.type("spam");
    await page.keyboard.press("Tab");
    await Promise.all([page.waitForLoadState(), page.keyboard.press("Enter")]);
    check((await page.textContent("h1")).startsWith("Ban "), "the confirmation page");
    await tabTo(".actions button[type=submit]");
    await Promise.all([page.waitForURL(/notice=banned/), page.keyboard.press("Enter")]);
    const refused = await api("POST", "/v1/validate", null, member.token);
    check(refused.status === 401, "banned by keyboard");
    await context.close();
  });
}

async function screenshots(browser) {
  await step("screenshots at phone and desktop widths, light and dark", async () => {
    for (const [width, height, size] of [[1280, 900, "desktop"], [390, 844, "phone"]]) {
      for (const scheme of ["light", "dark"]) {
        const context = await browser.newContext({ viewport: { width, height }, colorScheme: scheme });
        const page = await context.newPage();
        await signIn(page, ADMIN, ADMIN_PASSWORD);
        for (const [route, name] of [["/admin", "overview"], ["/admin/users", "users"], ["/admin/audit", "audit"], ["/admin/clients", "clients"]]) {
          await page.goto(`${BASE}${route}`);
          await axe(page, `${route} ${size} ${scheme}`);
          await shot(page, `admin-${name}-${size}-${scheme}`);
        }
        await page.goto(`${BASE}/admin/users`);
        await page.click("table.data tbody tr >> nth=-1 >> a");
        await axe(page, `a user's page ${size} ${scheme}`);
        await shot(page, `admin-user-${size}-${scheme}`);
        await context.close();
      }
    }
  });
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "warden-chromium-"));
  const browser = await chromium.launch({
    executablePath: process.env.WARDEN_TEST_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  try {
    await console_(browser, true);
    await console_(browser, false);
    await outsiders(browser);
    await keyboardOnly(browser);
    await screenshots(browser);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  harness.finish();
})().catch((e) => {
  console.log(`FAIL harness: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
