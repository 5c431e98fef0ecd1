// Browser journeys through Warden's hosted pages, in Debian's chromium
// driven by playwright-core (never a downloaded browser), with axe-core
// on every page. Run by crates/server/tests/api/browser.rs, which starts
// the real `warden` binary and passes:
//   WARDEN_URL            http://127.0.0.1:<port> of that binary
//   WARDEN_OTHER_PORT     a free loopback port for the "other origin" app
//                         (in the binary's [http] cors_origins)
//   WARDEN_STRANGER_PORT  a free port whose origin is not allowed
//   WARDEN_TEST_NODE_MODULES  node_modules holding playwright-core and axe-core
//   WARDEN_TEST_CHROMIUM  the browser (default /usr/bin/chromium)
//   WARDEN_SCREENSHOTS    where to write the screenshots
//   WARDEN_MAIL_DIR       where the binary's log transport writes .eml files
// Exits non-zero with a message on the first failed expectation.
"use strict";
const path = require("path");
const fs = require("fs");
const http = require("http");
const os = require("os");

const modules = process.env.WARDEN_TEST_NODE_MODULES;
const { chromium } = require(path.join(modules, "playwright-core"));

const BASE = process.env.WARDEN_URL;
const OTHER_PORT = Number(process.env.WARDEN_OTHER_PORT);
const STRANGER_PORT = Number(process.env.WARDEN_STRANGER_PORT);
const SHOTS = process.env.WARDEN_SCREENSHOTS;
const MAIL_DIR = process.env.WARDEN_MAIL_DIR;
const OIDC_CLIENT = process.env.WARDEN_OIDC_CLIENT;
const PASSWORD = "correct horse battery staple 9!";
const NEW_PASSWORD = "another long passphrase for tests 42";

const harness = require("./harness.cjs");
const { check, step, axe } = harness;
const email = (prefix = "pages") => harness.email(prefix);

async function signUp(page, address) {
  await page.goto(`${BASE}/signup`);
  await page.fill("#email", address);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(/\/account$/), page.click("button[type=submit]")]);
}

async function signIn(page, address, password) {
  await page.goto(`${BASE}/signin`);
  await page.fill("#email", address);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/account/), page.click("form[action$='/signin'] button[type=submit]")]);
}

