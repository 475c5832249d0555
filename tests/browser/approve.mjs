// Opens an approval link in headless Chromium the way an approver does:
// reads the confirmation page, types a reason, presses the button and reads
// the result page. Screenshots of both pages go to the given folder.
//
//   node tests/browser/approve.mjs <link url> <screenshot dir> [reason]
//
// Prints one JSON line: {confirm: {status, title, endpoint, text}, result: {status, title, text}}.
// Uses Debian's /usr/bin/chromium (override with CHROMIUM); never downloads a browser.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [url, shots, reason = ""] = process.argv.slice(2);
if (!url || !shots) {
  console.error("usage: node approve.mjs <link url> <screenshot dir> [reason]");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Flags for a closed network and a root sandbox: no background calls home.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  const confirm = await page.goto(url);
  const before = {
    status: confirm.status(),
    title: await page.title(),
    endpoint: (await page.locator("#endpoint").textContent()) ?? "",
    text: await page.locator("body").innerText(),
  };
  await page.screenshot({ path: join(shots, "confirm.png"), fullPage: true });
  if (reason) await page.fill("#reason", reason);
  const [posted] = await Promise.all([page.waitForNavigation(), page.click("#confirm")]);
  const after = {
    status: posted.status(),
    title: await page.title(),
    text: await page.locator("body").innerText(),
  };
  await page.screenshot({ path: join(shots, "result.png"), fullPage: true });
  console.log(JSON.stringify({ confirm: before, result: after }));
} finally {
  await browser.close();
}
