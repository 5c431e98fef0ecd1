// What every browser journey script shares: steps that count and report,
// expectations, unique addresses, and axe-core on a page. Required by
// journeys.cjs and social.cjs with WARDEN_TEST_NODE_MODULES set.
"use strict";
const path = require("path");
const fs = require("fs");

const modules = process.env.WARDEN_TEST_NODE_MODULES;
const axeSource = fs.readFileSync(path.join(modules, "axe-core", "axe.min.js"), "utf8");

const results = { passed: 0, failures: 0 };

function check(cond, what) {
  if (!cond) throw new Error("expected: " + what);
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.passed++;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.failures++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

let counter = 0;
function email(prefix) {
  counter++;
  return `${prefix}-${Date.now()}-${counter}@example.com`;
}

async function axe(page, label) {
  await page.addScriptTag({ content: axeSource }).catch(async () => {
    // The CSP forbids inline scripts on Warden's pages: evaluate instead.
    await page.evaluate(axeSource);
  });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  check(result.length === 0, `no axe violation on ${label}: ${result.join("; ")}`);
}

// Prints the tally and exits non-zero on any failure.
function finish() {
  console.log(`${results.passed} passed, ${results.failures} failed`);
  process.exit(results.failures === 0 ? 0 : 1);
}

module.exports = { check, step, email, axe, finish, results };