// The link in the newest mail of `kind` to `address`, as a path on BASE.
// The log transport writes each message to MAIL_DIR as <time>-<kind>.eml;
// the worker delivers a moment after the request, so this waits for it.
async function mailedLink(address, kind, after = 0) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const names = fs.existsSync(MAIL_DIR) ? fs.readdirSync(MAIL_DIR).filter((n) => n.includes(kind) && n.endsWith(".eml")) : [];
    const found = [];
    for (const name of names) {
      const file = path.join(MAIL_DIR, name);
      const stat = fs.statSync(file);
      if (stat.mtimeMs < after) continue;
      // Undo quoted-printable: soft line breaks, then =XX escapes.
      const text = fs.readFileSync(file, "utf8").replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      if (!new RegExp(`^To: .*${address.replace(/[.+]/g, "\\$&")}`, "mi").test(text)) continue;
      const link = text.match(/https?:\/\/[^\s"<>]*?(\/(?:verify-email|reset-password)\?token=wml_[A-Za-z0-9_-]+)/);
      if (link) found.push({ at: stat.mtimeMs, path: link[1] });
    }
    if (found.length) {
      found.sort((a, b) => b.at - a.at);
      return `${BASE}${found[0].path}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected: a ${kind} mail to ${address}`);
}

// The account's life over e-mail: verify the address by the mailed link,
// change it, forget the password and reset it (other sessions end), and
// delete the account.
async function lifecycle(browser, js) {
  const label = js ? "" : " (JavaScript off)";
  const context = await browser.newContext({ javaScriptEnabled: js });
  const page = await context.newPage();
  let address = email();
  const started = Date.now() - 1000;
  // axe runs in the page's JavaScript: with it off, the JS-on pass checks.
  const audit = js ? (label) => axe(page, label) : async () => {};

  await step("verify the address by the mailed link" + label, async () => {
    await signUp(page, address);
    check((await page.textContent("main")).includes("Not verified"), "the account page says not verified");
    const link = await mailedLink(address, "verify_email", started);
    await page.goto(link);
    check((await page.textContent("h1")).includes("Confirm your email address"), "the link opens a confirm page");
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "verify-email-desktop-light.png"), fullPage: true });
    await audit("/verify-email" + label);
    await Promise.all([page.waitForURL(/\/account\?notice=email_verified$/), page.click("#confirm")]);
    check((await page.textContent(".notice")).includes("verified"), "a verified notice");
    check((await page.textContent("main")).includes("Verified"), "the badge says verified");
  });

  await step("change the address by the link mailed to the new one" + label, async () => {
    const next = email();
    await page.fill("#new_email", next);
    await page.fill("#email_password", PASSWORD);
    const asked = Date.now() - 1000;
    await Promise.all([page.waitForURL(/notice=email_change_sent/), page.click("form[action$='/account/email'] button[type=submit]")]);
    check((await page.textContent(".notice")).includes("new address"), "a link-sent notice");
    const link = await mailedLink(next, "email_change", asked);
    await page.goto(link);
    check((await page.textContent("h1")).includes("new email address"), "the change asks for confirmation");
    await Promise.all([page.waitForURL(/notice=email_changed/), page.click("#confirm")]);
    check((await page.textContent(".facts")).includes(next), "the account shows the new address");
    address = next;
  });

  await step("forgot password: a reset link, a new password, other sessions end" + label, async () => {
    const other = await browser.newContext({ javaScriptEnabled: js });
    const otherPage = await other.newPage();
    await signIn(otherPage, address, PASSWORD);
    await Promise.all([page.waitForURL(/signed_out/), page.click(".bar button[type=submit]")]);
    await page.goto(`${BASE}/signin`);
    await Promise.all([page.waitForURL(/\/forgot-password/), page.click("a[href$='/forgot-password']")]);
    await audit("/forgot-password" + label);
    await page.fill("#email", address);
    const asked = Date.now() - 1000;
    await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
    await page.waitForSelector("h1");
    check((await page.textContent("h1")).includes("Check your inbox"), "check your inbox");
    const link = await mailedLink(address, "password_reset", asked);
    await page.goto(link);
    check((await page.textContent("main")).includes(address), "the reset page names the account");
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "reset-password-desktop-light.png"), fullPage: true });
    await audit("/reset-password" + label);
    await page.fill("#new_password", NEW_PASSWORD);
    await Promise.all([page.waitForURL(/notice=password_reset/), page.click("form button[type=submit]")]);
    await otherPage.goto(`${BASE}/account`);
    check(otherPage.url().includes("/signin"), `the other browser is signed out: ${otherPage.url()}`);
    await other.close();
    await page.goto(link);
    check((await page.textContent("h1")).includes("no longer works"), "the link is spent");
    await signIn(page, address, NEW_PASSWORD);
  });

  await step("delete the account" + label, async () => {
    await page.goto(`${BASE}/account`);
    await page.fill("#delete_password", NEW_PASSWORD);
    await Promise.all([page.waitForURL(/notice=account_deleted/), page.click("form[action$='/account/delete'] button[type=submit]")]);
    check((await page.textContent(".notice")).includes("deleted"), "a deleted notice");
    await page.fill("#email", address);
    await page.fill("#password", NEW_PASSWORD);
    await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
    await page.waitForSelector("#password-error");
  });

  await context.close();
}

// RFC 6238 (SHA-1, 6 digits, 30 s) from the base32 key the page shows:
// what an authenticator app computes.
function totp(key, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of key.replace(/\s+/g, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = require("crypto").createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const offset = mac[19] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, "0");
}

const nowStep = () => Math.floor(Date.now() / 30000);

// Waits for a step later than `used`: a code is good once.
async function nextStep(used) {
  while (nowStep() <= used) await new Promise((r) => setTimeout(r, 250));
  return nowStep();
}

