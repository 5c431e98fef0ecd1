// Social sign-in journeys through Warden's hosted pages and a real OpenID
// provider (op.cjs: oidc-provider with its development login and consent
// pages), in Debian's chromium driven by playwright-core (never a
// downloaded browser), with axe-core on Warden's pages. Started by run.sh:
//   WARDEN_URL                http://127.0.0.1:<port> of the Warden binary,
//                             configured with provider `op` labelled "Test OP"
//   OP_URL                    the provider's issuer (http://127.0.0.1:<port>)
//   WARDEN_TEST_NODE_MODULES  node_modules holding playwright-core and axe-core
//   WARDEN_TEST_CHROMIUM      the browser (default /usr/bin/chromium)
//   WARDEN_SCREENSHOTS        where to write the screenshots (optional)
// Prints `ok <step>` or `FAIL <step>: <reason>` per step; exits non-zero
// when any step failed.
"use strict";
const path = require("path");
const fs = require("fs");
const http = require("http");
const os = require("os");

const modules = process.env.WARDEN_TEST_NODE_MODULES;
const { chromium } = require(path.join(modules, "playwright-core"));

const BASE = process.env.WARDEN_URL.replace(/\/+$/, "");
const OP = process.env.OP_URL.replace(/\/+$/, "");
const SHOTS = process.env.WARDEN_SCREENSHOTS;
const PASSWORD = "correct horse battery staple 9!";
const LABEL = "Test OP";

const harness = require("./harness.cjs");
const { check, step, axe } = harness;
const email = (prefix = "social") => harness.email(prefix);

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// A context whose requests stay on this machine: the provider's dev pages
// @import a Google font, which must neither leave the sandbox nor hold up
// the load event.
async function newContext(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  return context;
}

const onWarden = (url) => url.toString().startsWith(BASE + "/");

// From a page at Warden's sign-in page: "Continue with Test OP", then the
// provider's login (`login` as the login name, any password) and consent,
// until the browser is back on Warden past the callback. Returns the final
// URL.
async function continueWithProvider(page, login) {
  const button = page.getByRole("link", { name: `Continue with ${LABEL}` });
  check((await button.count()) === 1, `one "Continue with ${LABEL}" link on ${page.url()}`);
  await Promise.all([page.waitForURL((u) => u.toString().startsWith(OP + "/")), button.click()]);
  for (let round = 0; round < 4; round++) {
    const url = page.url();
    if (onWarden(url) && !new URL(url).pathname.startsWith("/v1/oauth/")) break;
    check(url.startsWith(OP + "/interaction/"), `a provider interaction page, at ${url}`);
    const prompt = await page.getAttribute("input[name=prompt]", "value");
    if (prompt === "login") {
      await page.fill("input[name=login]", login);
      await page.fill("input[name=password]", "any password at all");
    } else {
      check(prompt === "consent", `a login or consent prompt, got ${prompt}`);
    }
    // The next stop: another interaction page, or Warden past its callback.
    await Promise.all([
      page.waitForURL((u) => u.toString() !== url && (u.toString().startsWith(OP + "/interaction/") || (onWarden(u) && !u.pathname.startsWith("/v1/oauth/")))),
      page.click("button[type=submit]"),
    ]);
  }
  await page.waitForLoadState("load");
  return page.url();
}

async function me(page) {
  return page.evaluate(async () => {
    const r = await fetch("/v1/me", { headers: { accept: "application/json" } });
    return { status: r.status, body: await r.json().catch(() => null) };
  });
}
async function identities(page) {
  return page.evaluate(async () => {
    const r = await fetch("/v1/me/identities", { headers: { accept: "application/json" } });
    return { status: r.status, body: await r.json().catch(() => null) };
  });
}

// With JavaScript off, the page cannot fetch: ask with the context's
// cookies from here instead (the same cookies the browser would send).
async function apiWithCookies(context, pathname) {
  const cookies = (await context.cookies(BASE)).map((c) => `${c.name}=${c.value}`).join("; ");
  return new Promise((resolve, reject) => {
    const req = http.get(`${BASE}${pathname}`, { headers: { cookie: cookies, accept: "application/json" } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        let json = null;
        try {
          json = JSON.parse(body);
        } catch (_) {}
        resolve({ status: res.statusCode, body: json, raw: body });
      });
    });
    req.on("error", reject);
  });
}

