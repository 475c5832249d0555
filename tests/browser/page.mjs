// Opens a page in headless Chromium, keeps a screenshot, and prints what a
// person would read: {status, title, text, tables: {id: [[cell, ...], ...]}}.
//
//   node tests/browser/page.mjs <url> <screenshot.png>
//
// Uses Debian's /usr/bin/chromium (override with CHROMIUM); never downloads a browser.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const [url, shot] = process.argv.slice(2);
if (!url || !shot) {
  console.error("usage: node page.mjs <url> <screenshot.png>");
  process.exit(2);
}
mkdirSync(dirname(shot), { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const response = await page.goto(url);
  const tables = await page.$$eval("table[id]", (ts) =>
    Object.fromEntries(ts.map((t) => [t.id, [...t.rows].map((r) => [...r.cells].map((c) => c.innerText))])),
  );
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({
    status: response.status(),
    title: await page.title(),
    text: await page.locator("body").innerText(),
    tables,
  }));
} finally {
  await browser.close();
}