async function secondFactors(browser, js) {
  // axe needs scripts; the JavaScript-off run checks the same pages work.
  const label = js ? "" : " (JavaScript off)";
  const context = await browser.newContext({ javaScriptEnabled: js, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const address = email("mfa");
  let key = "";
  let usedStep = 0;
  let codes = [];

  await step("turn on an authenticator app from the account page" + label, async () => {
    await signUp(page, address);
    await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/account/mfa/totp'] button[type=submit]")]);
    await page.waitForSelector(".qr svg");
    if (js) await axe(page, "/account, scanning the QR code" + label);
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "account-mfa-setup.png"), fullPage: true });
    key = (await page.textContent("code.secret")).trim();
    check(/^[A-Z2-7 ]{32,}$/.test(key), `a base32 key: ${key}`);
    await page.fill("#totp_code", "000000");
    await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/confirm'] button[type=submit]")]);
    await page.waitForSelector("#totp_code-error");
    check(await page.isVisible(".qr svg"), "the QR code stays after a wrong code");
    if (js) await axe(page, "/account, a wrong first code" + label);
    usedStep = nowStep();
    await page.fill("#totp_code", totp(key, usedStep));
    await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/confirm'] button[type=submit]")]);
    await page.waitForSelector(".codes");
    codes = await page.$$eval(".codes code", (nodes) => nodes.map((n) => n.textContent));
    check(codes.length === 10, `ten recovery codes, got ${codes.length}`);
    if (js) await axe(page, "/account, the recovery codes" + label);
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "account-mfa-codes.png"), fullPage: true });
  });

  await step("sign-in asks for the app's code after the password" + label, async () => {
    await Promise.all([page.waitForURL(/\/signin\?notice=signed_out/), page.click(".bar button[type=submit]")]);
    await page.fill("#email", address);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(/\/signin\/mfa$/), page.click("form button[type=submit]")]);
    check((await page.getAttribute("#totp_code", "autocomplete")) === "one-time-code", "autocomplete=one-time-code");
    if (js) await axe(page, "/signin/mfa" + label);
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "signin-mfa.png"), fullPage: true });
    await page.fill("#totp_code", "000000");
    await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
    await page.waitForSelector("#totp_code-error");
    if (js) await axe(page, "/signin/mfa with an error" + label);
    if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, "signin-mfa-error.png"), fullPage: true });
    usedStep = await nextStep(usedStep);
    await page.fill("#totp_code", totp(key, usedStep));
    await Promise.all([page.waitForURL(/\/account$/), page.click("form button[type=submit]")]);
  });

  await step("a recovery code signs in once" + label, async () => {
    await Promise.all([page.waitForURL(/\/signin\?notice=signed_out/), page.click(".bar button[type=submit]")]);
    await page.fill("#email", address);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(/\/signin\/mfa$/), page.click("form button[type=submit]")]);
    await Promise.all([page.waitForURL(/method=recovery/), page.click("a[href*='method=recovery']")]);
    if (js) await axe(page, "/signin/mfa with a recovery code" + label);
    await page.fill("#recovery_code", codes[0].toUpperCase());
    await Promise.all([page.waitForURL(/\/account$/), page.click("form button[type=submit]")]);
    check((await page.textContent("#mfa")).includes("Recovery codes left: 9"), "nine codes left");
  });

  await context.close();
}

// Passkeys with Chromium's virtual authenticator (DevTools protocol,
// through Playwright's CDP session): internal transport, resident keys,
// user verification on. WebAuthn takes no IP address as relying party, so
// these pages are opened at localhost, the binary's default rp_id.
const AUTHENTICATOR = {
  protocol: "ctap2",
  transport: "internal",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

async function withAuthenticator(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR });
  return { page, cdp, authenticatorId };
}