// A JSON answer of the test provider's own endpoints (/__rotate, /__issued).
function opJson(pathname) {
  return new Promise((resolve, reject) => {
    http.get(`${OP}${pathname}`, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(body) });
        } catch (e) {
          reject(new Error(`${pathname} answered ${res.statusCode} ${body}`));
        }
      });
    }).on("error", reject);
  });
}
async function lastIdToken() {
  const { body } = await opJson("/__issued");
  return body.issued[body.issued.length - 1];
}

// (a) and (e): a new person signs up through the provider and lands on
// the account page. Returns the Warden user id.
async function newPerson(browser, js) {
  const label = js ? "" : " (JavaScript off)";
  const context = await newContext(browser, { javaScriptEnabled: js, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const address = email(js ? "social" : "social-nojs");
  let userId = null;
  await step("a new person continues with the provider and lands signed in on the account page" + label, async () => {
    await page.goto(`${BASE}/signin`);
    if (js) await axe(page, "/signin with the provider button");
    const final = await continueWithProvider(page, address);
    check(final === `${BASE}/account`, `the final URL is ${BASE}/account, got ${final}`);
    const main = await page.textContent("main");
    check(main.includes(address), "the account page shows the address");
    const section = page.locator("section#social");
    check((await section.count()) === 1, "a providers section on the account page");
    const heading = await section.locator("h2").textContent();
    check(heading.includes("Sign-in providers"), `the section is headed "Sign-in providers", got "${heading}"`);
    check((await section.textContent()).includes(LABEL), `the section lists ${LABEL}`);
    if (js) await axe(page, "/account with the providers section");
    if (js) {
      await page.locator("section#social").scrollIntoViewIfNeeded();
      await shot(page, "account-providers-desktop-light");
      await section.screenshot({ path: SHOTS ? path.join(SHOTS, "account-providers-section-desktop-light.png") : undefined }).catch(() => {});
    }
    const who = js ? await me(page) : await apiWithCookies(context, "/v1/me");
    check(who.status === 200, `200 from /v1/me, got ${who.status}`);
    check(who.body.email === address, `/v1/me is ${address}, got ${who.body.email}`);
    check(who.body.has_password === false, `has_password false, got ${who.body.has_password}`);
    check(who.body.email_verified === true, `email_verified true, got ${who.body.email_verified}`);
    userId = who.body.id;
    const token = await lastIdToken();
    check(token && token.sub === address && token.email === address && token.email_verified === true && token.nonce,
      `the provider's ID token carried sub, email, email_verified and nonce: ${JSON.stringify(token)}`);
    const ids = js ? await identities(page) : await apiWithCookies(context, "/v1/me/identities");
    check(ids.status === 200, `200 from /v1/me/identities, got ${ids.status}`);
    const list = ids.body.identities;
    check(Array.isArray(list) && list.length === 1, `one identity, got ${JSON.stringify(ids.body)}`);
    check(list[0].provider === "op", `provider op, got ${list[0].provider}`);
    check(list[0].email === undefined || list[0].email === address, `the identity's address, got ${list[0].email}`);
  });
  await context.close();
  return { address, userId };
}

// Screenshots (and axe) of the sign-in page with the provider button at
// both widths, in light and dark.
async function signinScreenshots(browser) {
  for (const scheme of ["light", "dark"]) {
    for (const [device, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 800 }]]) {
      await step(`sign-in page with the provider button: axe and screenshot, ${device} ${scheme}`, async () => {
        const context = await newContext(browser, { viewport, colorScheme: scheme, deviceScaleFactor: 1 });
        const page = await context.newPage();
        try {
          await page.goto(`${BASE}/signin`);
          const button = page.getByRole("link", { name: `Continue with ${LABEL}` });
          check(await button.isVisible(), "the button is visible");
          const box = await button.boundingBox();
          check(box.width <= viewport.width && box.x >= 0, `the button fits the viewport: ${JSON.stringify(box)}`);
          check(box.height >= 24, `the button is a comfortable target (>= 24 px high): ${box.height}`);
          await axe(page, `/signin (${device}, ${scheme})`);
          await shot(page, `signin-social-${device}-${scheme}`);
        } finally {
          await context.close();
        }
      });
    }
  }
}

