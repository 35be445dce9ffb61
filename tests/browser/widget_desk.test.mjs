// The web chat widget, the agent desk and the demo page, driven in a real
// browser (Debian's Chromium through playwright-core) against the real router.
//
//   SB_BINARY=build/switchboard node tests/browser/widget_desk.test.mjs
//
// Env: SB_BINARY (default build/switchboard, relative to the repository),
// SB_TEST_OUTPUT (default tests/browser/output/: screenshots, server log),
// SB_CHROMIUM (default /usr/bin/chromium), SB_UPDATE_IMAGES=1 copies the
// screenshots to docs/images/ for the README.
// Exit 0 only when every check passed; the last line says "N passed, N failed".

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BINARY = process.env.SB_BINARY ? path.resolve(process.env.SB_BINARY) : path.join(ROOT, 'build', 'switchboard');
const OUT = process.env.SB_TEST_OUTPUT ? path.resolve(process.env.SB_TEST_OUTPUT) : path.join(HERE, 'output');
const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const WEB = path.join(ROOT, 'web');
const T = 10000;   // default wait for anything the router should do at once

fs.mkdirSync(OUT, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-'));

/* --- a tiny sequential runner -------------------------------------------------- */
const results = [];
const notes = [];
let abort = null;   // set when the router is not there: the remaining steps fail at once
async function step(name, fn) {
  const t0 = Date.now();
  if (abort && !name.startsWith('router exits')) {
    results.push({ name, ok: false });
    console.log(`FAIL   ${name} (not run: ${abort})`);
    return;
  }
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok     ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL   ${name} (${Date.now() - t0} ms)\n       ${String(e && e.message || e).split('\n').join('\n       ')}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, msg) {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${msg}\n  expected: ${JSON.stringify(b)}\n  actual:   ${JSON.stringify(a)}`);
}

/* --- the router ------------------------------------------------------------------ */
const CONF = `# written by tests/browser/widget_desk.test.mjs (shape of conf/test.conf)
server: {
  listen = "127.0.0.1:0";
  max_frame_bytes = 65536;
  rate = { messages_per_second = 50; burst = 100; };
  # token: admin-demo
  admin_token_sha256 = "198352b6a8078a827be267c847d39506629d3af446a3cc0bce670dd3a6b5d753";
  web_root = "${WEB}";
  demo = true;
};
store: { path = ":memory:"; sync = "normal"; };
routing: { default_language = "en"; detect_language = false; agent_grace_s = 5; };
skills = [ "billing", "technical" ];
languages = [ "en", "es", "de" ];
topics = (
  { id = "billing"; pool = "frontline"; skills = { billing = 3; }; },
  { id = "tech";    pool = "frontline"; skills = { technical = 3; }; }
);
default_pool = "frontline";
pools = (
  { id = "frontline"; tier = 1; max_wait_s = 600; overflow = "experts"; escalate_to = "supervisors"; },
  { id = "experts"; tier = 2; strategy = "best_skill"; accept = "offer"; offer_timeout_s = 30;
    escalate_to = "supervisors"; },
  { id = "supervisors"; tier = 3; }
);
agents = (
  # token: alice-demo
  { id = "alice"; name = "Alice";
    token_sha256 = "a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055";
    pools = [ "frontline" ]; languages = { en = 10; es = 6; };
    skills = { billing = 7; technical = 3; }; capacity = { chat = 2; }; },
  # token: dieter-demo
  { id = "dieter"; name = "Dieter";
    token_sha256 = "71fe8b77d5b99ad5532a56c9df65bae190e0fb186f37348b6f1318d5e35374a6";
    pools = [ "experts" ]; languages = { de = 10; en = 8; };
    skills = { technical = 9; billing = 6; }; capacity = { chat = 2; }; },
  # token: sofia-demo
  { id = "sofia"; name = "Sofia"; role = "supervisor";
    token_sha256 = "56fe9023fabf3403f555bf8e45377488d42e692a3dce2eb7248eae7591732622";
    pools = [ "supervisors" ]; languages = { en = 10; es = 10; }; capacity = { chat = 2; }; }
);
templates: {
  en = {
    queued = "You are number {position} in line (about {eta}).";
    agent_joined = "{agent} has joined the conversation.";
    transferring = "Connecting you with {pool}. Your conversation comes with you.";
    closed = "This conversation is closed. Thank you!";
  };
};
`;

function startServer() {
  const conf = path.join(tmp, 'browser.conf');
  fs.writeFileSync(conf, CONF);
  const log = fs.createWriteStream(path.join(OUT, 'server.log'));
  const proc = spawn(BINARY, ['-c', conf], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr.pipe(log);
  const exited = new Promise(resolve => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('no "listening on" line within 10 s (see server.log)')), 10000);
    proc.stdout.on('data', d => {
      log.write(d);
      buf += d;
      const m = buf.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('error', e => { clearTimeout(timer); reject(e); });
    exited.then(x => { clearTimeout(timer); reject(new Error(`router exited at start: ${JSON.stringify(x)}`)); });
  });
  return { proc, port, exited };
}

/* One raw HTTP request: fetch() would normalize the "../" we want to send. */
function rawGet(port, target) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`timeout on ${target}`)); });
    s.on('connect', () => s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    s.on('data', d => { data += d; });
    s.on('end', () => resolve({ status: Number((data.match(/^HTTP\/1\.[01] (\d{3})/) || [])[1] || 0), text: data }));
    s.on('error', reject);
  });
}

/* --- browsers ----------------------------------------------------------------------- */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const pageErrors = [];
async function newBrowser(name) {
  const dir = fs.mkdtempSync(path.join(tmp, `profile-${name}-`));   // a fresh user-data dir each
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS,
    viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC'
  });
  ctx.setDefaultTimeout(T);
  // Every WebSocket frame each browser sends and gets, for diagnosis: OUT/ws-<name>.log
  const wslog = fs.createWriteStream(path.join(OUT, `ws-${name}.log`));
  const watch = p => {
    p.on('pageerror', e => pageErrors.push(`${name}: ${e.message}`));
    p.on('websocket', ws => {
      const t0 = Date.now();
      wslog.write(`open  ${ws.url()}\n`);
      ws.on('framesent', f => wslog.write(`>> ${String(f.payload).slice(0, 2000)}\n`));
      ws.on('framereceived', f => wslog.write(`<< ${String(f.payload).slice(0, 2000)}\n`));
      ws.on('close', () => wslog.write(`close ${ws.url()} after ${Date.now() - t0} ms\n`));
    });
  };
  ctx.on('page', watch);
  ctx.pages().forEach(watch);
  return ctx;
}

/* The widget lives in an open shadow root; Playwright's CSS engine pierces it. */
const W = s => `switchboard-chat ${s}`;
const transcript = page => page.evaluate(() => {
  const root = document.querySelector('switchboard-chat').shadowRoot;
  return [...root.querySelectorAll('.items > *')].map(e => ({
    kind: e.classList.contains('msg') ? 'msg' : 'note',
    from: e.dataset.from || e.className.replace(/^note /, ''),
    seq: e.dataset.seq ? Number(e.dataset.seq) : null,
    text: (e.querySelector('.bubble') || e.querySelector('span')).textContent
  }));
});
function checkNoDuplicates(items) {
  const seqs = items.filter(i => i.seq != null).map(i => i.seq);
  eq(seqs, [...new Set(seqs)], 'a seq is shown twice');
  eq(seqs, [...seqs].sort((a, b) => a - b), 'messages are not in seq order');
}

/* --- the run ------------------------------------------------------------------------ */
let server, port, base, customerCtx, agentCtx, expertCtx, superCtx, cust, desk, desk2, sup;
const TEXT1 = 'Hello, I was charged twice for order 1042.';
const REPLY1 = 'Hi! I am looking at your invoice right now.';
const RTL = 'שלום, אני צריכה עזרה עם החשבונית';
const AWAY = 'Are you still there? I found the duplicate charge.';

try {
  await step('router starts with the demo page on', async () => {
    try {
      assert(fs.existsSync(BINARY), `no router binary at ${BINARY} (set SB_BINARY)`);
      server = startServer();
      port = await server.port;
    } catch (e) {
      abort = 'the router did not start';
      throw e;
    }
    base = `http://127.0.0.1:${port}`;
    server.exited.then(x => { abort = abort || `the router exited (${JSON.stringify(x)})`; });
  });

  /* --- static files --------------------------------------------------------------- */
  await step('static: Content-Type and cache headers for .js, .css, .html', async () => {
    const want = [
      ['/widget/switchboard.js', /^(text|application)\/javascript/],
      ['/widget/switchboard.css', /^text\/css/],
      ['/desk/', /^text\/html/],
      ['/desk/desk.js', /^(text|application)\/javascript/],
      ['/desk/desk.css', /^text\/css/],
      ['/', /^text\/html/],
      ['/demo.css', /^text\/css/]
    ];
    for (const [p, type] of want) {
      const r = await fetch(base + p);
      assert(r.status === 200, `${p}: status ${r.status}`);
      const ct = r.headers.get('content-type') || '';
      assert(type.test(ct), `${p}: Content-Type "${ct}"`);
      const cc = r.headers.get('cache-control') || '';
      assert(/max-age=\d+|no-cache|must-revalidate/.test(cc), `${p}: Cache-Control "${cc}"`);
      await r.arrayBuffer();
    }
  });

  await step('static: no directory listing', async () => {
    for (const p of ['/widget/', '/widget']) {
      const r = await fetch(base + p, { redirect: 'manual' });
      const body = await r.text();
      assert(r.status === 404 || r.status === 403 || (r.status >= 300 && r.status < 400) ||
        !/switchboard\.(js|css)/.test(body), `${p}: status ${r.status} lists the directory`);
      assert(!/switchboard\.css/.test(body), `${p}: body names the directory's files`);
    }
  });

  await step('static: path traversal does not reach the configuration', async () => {
    const targets = [
      '/widget/../../conf/switchboard.conf',
      '/widget/%2e%2e/%2e%2e/conf/switchboard.conf',
      '/widget/%2E%2E/%2E%2E/conf/switchboard.conf',
      '/widget/..%2f..%2fconf%2fswitchboard.conf',
      '/widget/%2e%2e%2f%2e%2e%2fconf%2fswitchboard.conf',
      '/widget/..%5c..%5cconf%5cswitchboard.conf',
      '/widget/%252e%252e/%252e%252e/conf/switchboard.conf',
      '/desk/../../conf/switchboard.conf',
      '/desk/%2e%2e/%2e%2e/conf/test.conf',
      '/../conf/switchboard.conf',
      '/%2e%2e/%2e%2e/conf/switchboard.conf',
      '/%2e%2e/conf/switchboard.conf'
    ];
    assert(fs.existsSync(path.join(ROOT, 'conf', 'switchboard.conf')), 'conf/switchboard.conf is missing: the check would prove nothing');
    for (const t of targets) {
      const r = await rawGet(port, t);
      assert(r.status !== 0, `${t}: no HTTP answer`);
      assert(!/admin_token_sha256|token_sha256/.test(r.text), `${t}: status ${r.status} returned the configuration`);
      assert(r.status !== 200, `${t}: status 200`);
    }
  });

  /* --- the customer writes ------------------------------------------------------------ */
  await step('customer: the demo page shows the launcher, the page CSS does not reach it', async () => {
    customerCtx = await newBrowser('customer');
    cust = customerCtx.pages()[0] || await customerCtx.newPage();
    await cust.addInitScript(() => {
      try { if (!sessionStorage.getItem('sb-test-hold')) throw 0; } catch (e) {
        // Normal run: keep a hand on the page's sockets so a test can drop one.
        const Native = window.WebSocket;
        window.__sbSockets = [];
        window.WebSocket = class extends Native {
          constructor(...a) { super(...a); window.__sbSockets.push(this); }
        };
        return;
      }
      window.__sbHeld = true;
      window.WebSocket = class { constructor() { this.readyState = 0; } send() {} close() {} };
    });
    await cust.goto(base + '/');
    await cust.locator(W('.launcher')).waitFor({ state: 'visible' });
    const style = await cust.locator(W('.launcher')).evaluate(e => {
      const s = getComputedStyle(e);
      return { radius: s.borderTopLeftRadius, position: getComputedStyle(e.parentElement).position };
    });
    eq(style, { radius: '50%', position: 'fixed' }, 'the demo page\'s "button { border-radius: 0 }" leaked into the widget');
    assert(await cust.locator('.card').count() >= 3, 'the demo page shows no product cards');
    assert(await cust.locator('a[href="/desk/"]').count() === 1, 'the demo page does not link to /desk/');
  });

  await step('customer: opening the chat focuses the composer; ARIA roles and labels', async () => {
    await cust.locator(W('.launcher')).click();
    await cust.locator(W('[role="dialog"]')).waitFor({ state: 'visible' });
    const a11y = await cust.evaluate(() => {
      const r = document.querySelector('switchboard-chat').shadowRoot;
      const dlg = r.querySelector('[role="dialog"]');
      const log = r.querySelector('[role="log"]');
      const unlabeled = [...r.querySelectorAll('button')].filter(b =>
        !b.hidden && !(b.getAttribute('aria-label') || b.textContent.trim())).map(b => b.className);
      return {
        focused: r.activeElement && r.activeElement.tagName,
        dialogLabel: !!(dlg.getAttribute('aria-labelledby') && r.getElementById(dlg.getAttribute('aria-labelledby')).textContent),
        live: log && log.getAttribute('aria-live'),
        expanded: r.querySelector('.launcher').getAttribute('aria-expanded'),
        unlabeled
      };
    });
    eq(a11y, { focused: 'TEXTAREA', dialogLabel: true, live: 'polite', expanded: 'true', unlabeled: [] }, 'accessibility');
  });

  await step('customer: writes; the message shows pending, then ✓ with its seq; a queue notice', async () => {
    await cust.locator(W('.intro .name')).fill('Maya');
    await cust.locator(W('textarea')).fill(TEXT1);
    await cust.keyboard.press('Enter');
    const sent = cust.locator(W('.msg.me[data-status="sent"]'));
    await sent.waitFor();
    eq(await sent.locator('.bubble').textContent(), TEXT1, 'message text');
    assert(Number(await sent.getAttribute('data-seq')) >= 1, 'no seq on the acknowledged message');
    eq(await sent.locator('.tick').textContent(), '✓', 'delivery tick');
    eq(await sent.locator('.bubble').getAttribute('dir'), 'auto', 'bubble dir');
    const q = cust.locator(W('.note.queue'));
    await q.waitFor();
    assert((await q.textContent()).includes('in line'), `queue notice text: ${await q.textContent()}`);
  });

  /* --- the agent ----------------------------------------------------------------------- */
  await step('agent: signs in to the desk and goes available', async () => {
    agentCtx = await newBrowser('agent');
    desk = agentCtx.pages()[0] || await agentCtx.newPage();
    await desk.goto(base + '/desk/');
    await desk.locator('#token').fill('alice-demo');
    await desk.getByRole('button', { name: 'Sign in' }).click();
    await desk.locator('#app').waitFor({ state: 'visible' });
    eq(await desk.locator('.me-name').textContent(), 'Alice', 'agent name');
    eq(await desk.locator('#status').getAttribute('aria-checked'), 'false', 'signed in as away');
    await desk.locator('#status').click();
    await desk.waitForFunction(() => document.querySelector('#status').getAttribute('aria-checked') === 'true');
  });

  await step('agent: receives the conversation with its context', async () => {
    const item = desk.locator('.conv-item').first();
    await item.waitFor();
    await item.click();
    await desk.locator('.transcript .msg.them .bubble', { hasText: TEXT1 }).waitFor();
    eq(await desk.locator('#conv-title').textContent(), 'Maya', 'customer name from hello');
    const details = await desk.locator('.details').textContent();
    assert(details.includes('billing'), `context lacks the topic: ${details}`);
    const attrs = await desk.locator('.attributes').textContent();
    assert(attrs.includes('page') && attrs.includes('/'), `context lacks the page attribute: ${attrs}`);
  });

  await step('customer: sees "agent joined"; typing shows on the desk', async () => {
    await cust.locator(W('.note.agent_joined')).waitFor();
    await cust.locator(W('textarea')).pressSequentially('one more thing', { delay: 10 });
    await desk.locator('.ctyping').waitFor({ state: 'visible' });
    await cust.locator(W('textarea')).fill('');
  });

  await step('agent: answers; shown on ok with its seq; the customer sees the answer and the typing dots before it', async () => {
    await desk.locator('.reply textarea').pressSequentially(REPLY1.slice(0, 6), { delay: 10 });
    await cust.locator(W('.typing')).waitFor({ state: 'visible' });
    await desk.locator('.reply textarea').fill(REPLY1);
    await desk.locator('.reply textarea').press('Enter');
    const mine = desk.locator('.transcript .msg.mine', { hasText: REPLY1 });
    await mine.waitFor();
    assert(await mine.getAttribute('data-seq'), 'the agent\'s message has no seq after ok');
    await cust.locator(W('.msg.them .bubble'), { hasText: REPLY1 }).waitFor();
    eq(await cust.locator(W('.msg.them .who')).first().textContent(), 'Alice', 'agent name above the answer');
  });

  await step('customer: right-to-left text renders right to left (dir="auto")', async () => {
    await cust.locator(W('textarea')).fill(RTL);
    await cust.keyboard.press('Enter');
    const b = cust.locator(W('.msg.me[data-status="sent"] .bubble'), { hasText: RTL });
    await b.waitFor();
    eq(await b.evaluate(e => getComputedStyle(e).direction), 'rtl', 'direction of a Hebrew bubble');
    const d = desk.locator('.transcript .msg.them .bubble', { hasText: RTL });
    await d.waitFor();
    eq(await d.evaluate(e => getComputedStyle(e).direction), 'rtl', 'direction on the desk');
  });

  await step('agent: internal note shows on the desk, never in the widget', async () => {
    await desk.getByRole('tab', { name: 'Internal note' }).click();
    await desk.locator('.reply textarea').fill('Duplicate charge confirmed, refund pending (INV-1042).');
    await desk.locator('.reply textarea').press('Enter');
    await desk.locator('.transcript .note .bubble', { hasText: 'INV-1042' }).waitFor();
    await desk.locator('.notes li', { hasText: 'INV-1042' }).waitFor();
    await desk.getByRole('tab', { name: 'Reply' }).click();
    await cust.waitForTimeout(500);
    const t = await transcript(cust);
    assert(!t.some(i => i.text.includes('INV-1042')), 'the internal note reached the customer');
  });

  /* --- reloads and drops ------------------------------------------------------------------- */
  let before;
  await step('customer: reload mid-conversation keeps the transcript, no duplicates', async () => {
    before = await transcript(cust);
    assert(before.filter(i => i.kind === 'msg').length >= 3, `too few messages before the reload: ${JSON.stringify(before)}`);
    await cust.reload();
    await cust.locator(W('.msg.them .bubble'), { hasText: REPLY1 }).waitFor();
    await cust.waitForTimeout(1500);           // let the resume replay arrive
    const after = await transcript(cust);
    checkNoDuplicates(after);
    eq(after.filter(i => i.kind === 'msg'), before.filter(i => i.kind === 'msg'), 'messages after the reload');
    assert(await cust.locator(W('[role="dialog"]')).isVisible(), 'the panel did not stay open across the reload');
  });

  await step('customer: the stored transcript shows before the router answers', async () => {
    // With 'sb-test-hold' set, the page's WebSocket never connects (see the
    // init script installed with the customer's browser): nothing comes from the
    // router, and the chat must still be there, from sessionStorage alone.
    await cust.evaluate(() => sessionStorage.setItem('sb-test-hold', '1'));
    await cust.reload();
    await cust.locator(W('.msg.them .bubble'), { hasText: REPLY1 }).waitFor({ timeout: 3000 });
    const held = await transcript(cust);
    eq(await cust.evaluate(() => window.__sbHeld), true, 'the hold did not apply');
    eq(held.filter(i => i.kind === 'msg').map(i => i.text), before.filter(i => i.kind === 'msg').map(i => i.text),
      'transcript rendered from sessionStorage');
    await cust.evaluate(() => sessionStorage.removeItem('sb-test-hold'));
  });

  await step('customer: messages sent while away arrive once on resume', async () => {
    await cust.goto('about:blank');                 // the socket drops, sessionStorage stays
    await desk.locator('.reply textarea').fill(AWAY);
    await desk.locator('.reply textarea').press('Enter');
    await desk.locator('.transcript .msg.mine[data-seq]', { hasText: AWAY }).waitFor();
    await cust.goto(base + '/');
    await cust.locator(W('.msg.them .bubble'), { hasText: AWAY }).waitFor();
    await cust.waitForTimeout(1000);
    const t = await transcript(cust);
    checkNoDuplicates(t);
    eq(t.filter(i => i.text === AWAY).length, 1, 'copies of the message sent while away');
    for (const m of before.filter(i => i.kind === 'msg')) {
      assert(t.some(i => i.seq === m.seq && i.text === m.text), `lost seq ${m.seq}`);
    }
    const seqs = t.filter(i => i.seq != null).map(i => i.seq);
    eq(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0] + i), 'seq gap in the customer transcript');
  });

  await step('customer: a dropped socket reconnects by itself; nothing lost, nothing doubled', async () => {
    const fromAgent = 'Refund approved on my side.';
    const fromCustomer = 'Great, thank you!';
    const n = await cust.evaluate(() => { const s = window.__sbSockets; s[s.length - 1].close(4000); return s.length; });
    await cust.locator(W('textarea')).fill(fromCustomer);     // written while the socket is down
    await cust.keyboard.press('Enter');
    await desk.locator('.reply textarea').fill(fromAgent);
    await desk.locator('.reply textarea').press('Enter');
    await desk.locator('.transcript .msg.mine[data-seq]', { hasText: fromAgent }).waitFor();
    await cust.locator(W('.msg.them .bubble'), { hasText: fromAgent }).waitFor();
    await cust.locator(W('.msg.me[data-status="sent"] .bubble'), { hasText: fromCustomer }).waitFor();
    await desk.locator('.transcript .msg.them .bubble', { hasText: fromCustomer }).waitFor();
    assert(await cust.evaluate(k => window.__sbSockets.length > k, n), 'the widget did not open a new socket');
    await cust.waitForTimeout(500);
    const t = await transcript(cust);
    checkNoDuplicates(t);
    eq([t.filter(i => i.text === fromAgent).length, t.filter(i => i.text === fromCustomer).length], [1, 1], 'copies in the widget');
    eq(await desk.locator('.transcript .msg .bubble', { hasText: fromCustomer }).count(), 1, 'copies on the desk');
  });

  await step('agent: a desk reload restores the conversation from welcome.conversations', async () => {
    await desk.reload();
    await desk.locator('#app').waitFor({ state: 'visible' });
    await desk.waitForFunction(() => document.querySelector('#status').getAttribute('aria-checked') === 'true');
    await desk.locator('.conv-item').first().waitFor();
    if (await desk.locator('.conv').isHidden()) await desk.locator('.conv-item').first().click();
    for (const text of [TEXT1, REPLY1, AWAY]) await desk.locator('.transcript .msg .bubble', { hasText: text }).waitFor();
    const seqs = await desk.locator('.transcript .msg[data-seq]').evaluateAll(es => es.map(e => Number(e.dataset.seq)));
    eq(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'desk transcript seqs after the reload');
    await desk.locator('.notes li', { hasText: 'INV-1042' }).waitFor();
  });

  await step('screenshot: agent desk', async () => {
    await desk.locator('.transcript .msg', { hasText: AWAY }).waitFor();
    await desk.evaluate(() => document.querySelectorAll('.toast').forEach(t => t.remove()));
    await desk.screenshot({ path: path.join(OUT, 'desk.png') });
  });

  /* --- transfer, offer, the next agent ----------------------------------------------------------- */
  await step('expert: signs in and goes available', async () => {
    expertCtx = await newBrowser('expert');
    desk2 = expertCtx.pages()[0] || await expertCtx.newPage();
    await desk2.goto(base + '/desk/');
    await desk2.locator('#token').fill('dieter-demo');
    await desk2.locator('#token').press('Enter');
    await desk2.locator('#app').waitFor({ state: 'visible' });
    await desk2.locator('#status').click();
    await desk2.waitForFunction(() => document.querySelector('#status').getAttribute('aria-checked') === 'true');
  });

  let transferError = null;
  await step('agent: transfers to the experts pool; the customer sees "transferring"', async () => {
    await desk.locator('#transfer-btn').click();
    await desk.locator('#transfer-dlg').waitFor({ state: 'visible' });
    await desk.locator('#t-pool').fill('experts');
    await desk.locator('#t-note').fill('Needs a refund approval from an expert.');
    await desk.locator('#transfer-dlg [type=submit]').click();
    const outcome = await Promise.race([
      cust.locator(W('.note.transferring')).waitFor().then(() => 'notice'),
      desk.locator('#transfer-dlg .err:not(:empty)').waitFor().then(() => 'error')
    ]);
    if (outcome === 'error') {
      transferError = await desk.locator('#transfer-dlg .err').textContent();
      notes.push(`transfer answered with an error: ${transferError}`);
      await desk.locator('#transfer-dlg [value=cancel]').click();
      throw new Error(`the router refused the transfer: ${transferError}`);
    }
    await desk.locator('.banner', { hasText: 'transferred' }).waitFor();
  });

  await step('expert: gets an offer with a countdown, accepts, sees the whole context', async () => {
    const offer = desk2.locator('.offer');
    await offer.waitFor();
    const c1 = parseInt(await offer.locator('.countdown').textContent(), 10);
    assert(c1 > 0 && c1 <= 30, `countdown ${c1}`);
    await offer.getByRole('button', { name: 'Accept' }).click();
    await desk2.locator('.conv-item').first().click();
    await desk2.locator('.transcript .msg.them .bubble', { hasText: TEXT1 }).waitFor();
    await desk2.locator('.transcript .msg.mine .bubble', { hasText: REPLY1 }).waitFor();
    await desk2.locator('.notes li', { hasText: 'INV-1042' }).waitFor();
    const hist = await desk2.locator('.history').textContent();
    assert(/transfer/i.test(hist), `history shows no transfer: ${hist}`);
    await cust.locator(W('.note.agent_joined'), { hasText: 'Dieter' }).waitFor();
  });

  await step('screenshot: widget on the demo page', async () => {
    await cust.locator(W('.msg.them .bubble'), { hasText: AWAY }).waitFor();
    await cust.screenshot({ path: path.join(OUT, 'widget.png') });
    await desk2.evaluate(() => document.querySelectorAll('.toast').forEach(t => t.remove()));
    await desk2.screenshot({ path: path.join(OUT, 'desk-after-transfer.png') });
  });

  await step('customer: callback form shows the router\'s answer', async () => {
    await cust.locator(W('.cbt')).click();
    await cust.locator(W('#phone')).fill('+1 555 123 4567');
    await cust.locator(W('#phone')).press('Enter');
    const status = cust.locator(W('.cbs'));
    await cust.waitForFunction(() => {
      const s = document.querySelector('switchboard-chat').shadowRoot.querySelector('.cbs');
      return s.textContent && !/Sending/.test(s.textContent);
    });
    const text = await status.textContent();
    const isErr = (await status.getAttribute('class')).includes('err');
    notes.push(`callback: ${isErr ? 'error shown' : 'accepted'}: ${text}`);
    await cust.keyboard.press('Escape');      // closes the callback form, not the panel
    assert(await cust.locator(W('#cb')).isHidden(), 'Escape did not close the callback form');
    assert(await cust.locator(W('[role="dialog"]')).isVisible(), 'Escape closed the panel too');
  });

  await step('customer: Escape closes the panel, focus returns to the launcher', async () => {
    await cust.locator(W('textarea')).focus();
    await cust.keyboard.press('Escape');
    await cust.locator(W('[role="dialog"]')).waitFor({ state: 'hidden' });
    const f = await cust.evaluate(() => {
      const r = document.querySelector('switchboard-chat').shadowRoot;
      return [r.activeElement && r.activeElement.className, r.querySelector('.launcher').getAttribute('aria-expanded')];
    });
    eq(f, ['launcher', 'false'], 'focus and aria-expanded after Escape');
  });

  await step('supervisor: monitor shows stats per pool, or the router\'s error', async () => {
    superCtx = await newBrowser('supervisor');
    sup = superCtx.pages()[0] || await superCtx.newPage();
    await sup.goto(base + '/desk/');
    await sup.locator('#token').fill('sofia-demo');
    await sup.locator('#token').press('Enter');
    await sup.locator('#app').waitFor({ state: 'visible' });
    await sup.locator('#monitor-btn').click();
    await sup.locator('#mon-pools').fill('frontline, experts');
    await sup.getByRole('button', { name: 'Subscribe' }).click();
    const outcome = await Promise.race([
      sup.locator('table.stat').first().waitFor().then(() => 'stats'),
      sup.locator('.mon-status', { hasText: 'refused' }).waitFor().then(() => 'error')
    ]);
    notes.push(outcome === 'stats' ? `monitor: stats arrived for ${await sup.locator('table.stat caption').allTextContents()}`
      : `monitor: ${await sup.locator('.mon-status').textContent()}`);
    await sup.screenshot({ path: path.join(OUT, 'monitor.png') });
  });

  await step('expert: closes; the customer sees "closed" and can start a new chat', async () => {
    await desk2.locator('#close-btn').click();
    await desk2.locator('#c-resolution').fill('refund issued');
    await desk2.locator('#close-dlg [type=submit]').click();
    await desk2.locator('.banner', { hasText: 'closed' }).waitFor();
    await cust.locator(W('.launcher')).click();
    await cust.locator(W('.note.closed')).waitFor();
    await cust.locator(W('.newchat')).waitFor({ state: 'visible' });
    assert(await cust.locator(W('.composer')).isHidden(), 'composer still shown after close');
  });

  await step('customer: a new chat, then a resume the router refuses (unauthorized) starts fresh', async () => {
    await cust.locator(W('.newchat')).click();
    eq(await cust.locator(W('.items > *')).count(), 0, 'transcript after "Start a new chat"');
    await cust.locator(W('textarea')).fill('A second question, about shipping.');
    await cust.keyboard.press('Enter');
    await cust.locator(W('.msg.me[data-status="sent"]')).waitFor();
    await cust.evaluate(() => {
      const k = Object.keys(sessionStorage).find(x => x.startsWith('switchboard:'));
      const st = JSON.parse(sessionStorage.getItem(k));
      st.token = '0'.repeat(64);
      sessionStorage.setItem(k, JSON.stringify(st));
    });
    await cust.reload();
    await cust.locator(W('.note.ended')).waitFor();
    eq(await cust.locator(W('.msg')).count(), 0, 'messages left after starting fresh');
    assert(await cust.locator(W('.composer')).isVisible(), 'composer hidden after starting fresh');
  });

  await step('no uncaught JavaScript errors in any page', async () => {
    eq(pageErrors, [], 'page errors');
  });
} finally {
  for (const c of [customerCtx, agentCtx, expertCtx, superCtx]) if (c) await c.close().catch(() => {});
  if (server) {
    await step('router exits 0 on SIGTERM', async () => {
      server.proc.kill('SIGTERM');
      const r = await Promise.race([server.exited, new Promise(res => setTimeout(() => res(null), 10000))]);
      if (!r) { server.proc.kill('SIGKILL'); throw new Error('still running 10 s after SIGTERM'); }
      eq(r, { code: 0, signal: null }, 'exit status');
    });
  }
  if (process.env.SB_UPDATE_IMAGES === '1') {
    const dst = path.join(ROOT, 'docs', 'images');
    fs.mkdirSync(dst, { recursive: true });
    for (const f of ['widget.png', 'desk.png']) {
      if (fs.existsSync(path.join(OUT, f))) fs.copyFileSync(path.join(OUT, f), path.join(dst, f));
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const n of notes) console.log(`note   ${n}`);
  const passed = results.filter(r => r.ok).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