async function passkeys(browser) {
  const LOCAL = BASE.replace("127.0.0.1", "localhost");
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, cdp, authenticatorId } = await withAuthenticator(context);
  const address = email("passkey");

  await step("add a passkey on the account page", async () => {
    await page.goto(`${LOCAL}/signup`);
    await page.fill("#email", address);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(/\/account$/), page.click("button[type=submit]")]);
    check(await page.isVisible("form[data-passkey-register]"), "the add form shows where passkeys work");
    check(!(await page.isVisible("[data-passkey-unsupported]")), "no 'needs JavaScript' hint");
    await page.fill("#passkey_name", "Test laptop");
    await Promise.all([page.waitForLoadState("load"), page.click("form[data-passkey-register] button[type=submit]")]);
    await page.waitForSelector(".codes");
    check((await page.textContent("#passkeys")).includes("Test laptop"), "the passkey is listed by name");
    check((await page.textContent(".notice")).includes("passkey is ready"), "a notice says it worked");
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    check(credentials.length === 1 && credentials[0].isResidentCredential, "one discoverable credential on the authenticator");
    await axe(page, "/account with a passkey");
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "account-passkeys.png"), fullPage: true });
  });

  await step("sign in with the passkey: no address, no password", async () => {
    await Promise.all([page.waitForURL(/\/signin\?notice=signed_out/), page.click(".bar button[type=submit]")]);
    check(await page.isVisible("form[data-passkey-signin] button"), "a 'Sign in with a passkey' button");
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "signin-passkey.png"), fullPage: true });
    await Promise.all([page.waitForURL(/\/account$/), page.click("form[data-passkey-signin] button")]);
    check((await page.textContent("main")).includes(address), "signed in to the passkey's account");
    check((await page.textContent("#passkeys")).includes("last used"), "the list shows it was used");
  });

  await step("a browser without the passkey cannot sign in with it", async () => {
    const other = await browser.newContext();
    const { page: stranger } = await withAuthenticator(other);
    await stranger.goto(`${LOCAL}/signin`);
    await Promise.all([stranger.waitForURL(/\/signin\/passkey$/), stranger.click("form[data-passkey-signin] button")]);
    await stranger.waitForSelector(".summary");
    check((await stranger.textContent(".summary")).includes("didn't sign you in"), "the page says the passkey did not work");
    const cookies = await other.cookies();
    check(!cookies.some((c) => /session|access|refresh/.test(c.name)), `no session cookie: ${cookies.map((c) => c.name)}`);
    await axe(stranger, "/signin after a refused passkey");
    await other.close();
  });

  await step("after the password, the passkey is the second step", async () => {
    await Promise.all([page.waitForURL(/\/signin\?notice=signed_out/), page.click(".bar button[type=submit]")]);
    await page.fill("#email", address);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(/\/signin\/mfa$/), page.click("form[action$='/signin'] button[type=submit]")]);
    check((await page.textContent("main")).includes("Confirm with your passkey"), "the page asks for the passkey");
    check(!(await page.isVisible("#totp_code")), "no app-code field for an account without an app");
    await axe(page, "/signin/mfa with a passkey");
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "signin-mfa-passkey.png"), fullPage: true });
    await Promise.all([page.waitForURL(/\/account$/), page.click("form[data-passkey-mfa] button")]);
  });

  await step("remove the passkey", async () => {
    const form = "#passkeys form[action$='/remove']";
    await Promise.all([page.waitForURL(/notice=passkey_removed/), page.click(`${form} button`)]);
    check((await page.textContent("#passkeys")).includes("No passkeys yet"), "the list is empty");
  });

  await context.close();
}

