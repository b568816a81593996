// End-to-end test of the web page in Debian's chromium (playwright-core, no browser download):
// the real `idphoto serve` with the ISNet model; token, create a card, upload the astronaut,
// Clean Photo, the preview changes, a colour preset re-cleans, download the card PDF and check
// it (poppler), phone width, and a corrupt upload shows its error. Screenshots go to OUT_DIR.
//
// Usage: node e2e.js PATH/TO/idphoto OUT_DIR      (models from $IDPHOTO_MODELS_DIR or <repo>/models)
// Every missing prerequisite (binary, model, chromium, playwright-core, photo) is a failure.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const assert = require('assert');

const exe = process.argv[2];
const outDir = process.argv[3];
const repo = path.resolve(__dirname, '../..');
const modelsDir = process.env.IDPHOTO_MODELS_DIR || path.join(repo, 'models');
const photo = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const chromiumPath = '/usr/bin/chromium';

function step(msg) { console.log(`e2e: ${msg}`); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

async function waitReady(base, server, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (server.exitCode !== null) throw new Error(`idphoto serve exited with ${server.exitCode}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) return;
    } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('idphoto serve did not become ready');
}

async function main() {
  for (const [what, p] of [['idphoto binary', exe], ['model', path.join(modelsDir, 'isnet-general-fp16.onnx')],
    ['chromium (apt chromium)', chromiumPath], ['sample photo (python3-skimage)', photo]])
    assert.ok(p && fs.existsSync(p), `${what} missing: ${p}`);
  assert.ok(outDir, 'usage: node e2e.js IDPHOTO OUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  const { chromium } = require('playwright-core');  // scripts/setup-test-web installs it

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idphoto-web-e2e-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const secret = 'e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
  const env = Object.assign({}, process.env, {
    PORT: String(port), IDPHOTO_BIND: '127.0.0.1', IDPHOTO_PUBLIC_URL: base, JWT_SECRET: secret,
    IDPHOTO_DATA_DIR: dataDir, IDPHOTO_MODELS_DIR: modelsDir,
  });
  const server = spawn(exe, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let serverLog = '';
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  let browser;
  try {
    await waitReady(base, server, 120000);
    const token = execFileSync(exe, ['token', '--sub', 'e2e'], { env }).toString().trim();
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    step('open the page');
    await page.goto(base);
    assert.strictEqual(await page.title(), 'idphoto — ID photos and cards');
    // Every control has an accessible name (a label or aria-label).
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select')]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.id || el.name));
    assert.deepStrictEqual(unlabelled, [], 'unlabelled controls');
    // Keyboard: the first Tab lands on the token field.
    await page.keyboard.press('Tab');
    assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'token');

    step('store the token (localStorage)');
    await page.fill('#token', token);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => localStorage.getItem('idphoto.token'));
    await page.reload();
    assert.strictEqual(await page.inputValue('#token'), token, 'token survives a reload');

    step('create a card');
    await page.fill('#f-fullName', 'Eileen Astronaut');
    await page.fill('#f-idNumber', 'NASA-0001');
    await page.fill('#f-organization', 'Space Agency');
    await page.click('#create-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#card-select').selectedOptions[0]?.textContent.includes('Eileen Astronaut'));
    const cardId = await page.inputValue('#card-select');
    assert.match(cardId, /^[0-9a-f]{32}$/);

    step('upload the photo and clean it');
    await page.setInputFiles('#file', photo);
    await page.waitForFunction(() => document.querySelector('#raw-img').src.startsWith('blob:'));
    assert.strictEqual(await page.getAttribute('#clean-img', 'src'), null, 'no clean preview before cleaning');
    await page.click('#clean');
    await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('Clean photo ready'), null, { timeout: 180000 });
    await page.waitForFunction(() => { const i = document.querySelector('#clean-img'); return i.complete && i.naturalWidth > 0; });
    assert.strictEqual(await page.textContent('#error'), '');
    // The preview changed: the clean image differs from the raw one, and its corner is the blue background.
    const compare = () => page.evaluate(() => {
      const px = (img) => {
        const c = document.createElement('canvas');
        c.width = 64; c.height = 64;
        const g = c.getContext('2d');
        g.drawImage(img, 0, 0, 64, 64);
        return g.getImageData(0, 0, 64, 64).data;
      };
      const a = px(document.querySelector('#raw-img')), b = px(document.querySelector('#clean-img'));
      let diff = 0;
      for (let i = 0; i < a.length; i += 4) diff += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      const k = 4 * (1 * 64 + 62);  // top-right corner: background in the astronaut (the flag is top-left)
      return { diff: diff / (64 * 64 * 3), corner: [b[k], b[k + 1], b[k + 2]] };
    });
    let cmp = await compare();
    step(`raw vs clean mean |diff| ${cmp.diff.toFixed(1)}, clean corner ${cmp.corner}`);
    assert.ok(cmp.diff > 10, 'the clean preview differs from the raw one');
    assert.ok(cmp.corner[2] > cmp.corner[0] + 40, `clean corner is blue: ${cmp.corner}`);

    step('a colour preset cleans again');
    const firstClean = await page.getAttribute('#clean-img', 'src');
    await page.check('input[name=bg][value=white]');
    await page.waitForFunction(() => document.querySelector('#status').textContent.includes('background white'), null, { timeout: 180000 });
    await page.waitForFunction((prev) => { const i = document.querySelector('#clean-img'); return i.src !== prev && i.complete && i.naturalWidth > 0; }, firstClean);
    cmp = await compare();
    assert.ok(cmp.corner.every((v) => v > 235), `clean corner is white after the preset: ${cmp.corner}`);
    await page.screenshot({ path: path.join(outDir, 'web-e2e.png'), fullPage: true });

    step('download the card PDF');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const pdfPath = path.join(outDir, 'web-e2e-card.pdf');
    await download.saveAs(pdfPath);
    const pdf = fs.readFileSync(pdfPath);
    assert.strictEqual(pdf.subarray(0, 4).toString(), '%PDF');
    const info = execFileSync('pdfinfo', [pdfPath]).toString();
    const m = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(info);
    assert.ok(m && Math.abs(+m[1] - 242.65) < 0.5 && Math.abs(+m[2] - 153.01) < 0.5, `CR80 page: ${info}`);
    const text = execFileSync('pdftotext', [pdfPath, '-']).toString();
    for (const s of ['Eileen Astronaut', 'NASA-0001', 'Space Agency', cardId]) assert.ok(text.includes(s), `${s} in the PDF`);
    assert.ok(!text.includes('PHOTO NOT CLEANED'), 'the clean photo is on the card');

    step('the compliance checklist');
    const rules = await page.$$eval('#checklist li', (lis) => lis.map((li) => li.dataset.rule));
    assert.strictEqual(rules.length, 16, `16 rules listed: ${rules}`);
    assert.ok(rules.includes('eye_line') && rules.includes('background_colour'), `rule ids: ${rules}`);
    const verdict = await page.textContent('#verdict');
    assert.match(verdict, /^card: (PASS|WARN|FAIL)\./, `verdict shown: ${verdict}`);
    // Every failed rule carries its hint for the person taking the photo.
    const failedWithoutHint = await page.$$eval('#checklist li.fail, #checklist li.warn', (lis) => lis.filter((li) => !li.querySelector('.hint')).map((li) => li.dataset.rule));
    assert.deepStrictEqual(failedWithoutHint, [], 'failed rules have hints');

    step('another photo format frames again (US 2 x 2 in: 600 x 600 px)');
    const beforeSpec = await page.getAttribute('#clean-img', 'src');
    await page.selectOption('#spec', 'us-2x2');
    await page.waitForFunction((prev) => { const i = document.querySelector('#clean-img'); return i.src !== prev && i.complete && i.naturalWidth > 0; }, beforeSpec, { timeout: 180000 });
    const dims = await page.evaluate(() => { const i = document.querySelector('#clean-img'); return [i.naturalWidth, i.naturalHeight]; });
    assert.deepStrictEqual(dims, [600, 600], `us-2x2 photo: ${dims}`);
    await page.waitForFunction(() => document.querySelector('#verdict').textContent.startsWith('us-2x2:'));
    await page.screenshot({ path: path.join(outDir, 'web-e2e-compliance.png'), fullPage: true });

    step('download the photo sheet (4 x 6 in)');
    await page.selectOption('#paper', '4x6in');
    const [sheetDl] = await Promise.all([page.waitForEvent('download'), page.click('#sheet')]);
    const sheetPath = path.join(outDir, 'web-e2e-photo-sheet.pdf');
    await sheetDl.saveAs(sheetPath);
    const sheetInfo = execFileSync('pdfinfo', [sheetPath]).toString();
    const sm = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(sheetInfo);
    assert.ok(sm && Math.abs(Math.min(+sm[1], +sm[2]) - 288) < 0.5 && Math.abs(Math.max(+sm[1], +sm[2]) - 432) < 0.5, `4x6 in sheet: ${sheetInfo}`);

    step('phone width');
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 376, `no horizontal scrolling at 375 px (scrollWidth ${overflow})`);
    await page.screenshot({ path: path.join(outDir, 'web-e2e-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 1400 });

    step('a corrupt photo shows its error');
    await page.fill('#f-fullName', 'Broken Photo');
    await page.click('#create-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#card-select').selectedOptions[0]?.textContent.includes('Broken Photo'));
    const truncated = fs.readFileSync(photo).subarray(0, 4000);  // a PNG cut short: header fine, data missing
    await page.setInputFiles('#file', { name: 'broken.png', mimeType: 'image/png', buffer: truncated });
    await page.click('#clean');
    await page.waitForFunction(() => document.querySelector('#error').textContent.length > 0, null, { timeout: 120000 });
    const err = await page.textContent('#error');
    step(`error shown: ${err}`);
    assert.match(err, /^Cleaning failed: .*(corrupt|truncated)/i);
    await page.screenshot({ path: path.join(outDir, 'web-e2e-error.png'), fullPage: true });

    assert.deepStrictEqual(pageErrors, [], 'no script errors on the page');
    step('passed');
  } catch (e) {
    console.error(`e2e: FAILED: ${e.stack || e}`);
    console.error(`--- server log ---\n${serverLog.slice(-4000)}`);
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    server.kill('SIGTERM');
    await new Promise((r) => { if (server.exitCode !== null) r(); else server.on('exit', r); });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main();