// (b): after the provider rotates its signing keys, the same person signs
// in again, as the same Warden user.
async function keyRotation(browser, person) {
  await step("after the provider rotates its keys, the same login signs in as the same user", async () => {
    check(person.userId, "a user from the first journey");
    const before = await lastIdToken();
    const rotated = await opJson("/__rotate");
    check(rotated.status === 200 && rotated.body.kid !== rotated.body.previous_kid, `the provider rotated its keys: ${JSON.stringify(rotated)}`);
    check(before.kid === rotated.body.previous_kid, `the first ID token was signed by the old key ${rotated.body.previous_kid}: ${before.kid}`);
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await page.goto(`${BASE}/signin`);
      const final = await continueWithProvider(page, person.address);
      check(final === `${BASE}/account`, `the final URL is ${BASE}/account, got ${final}`);
      const who = await me(page);
      check(who.status === 200 && who.body.id === person.userId, `the same user ${person.userId}, got ${JSON.stringify(who.body)}`);
      const ids = await identities(page);
      check(ids.body.identities.length === 1, `still one identity, got ${JSON.stringify(ids.body)}`);
      const after = await lastIdToken();
      check(after.kid === rotated.body.kid && after.sub === person.address, `this ID token was signed by the new key ${rotated.body.kid}: ${JSON.stringify(after)}`);
    } finally {
      await context.close();
    }
  });
}

// (c): someone signed up with an address and a password (never verified);
// the provider's verified identity for the same address must not take
// that account over.
async function preAccountTakeover(browser) {
  await step("an unverified password account with the address is not taken over (account_exists)", async () => {
    const address = email("pre");
    const first = await newContext(browser);
    const page1 = await first.newPage();
    await page1.goto(`${BASE}/signup`);
    await page1.fill("#email", address);
    await page1.fill("#password", PASSWORD);
    await Promise.all([page1.waitForURL(/\/account$/), page1.click("button[type=submit]")]);
    const owner = await me(page1);
    check(owner.body.email_verified === false, "the password account is not verified");
    await first.close();

    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await page.goto(`${BASE}/signin`);
      const final = await continueWithProvider(page, address);
      const url = new URL(final);
      check(final.startsWith(`${BASE}/signin?`) && url.searchParams.get("error") === "account_exists", `back on ${BASE}/signin?...error=account_exists, got ${final}`);
      const summary = page.locator("[role=alert]");
      check((await summary.count()) >= 1, "an error summary (role=alert)");
      const text = await summary.first().textContent();
      check(/already exists/i.test(text), `the summary says an account already exists: "${text.trim()}"`);
      await axe(page, "/signin?error=account_exists");
      await shot(page, "signin-account-exists-desktop-light");
      const who = await me(page);
      check(who.status === 401, `not signed in: /v1/me answered ${who.status}`);
    } finally {
      await context.close();
    }
  });
}

// (d): the provider does not vouch for the address.
async function unverifiedAtProvider(browser) {
  await step("an address the provider did not verify is refused (email_not_verified_by_provider)", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    try {
      await page.goto(`${BASE}/signin`);
      const final = await continueWithProvider(page, email("unverified"));
      const url = new URL(final);
      check(url.pathname === "/signin" && url.searchParams.get("error") === "email_not_verified_by_provider", `back on the sign-in page with error=email_not_verified_by_provider, got ${final}`);
      const summary = page.locator("[role=alert]");
      check((await summary.count()) >= 1, "an error summary (role=alert)");
      check(/did not confirm your email/i.test(await summary.first().textContent()), "the summary explains it");
      const who = await me(page);
      check(who.status === 401, `not signed in: /v1/me answered ${who.status}`);
      check(!(await context.cookies(BASE)).some((c) => c.name === "__Host-warden_at"), "no access cookie");
      await shot(page, "signin-unverified-desktop-light");
    } finally {
      await context.close();
    }
  });
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "warden-chromium-"));
  const browser = await chromium.launch({
    executablePath: process.env.WARDEN_TEST_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    // Playwright refuses --user-data-dir in `args`; a fresh directory here
    // keeps the browser's other caches out of $HOME.
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  try {
    await signinScreenshots(browser);
    const person = await newPerson(browser, true);
    await keyRotation(browser, person);
    await preAccountTakeover(browser);
    await unverifiedAtProvider(browser);
    await newPerson(browser, false);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  harness.finish();
})().catch((e) => {
  console.log(`FAIL harness: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