async function journeys(browser, js) {
  const label = js ? "" : " (JavaScript off)";
  const context = await browser.newContext({ javaScriptEnabled: js });
  const page = await context.newPage();
  const address = email();

  await step("sign up lands on the account page" + label, async () => {
    await signUp(page, address);
    check((await page.textContent("main")).includes(address), "the account page shows the address");
  });

  await step("sign out, then the account page asks to sign in" + label, async () => {
    await Promise.all([page.waitForURL(/\/signin\?notice=signed_out/), page.click(".bar button[type=submit]")]);
    check((await page.textContent(".notice")).includes("signed out"), "a signed-out notice");
    await page.goto(`${BASE}/account`);
    check(/\/signin\?rd=%2Faccount$/.test(page.url()), `redirected to sign-in, at ${page.url()}`);
  });

  await step("a wrong password shows the error next to the field" + label, async () => {
    await page.goto(`${BASE}/signin`);
    await page.fill("#email", address);
    await page.fill("#password", "not the password at all");
    await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
    await page.waitForSelector("#password-error");
    check((await page.getAttribute("#password", "aria-invalid")) === "true", "the field is marked invalid");
    check((await page.textContent(".summary a[href='#password']")).includes("wrong"), "the summary links to the field");
    check((await page.inputValue("#email")) === address, "the address is kept");
  });

  await step("sign in and back to rd" + label, async () => {
    await page.goto(`${BASE}/signin?rd=%2Faccount%3Fx%3D1`);
    await page.fill("#email", address);
    await page.fill("#password", PASSWORD);
    await Promise.all([page.waitForURL(/\/account\?x=1$/), page.click("form button[type=submit]")]);
  });

  await step("an rd to another site is dropped" + label, async () => {
    const second = await context.newPage();
    await second.goto(`${BASE}/signin?rd=%2F%2Fevil.example%2F`);
    check((await second.url()).endsWith("/account"), `a signed-in visitor goes to the account page, not away: ${second.url()}`);
    await second.close();
  });

  await step("change password: other sessions end, this one stays" + label, async () => {
    const other = await browser.newContext({ javaScriptEnabled: js });
    const otherPage = await other.newPage();
    await signIn(otherPage, address, PASSWORD);
    await page.goto(`${BASE}/account`);
    check((await page.$$(".sessions li")).length === 2, "two sessions are listed");
    await page.fill("#current_password", PASSWORD);
    await page.fill("#new_password", NEW_PASSWORD);
    await Promise.all([page.waitForURL(/notice=password_changed/), page.click("form[action$='/account/password'] button[type=submit]")]);
    check((await page.$$(".sessions li")).length === 1, "one session is left");
    await otherPage.goto(`${BASE}/account`);
    check(otherPage.url().includes("/signin"), `the other browser is signed out: ${otherPage.url()}`);
    await other.close();
  });

  await step("revoke a session from the list signs that browser out at once" + label, async () => {
    const other = await browser.newContext({ javaScriptEnabled: js });
    const otherPage = await other.newPage();
    await signIn(otherPage, address, NEW_PASSWORD);
    await page.goto(`${BASE}/account`);
    const rows = await page.$$(".sessions li");
    check(rows.length === 2, "two sessions are listed");
    const button = await page.$(".sessions li:not(:has(.badge.ok)) button");
    await Promise.all([page.waitForURL(/notice=session_revoked/), button.click()]);
    await otherPage.goto(`${BASE}/account`);
    check(otherPage.url().includes("/signin"), `the revoked browser is signed out: ${otherPage.url()}`);
    await other.close();
  });

  await step("a lapsed access cookie is renewed from the refresh cookie" + label, async () => {
    const cookies = await context.cookies();
    const access = cookies.find((c) => c.name === "__Host-warden_at");
    check(access, "an access cookie is set");
    check(access.httpOnly && access.secure && access.sameSite === "Lax", "the access cookie is HttpOnly, Secure, Lax");
    await context.clearCookies({ name: "__Host-warden_at" });
    await page.goto(`${BASE}/account`);
    check(page.url().endsWith("/account"), `still signed in: ${page.url()}`);
    check((await context.cookies()).some((c) => c.name === "__Host-warden_at"), "a new access cookie");
  });

  await step("sign out everywhere" + label, async () => {
    await page.goto(`${BASE}/account`);
    await Promise.all([page.waitForURL(/signed_out_everywhere/), page.click("input[name=everywhere] ~ button")]);
    await page.goto(`${BASE}/account`);
    check(page.url().includes("/signin"), "signed out");
  });

  await context.close();
  return address;
}

