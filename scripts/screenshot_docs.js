// Screenshots built docs pages in headless Chromium and checks that KaTeX
// rendered their math: no raw \( \) or \[ \] left, and .katex elements present.
//
//   make docs && (cd site && python -m http.server 8765 &)
//   npm install --prefix /tmp/shot puppeteer-core @sparticuz/chromium
//   NODE_PATH=/tmp/shot/node_modules node scripts/screenshot_docs.js \
//       http://localhost:8765 variants/layer_norm/ out/
//
// (@sparticuz/chromium ships a headless Chromium inside the npm package, so
// this works where browsers cannot be downloaded; any Chrome works through
// CHROME_PATH.)
const chromium = require("@sparticuz/chromium");
const puppeteer = require("puppeteer-core");
const path = require("path");

(async () => {
  const [base, ...rest] = process.argv.slice(2);
  const outDir = rest.pop();
  const pages = rest.length ? rest : ["variants/layer_norm/"];
  const browser = await puppeteer.launch({
    args: chromium.args,
    executablePath: process.env.CHROME_PATH || (await chromium.executablePath()),
    headless: true,
  });
  let failed = false;
  for (const page_ of pages) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1600 });
    await page.goto(`${base}/${page_}`, { waitUntil: "networkidle0" });
    const report = await page.evaluate(() => {
      const text = document.querySelector("article").innerText;
      return {
        katex: document.querySelectorAll(".katex").length,
        display: document.querySelectorAll(".katex-display").length,
        raw: (text.match(/\\\(|\\\[|\\begin\{aligned\}/g) || []).length,
        errors: document.querySelectorAll(".katex-error").length,
      };
    });
    const file = path.join(outDir, page_.replace(/\W+/g, "_") + ".png");
    await page.screenshot({ path: file, fullPage: Boolean(process.env.FULL_PAGE) });
    const ok = report.katex > 0 && report.raw === 0 && report.errors === 0;
    failed = failed || !ok;
    console.log(`${ok ? "ok  " : "FAIL"} ${page_}: ${JSON.stringify(report)} -> ${file}`);
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