async function keyboardOnly(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const address = email();
  await signUp(page, address);
  await context.clearCookies();
  await step("keyboard-only sign-in", async () => {
    await page.goto(`${BASE}/signin`);
    // Tab from the top: the skip link, the email, the password (and its
    // Show button), then the submit button.
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.classList.contains("skip")), "the skip link comes first");
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.id === "email"), "then the email field");
    await page.keyboard.type(address);
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.id === "password"), "then the password field");
    await page.keyboard.type(PASSWORD);
    await Promise.all([page.waitForURL(/\/account$/), page.keyboard.press("Enter")]);
    const focusable = await page.evaluate(() => {
      const el = document.querySelector(".bar button");
      el.focus();
      return document.activeElement === el;
    });
    check(focusable, "the sign-out button takes focus");
    await Promise.all([page.waitForURL(/signed_out/), page.keyboard.press("Enter")]);
  });
  await context.close();
}

async function accessibilityAndScreenshots(browser) {
  for (const scheme of ["light", "dark"]) {
    for (const [device, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 800 }]]) {
      const context = await browser.newContext({ viewport, colorScheme: scheme, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const shot = async (name) => {
        if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}-${device}-${scheme}.png`), fullPage: true });
      };
      await step(`axe and screenshots, ${device} ${scheme}`, async () => {
        await page.goto(`${BASE}/signin`);
        await axe(page, `/signin (${device}, ${scheme})`);
        await shot("signin");
        await page.fill("#email", "nobody@example.com");
        await page.fill("#password", "wrong password here");
        await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
        await page.waitForSelector(".summary");
        await axe(page, `/signin with errors (${device}, ${scheme})`);
        await shot("signin-error");
        await page.goto(`${BASE}/signup`);
        await axe(page, `/signup (${device}, ${scheme})`);
        await shot("signup");
        await page.goto(`${BASE}/forgot-password`);
        await axe(page, `/forgot-password (${device}, ${scheme})`);
        await shot("forgot-password");
        await page.fill("#email", email());
        await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
        await page.waitForSelector("h1");
        check((await page.textContent("h1")).includes("Check your inbox"), "the inbox page, not an error");
        await axe(page, `check your inbox (${device}, ${scheme})`);
        await shot("forgot-password-sent");
        await page.goto(`${BASE}/reset-password?token=wml_spent`);
        await axe(page, `a spent link (${device}, ${scheme})`);
        await shot("link-spent");
        await signUp(page, email());
        await axe(page, `/account (${device}, ${scheme})`);
        await shot("account");
      });
      await context.close();
    }
  }
}

// Warden as an OpenID provider, seen by the person: an app (a public,
// third-party client) sends them to /oauth2/authorize; they are signed in,
// so the consent page asks; "Allow" goes back to the app with a code (by
// the page that moves on by itself, which also works without JavaScript);
// the next time no page is shown.
async function openIdConsent(browser, js) {
  const callback = `http://127.0.0.1:${STRANGER_PORT}/cb`;
  const authorize = `${BASE}/oauth2/authorize?` + new URLSearchParams({
    response_type: "code", client_id: OIDC_CLIENT, redirect_uri: callback,
    scope: "openid email", state: "st-1", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });
  const label = js ? "" : " (no JavaScript)";
  for (const [device, viewport, scheme] of js
    ? [["desktop", { width: 1280, height: 800 }, "light"], ["phone", { width: 390, height: 844 }, "dark"]]
    : [["desktop", { width: 1280, height: 800 }, "light"]]) {
    const context = await browser.newContext({ javaScriptEnabled: js, viewport, colorScheme: scheme });
    const page = await context.newPage();
    // The app answers 204, so the browser stays where it was.
    await page.route(`${callback}**`, (route) => route.fulfill({ status: 204 }));
    await step(`consent to an OpenID client, ${device} ${scheme}${label}`, async () => {
      await signUp(page, email("consent"));
      await page.goto(authorize);
      check((await page.textContent("h1")).includes("Allow Tickets"), "the consent page asks about the app");
      check((await page.textContent(".scopes")).includes("email address"), "it lists what the app will see");
      if (js) await axe(page, `/oauth2/authorize consent (${device}, ${scheme})`);
      if (SHOTS && js) await page.screenshot({ path: path.join(SHOTS, `consent-${device}-${scheme}.png`), fullPage: true });
      const back = page.waitForRequest((r) => r.url().startsWith(callback), { timeout: 10000 });
      await page.click("button[value=allow]");
      const url = new URL((await back).url());
      if (js) {
        // The app's 204 leaves the browser on the page that moved it on.
        await page.waitForSelector("p.onward a");
        await axe(page, `the way back to the app (${device}, ${scheme})`);
        if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `continue-${device}-${scheme}.png`), fullPage: true });
      }
      check(url.searchParams.get("code").startsWith("woc_"), "back at the app with a code");
      check(url.searchParams.get("state") === "st-1", "and the app's state");
      // Remembered: straight back the next time.
      const again = page.waitForRequest((r) => r.url().startsWith(callback), { timeout: 10000 });
      await page.goto(authorize).catch(() => {});
      check(new URL((await again).url()).searchParams.get("code").startsWith("woc_"), "no second consent");
      // Logout asked by an app without a hint: the person confirms (in a
      // tab of its own: the app's 204 leaves this one mid-navigation).
      const tab = await context.newPage();
      await tab.goto(`${BASE}/oauth2/logout`);
      check((await tab.textContent("h1")).includes("Sign out"), "the logout confirmation");
      if (js) await axe(tab, `/oauth2/logout (${device}, ${scheme})`);
      if (SHOTS && js) await tab.screenshot({ path: path.join(SHOTS, `logout-${device}-${scheme}.png`), fullPage: true });
      await Promise.all([tab.waitForURL(/signed_out/), tab.click("form[action$='/oauth2/logout'] button")]);
    });
    await context.close();
  }
}

function serveOtherOrigin(port) {
  // A page of a browser app on another origin, calling Warden with CORS.
  const html = `<!doctype html><html lang="en"><head><title>App</title></head><body><h1>App</h1></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function cors(browser) {
  const other = await serveOtherOrigin(OTHER_PORT);
  const stranger = await serveOtherOrigin(STRANGER_PORT);
  const context = await browser.newContext();
  const page = await context.newPage();
  const address = email();
  await signUp(page, address);
  await step("CORS: an allowed origin reads the API with the person's cookies", async () => {
    await page.goto(`http://127.0.0.1:${OTHER_PORT}/`);
    const me = await page.evaluate(async (base) => {
      const r = await fetch(`${base}/v1/me`, { credentials: "include" });
      return { status: r.status, body: await r.json() };
    }, BASE);
    check(me.status === 200, `200 from /v1/me, got ${me.status}`);
    check(me.body.email === address, "the signed-in person's account");
    const preflighted = await page.evaluate(async (base) => {
      const r = await fetch(`${base}/v1/signin`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "nobody@example.com", password: "wrong password 123" }),
      });
      return r.status;
    }, BASE);
    check(preflighted === 401, `a preflighted POST is answered and readable: ${preflighted}`);
  });
  await step("CORS: another origin cannot read the API", async () => {
    await page.goto(`http://127.0.0.1:${STRANGER_PORT}/`);
    const outcome = await page.evaluate(async (base) => {
      try {
        await fetch(`${base}/v1/me`, { credentials: "include" });
        return "read";
      } catch (e) {
        return "blocked";
      }
    }, BASE);
    check(outcome === "blocked", `the browser blocks the answer, got ${outcome}`);
  });
  await context.close();
  other.close();
  stranger.close();
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
    // Playwright refuses --user-data-dir in `args`; it starts every launch
    // on a fresh temporary profile of its own, and a fresh directory here
    // keeps the browser's other caches out of $HOME.
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  try {
    await journeys(browser, true);
    await journeys(browser, false);
    await lifecycle(browser, true);
    await lifecycle(browser, false);
    await secondFactors(browser, true);
    await secondFactors(browser, false);
    await passkeys(browser);
    await keyboardOnly(browser);
    await accessibilityAndScreenshots(browser);
    await openIdConsent(browser, true);
    await openIdConsent(browser, false);
    await cors(browser);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  harness.finish();
})().catch((e) => {
  console.log(`FAIL harness: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
