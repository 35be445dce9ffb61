/*
 * switchboard agent desk (wire contract v1, section 4). Plain JavaScript, no
 * framework, no build step. The token stays in sessionStorage, so a reload
 * signs in again and picks the conversations up from `welcome.conversations`.
 */
(() => {
  'use strict';
  const $ = (s, r = document) => r.querySelector(s);
  const $$ = (s, r = document) => [...r.querySelectorAll(s)];
  const params = new URLSearchParams(location.search);
  const WS_URL = params.get('server') ||
    (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/agent';
  const store = {
    get: k => { try { return sessionStorage.getItem('sb.desk.' + k); } catch (e) { return null; } },
    set: (k, v) => {
      try { v == null ? sessionStorage.removeItem('sb.desk.' + k) : sessionStorage.setItem('sb.desk.' + k, v); } catch (e) { /* ignore */ }
    }
  };

  const S = {
    token: store.get('token'),
    want: store.get('status') || 'away',   // what the agent chose; re-sent after a reconnect
    state: 'away',
    me: null,
    convs: new Map(),                      // id -> conversation (see upsert)
    offers: new Map(),                     // id -> {ctx, deadline}
    sel: store.get('sel'),
    mode: 'message',                       // reply tab: message | note
    view: 'conv',                          // conv | monitor
    monitor: null,                         // pools subscribed to
    pools: new Set(),                      // pool ids seen anywhere, for the transfer form
  };

  /* --- little helpers --------------------------------------------------------- */
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  const time = ts => ts ? new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  const dateTime = ts => ts ? new Date(ts).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : '';
  const customerName = c => (c.ctx.customer && (c.ctx.customer.name || c.ctx.customer.contact || c.ctx.customer.email)) || 'Visitor';
  const fmt = v => {
    if (v == null) return '';
    if (Array.isArray(v)) return v.map(fmt).join(', ');
    if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${fmt(x)}`).join(' · ');
    return String(v);
  };
  const human = k => String(k).replace(/_ms$/, ' (ms)').replace(/_s$/, ' (s)').replace(/_/g, ' ');

  function toast(text, kind = 'info') {
    const t = el('div', { class: 'toast ' + kind, role: kind === 'error' ? 'alert' : 'status' }, el('span', { text }));
    t.append(el('button', { type: 'button', class: 'x', 'aria-label': 'Dismiss', text: '×', onclick: () => t.remove() }));
    $('.toasts').append(t);
    setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
  }

  /* --- connection --------------------------------------------------------------- */
  let ws = null, attempt = 0, retryTimer = 0, authed = false, refN = 0;
  const handlers = new Map();   // ref -> {ok, err}

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws || !S.token) return;
    authed = false;
    setConn('connecting', 'Connecting…');
    const sock = new WebSocket(WS_URL);
    ws = sock;
    sock.onopen = () => sock.send(JSON.stringify({ type: 'auth', ref: 'auth', token: S.token }));
    sock.onmessage = ev => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m.type === 'string') handle(m);
    };
    sock.onclose = ev => {
      if (ws !== sock) return;
      ws = null;
      const wasAuthed = authed;
      authed = false;
      handlers.forEach(h => h.err && h.err({ code: 'unavailable', message: 'connection lost' }));
      handlers.clear();
      if (!S.token) return;
      if (ev.code === 1008 && !wasAuthed) return signInFailed('The router refused this token.');
      if (ev.code === 4001) {
        setConn('off', 'Signed in elsewhere');
        banner('This desk signed in from another window. ', 'Use it here', () => { attempt = 0; connect(); });
        return;
      }
      const base = Math.min(30000, 500 * 2 ** Math.min(attempt++, 8));
      const delay = Math.round(base / 2 + Math.random() * base / 2);   // exponential backoff, jittered
      setConn('off', `Reconnecting in ${Math.ceil(delay / 1000)} s…`);
      retryTimer = setTimeout(connect, delay);
    };
  }
  addEventListener('online', () => { if (retryTimer) { attempt = 0; connect(); } });

  function send(frame, h) {
    if (!ws || ws.readyState !== 1 || !authed) {
      if (h && h.err) h.err({ code: 'unavailable', message: 'not connected to the router' });
      return false;
    }
    frame.ref = 'd' + (++refN);
    if (h) handlers.set(frame.ref, h);
    ws.send(JSON.stringify(frame));
    return true;
  }
  const errText = m => m.message ? `${m.message}` : m.code || 'error';

  function setConn(kind, text) {
    const c = $('.conn');
    c.className = 'conn ' + kind;
    c.textContent = text;
  }
  function banner(text, action, fn) {
    const b = $('.conn');
    b.textContent = text;
    b.append(el('button', { type: 'button', class: 'link', text: action, onclick: fn }));
  }

  /* --- sign in / out ------------------------------------------------------------ */
  function showSignIn(msg) {
    $('#app').hidden = true;
    $('#signin').hidden = false;
    $('#signin .err').textContent = msg || '';
    $('#token').focus();
  }
  function signInFailed(msg) {
    S.token = null;
    store.set('token', null);
    showSignIn(msg);
  }
  $('#signin form').addEventListener('submit', e => {
    e.preventDefault();
    const t = $('#token').value.trim();
    if (!t) { $('#signin .err').textContent = 'Enter your agent token.'; return; }
    S.token = t;
    store.set('token', t);
    $('#token').value = '';
    $('#signin .err').textContent = 'Signing in…';
    attempt = 0;
    connect();
  });
  $('#signout').addEventListener('click', () => {
    if (ws && authed) ws.send(JSON.stringify({ type: 'status', state: 'offline' }));
    S.token = null;
    store.set('token', null);
    store.set('status', null);
    store.set('sel', null);
    S.want = 'away';
    S.convs.clear();
    S.offers.clear();
    S.sel = null;
    if (ws) { const s = ws; ws = null; s.close(1000); }
    clearTimeout(retryTimer);
    render();
    showSignIn('');
  });

  /* --- status -------------------------------------------------------------------- */
  function setState(state) {
    S.state = state;
    const sw = $('#status');
    sw.setAttribute('aria-checked', String(state === 'available'));
    sw.dataset.state = state;
    $('.switch-label').textContent = state === 'available' ? 'Available' : state === 'offline' ? 'Offline' : 'Away';
  }
  function requestState(state) {
    send({ type: 'status', state }, {
      ok: () => { setState(state); S.want = state; store.set('status', state); },
      err: m => toast(`Status not changed: ${errText(m)}`, 'error')
    });
  }
  $('#status').addEventListener('click', () => requestState(S.state === 'available' ? 'away' : 'available'));

  /* --- conversations -------------------------------------------------------------- */
  function upsert(ctx) {
    let c = S.convs.get(ctx.id);
    if (!c) {
      c = { id: ctx.id, msgs: [], seqs: new Set(), pending: [], unread: 0, released: null, typing: false, last: 0 };
      S.convs.set(ctx.id, c);
    }
    c.ctx = ctx;
    c.notes = Array.isArray(ctx.notes) ? ctx.notes.slice() : [];
    c.history = Array.isArray(ctx.history) ? ctx.history : [];
    c.released = null;
    if (ctx.pool) S.pools.add(ctx.pool);
    c.history.forEach(h => { if (h.pool) S.pools.add(h.pool); if (h.from_pool) S.pools.add(h.from_pool); });
    (ctx.transcript || []).forEach(m => addMsg(c, m, false));
    return c;
  }
  /* Messages are kept in seq order; a seq already held is dropped. */
  function addMsg(c, m, live) {
    if (typeof m.seq !== 'number' || c.seqs.has(m.seq)) return false;
    c.seqs.add(m.seq);
    let i = c.msgs.length;
    while (i > 0 && c.msgs[i - 1].seq > m.seq) i--;
    c.msgs.splice(i, 0, m);
    c.last = Math.max(c.last, m.ts || 0);
    if (live && m.from !== 'agent' && (S.sel !== c.id || document.hidden || S.view !== 'conv')) c.unread++;
    return true;
  }
  function select(id) {
    S.sel = id;
    store.set('sel', id);
    const c = S.convs.get(id);
    if (c) c.unread = 0;
    setView('conv');
    render();
    const ta = $('.reply textarea');
    if (c && !c.released) ta.focus();
  }

  /* --- frames from the router ---------------------------------------------------------- */
  function handle(m) {
    const h = m.ref && handlers.get(m.ref);
    if (h) handlers.delete(m.ref);
    switch (m.type) {
    case 'welcome': {
      authed = true;
      attempt = 0;
      S.me = m.agent || {};
      (S.me.pools || []).forEach(p => S.pools.add(p));
      setConn('on', 'Connected');
      $('#signin').hidden = true;
      $('#app').hidden = false;
      $('.me-name').textContent = S.me.name || S.me.id || '';
      $('.role').textContent = S.me.role || 'agent';
      $('.who .avatar').textContent = (S.me.name || S.me.id || '?').slice(0, 1).toUpperCase();
      $('#monitor-btn').hidden = S.me.role !== 'supervisor';
      setState(m.state || 'away');
      const ids = new Set();
      (m.conversations || []).forEach(ctx => { if (ctx && ctx.id) { upsert(ctx); ids.add(ctx.id); } });
      S.convs.forEach(c => { if (!ids.has(c.id) && !c.released) c.released = 'no longer assigned'; });
      if (S.want === 'available' && m.state !== 'available') requestState('available');
      if (S.monitor) subscribe(S.monitor);
      if (!S.sel || !S.convs.has(S.sel)) S.sel = S.convs.size ? [...S.convs.keys()][0] : null;
      render();
      break;
    }
    case 'ok':
      if (h && h.ok) h.ok(m);
      break;
    case 'error':
      if (!authed && (m.ref === 'auth' || m.code === 'unauthorized')) {
        const s = ws;
        ws = null;
        if (s) s.close();
        signInFailed(m.message ? `Sign-in failed: ${m.message}` : 'Sign-in failed.');
      } else if (h && h.err) {
        h.err(m);
      } else {
        toast(errText(m), 'error');
      }
      break;
    case 'assigned': {
      const ctx = m.conversation;
      if (!ctx || !ctx.id) break;
      S.offers.delete(ctx.id);
      const isNew = !S.convs.has(ctx.id) || S.convs.get(ctx.id).released;
      const c = upsert(ctx);
      if (isNew) {
        c.unread = S.sel === c.id ? 0 : c.msgs.filter(x => x.from === 'customer').length || 1;
        toast(`New conversation: ${customerName(c)}`);
      }
      if (!S.sel || !S.convs.has(S.sel) || S.convs.get(S.sel).released) S.sel = c.id;
      render();
      break;
    }
    case 'offer': {
      const ctx = m.conversation;
      if (!ctx || !ctx.id) break;
      const total = Number(m.expires_in_ms) > 0 ? Number(m.expires_in_ms) : 15000;
      S.offers.set(ctx.id, { ctx, total, deadline: Date.now() + total });
      toast(`Offer: ${(ctx.customer && ctx.customer.name) || 'a customer'} is waiting`);
      renderOffers();
      break;
    }
    case 'released': {
      const id = m.conversation_id;
      if (S.offers.delete(id)) renderOffers();
      const c = S.convs.get(id);
      if (c) {
        c.released = m.reason || 'released';
        c.typing = false;
        render();
      }
      break;
    }
    case 'message': {
      const c = S.convs.get(m.conversation_id);
      if (c && addMsg(c, m, true)) {
        if (m.from === 'customer') c.typing = false;
        render();
      }
      break;
    }
    case 'typing': {
      const c = S.convs.get(m.conversation_id);
      if (!c) break;
      c.typing = !!m.on;
      clearTimeout(c.typingTimer);
      if (c.typing) c.typingTimer = setTimeout(() => { c.typing = false; renderList(); renderTyping(); }, 8000);
      renderList();
      renderTyping();
      break;
    }
    case 'status':
      if (m.state) setState(m.state);
      if (m.state && m.state !== 'available') { S.want = m.state; store.set('status', m.state); }
      if (m.reason) toast(`You are now ${m.state}: ${m.reason}`, 'warn');
      break;
    case 'stats':
      renderStats(m);
      break;
    }
  }

  /* --- rendering -------------------------------------------------------------------------- */
  function render() {
    renderList();
    renderOffers();
    renderConv();
    const unread = [...S.convs.values()].reduce((n, c) => n + c.unread, 0);
    document.title = (unread ? `(${unread}) ` : '') + 'switchboard · agent desk';
  }

  function renderList() {
    const ul = $('.conv-list');
    ul.textContent = '';
    const convs = [...S.convs.values()].sort((a, b) => (!!a.released - !!b.released) || (b.last - a.last));
    for (const c of convs) {
      const lastMsg = c.msgs[c.msgs.length - 1];
      const meta = [c.ctx.channel, c.ctx.topic || c.ctx.pool, c.ctx.language].filter(Boolean).join(' · ');
      const btn = el('button', {
        type: 'button', class: 'conv-item', 'aria-current': S.sel === c.id ? 'true' : null,
        'data-id': c.id, onclick: () => select(c.id)
      },
      el('span', { class: 'ci-top' },
        el('span', { class: 'ci-name', text: customerName(c), dir: 'auto' }),
        el('span', { class: 'ci-time muted', text: lastMsg ? time(lastMsg.ts) : '' })),
      el('span', { class: 'ci-meta muted', text: c.released ? `Released (${human(c.released)})` : meta }),
      el('span', { class: 'ci-last', dir: 'auto', text: c.typing ? 'typing…' : lastMsg ? lastMsg.text : '' }),
      c.unread ? el('span', { class: 'unread', text: String(c.unread), 'aria-label': `${c.unread} unread` }) : null);
      const li = el('li', { class: c.released ? 'released' : null }, btn);
      ul.append(li);
    }
    const active = convs.filter(c => !c.released).length;
    $('.total').textContent = active ? String(active) : '';
    $('.side .empty').hidden = convs.length > 0;
  }

  let offerTick = 0;
  function renderOffers() {
    const sec = $('.offers');
    const ul = $('.offer-list');
    sec.hidden = S.offers.size === 0;
    ul.textContent = '';
    clearInterval(offerTick);
    if (!S.offers.size) return;
    for (const [id, o] of S.offers) {
      const c = o.ctx;
      const left = Math.max(0, o.deadline - Date.now());
      const li = el('li', { class: 'offer', 'data-id': id },
        el('div', { class: 'ci-top' },
          el('strong', { text: (c.customer && c.customer.name) || 'Visitor', dir: 'auto' }),
          el('span', { class: 'countdown', 'aria-live': 'off', text: `${Math.ceil(left / 1000)} s` })),
        el('div', { class: 'ci-meta muted', text: [c.channel, c.topic || c.pool, c.language].filter(Boolean).join(' · ') }),
        el('div', { class: 'bar-wrap' }, el('div', { class: 'bar-fill' })),
        el('div', { class: 'offer-actions' },
          el('button', { type: 'button', class: 'btn primary small', text: 'Accept', onclick: () => answerOffer(id, 'accept') }),
          el('button', { type: 'button', class: 'btn small', text: 'Decline', onclick: () => answerOffer(id, 'decline') })));
      li.querySelector('.bar-fill').style.width = Math.round(100 * left / o.total) + '%';
      ul.append(li);
    }
    offerTick = setInterval(() => {
      let expired = false;
      for (const [id, o] of S.offers) {
        const left = o.deadline - Date.now();
        const li = $(`.offer[data-id="${CSS.escape(id)}"]`);
        if (left <= 0) { S.offers.delete(id); expired = true; continue; }
        if (li) {
          li.querySelector('.countdown').textContent = `${Math.ceil(left / 1000)} s`;
          li.querySelector('.bar-fill').style.width = Math.round(100 * left / o.total) + '%';
        }
      }
      if (expired) renderOffers();
    }, 250);
  }
  function answerOffer(id, type) {
    send({ type, conversation_id: id }, {
      ok: () => { S.offers.delete(id); renderOffers(); if (type === 'accept') S.sel = id; },
      err: m => { toast(`${type === 'accept' ? 'Accept' : 'Decline'} failed: ${errText(m)}`, 'error'); S.offers.delete(id); renderOffers(); }
    });
  }

  function renderTyping() {
    const c = S.convs.get(S.sel);
    $('.ctyping').hidden = !(c && c.typing && !c.released);
  }

  function renderConv() {
    const c = S.convs.get(S.sel);
    const showConv = S.view === 'conv' && !!c;
    $('.conv').hidden = !showConv;
    $('.placeholder').hidden = S.view !== 'conv' || !!c;
    $('.monitor').hidden = S.view !== 'monitor';
    $('.ctx').hidden = !c || S.view !== 'conv';
    if (!c) return;
    const ctx = c.ctx;
    $('#conv-title').textContent = customerName(c);
    $('#conv-title').dir = 'auto';
    $('.conv-meta').textContent = [ctx.channel, ctx.state, ctx.language && `language ${ctx.language}`,
      ctx.pool && `pool ${ctx.pool}`, ctx.topic && `topic ${ctx.topic}`].filter(Boolean).join(' · ');
    const released = !!c.released;
    const b = $('.banner');
    b.hidden = !released;
    b.textContent = released ? `This conversation was released (${human(c.released)}). It is read-only here.` : '';
    for (const id of ['#transfer-btn', '#escalate-btn', '#close-btn']) $(id).disabled = released;
    $('#dismiss-btn').hidden = !released;
    $('.reply').hidden = released;
    renderTyping();

    const log = $('.transcript');
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    log.textContent = '';
    if (ctx.transcript_first_seq > 1 && c.msgs.length && c.msgs[0].seq === ctx.transcript_first_seq) {
      log.append(el('p', { class: 'older muted', text: `${ctx.transcript_first_seq - 1} earlier message(s) not shown (${ctx.transcript_total} in all).` }));
    }
    const notes = (c.notes || []).slice().sort((a, x) => (a.ts || 0) - (x.ts || 0));
    let ni = 0;
    const noteEl = n => el('div', { class: 'item note' },
      el('div', { class: 'by' }, `Internal note · ${n.agent || ''}`, el('time', { text: ' ' + time(n.ts) })),
      el('div', { class: 'bubble', dir: 'auto', text: n.text }));
    for (const msg of c.msgs) {
      while (ni < notes.length && (notes[ni].ts || 0) < (msg.ts || 0)) log.append(noteEl(notes[ni++]));
      log.append(msgEl(msg));
    }
    while (ni < notes.length) log.append(noteEl(notes[ni++]));
    for (const p of c.pending) {
      const e = msgEl({ from: 'agent', name: S.me && S.me.name, text: p.text, ts: p.ts });
      e.classList.add(p.err ? 'failed' : 'pending');
      e.querySelector('.meta').textContent = p.err ? `Not sent: ${p.err}` : 'Sending…';
      log.append(e);
    }
    if (stick || log.dataset.conv !== c.id) log.scrollTop = log.scrollHeight;
    log.dataset.conv = c.id;
    renderCtx(c);
  }
  function msgEl(m) {
    const cls = m.from === 'customer' ? 'them' : m.from === 'system' ? 'sys' : 'mine ' + m.from;
    return el('div', { class: 'item msg ' + cls, 'data-seq': m.seq, 'data-from': m.from },
      m.from !== 'system' ? el('div', { class: 'by', text: m.name || (m.from === 'customer' ? 'Customer' : m.agent || m.from) }) : null,
      el('div', { class: 'bubble', dir: 'auto', text: m.text }),
      el('div', { class: 'meta muted', text: `${time(m.ts)}${m.seq ? ` · #${m.seq}` : ''}` }));
  }
  function dl(target, rows) {
    target.textContent = '';
    let any = false;
    for (const [k, v] of rows) {
      if (v == null || v === '' || (typeof v === 'object' && !Object.keys(v).length)) continue;
      any = true;
      target.append(el('dt', { text: human(k) }), el('dd', { text: fmt(v), dir: 'auto' }));
    }
    if (!any) target.append(el('dd', { class: 'muted', text: 'None' }));
  }
  function renderCtx(c) {
    const x = c.ctx;
    const cu = x.customer || {};
    dl($('.customer'), [['name', cu.name], ['email', cu.email], ['contact', cu.contact]]);
    dl($('.details'), [['conversation', x.id], ['channel', x.channel], ['media', x.media], ['state', x.state],
      ['language', x.language], ['topic', x.topic], ['pool', x.pool], ['agent', x.agent], ['priority', x.priority],
      ['skills', x.skills], ['escalations', x.escalations], ['started', dateTime(x.created_at)],
      ['messages', Math.max(x.transcript_total || 0, c.msgs.length ? c.msgs[c.msgs.length - 1].seq : 0)]]);
    dl($('.attributes'), Object.entries(x.attributes || {}));
    const notes = $('.notes');
    notes.textContent = '';
    c.notes.forEach(n => notes.append(el('li', null,
      el('div', { class: 'muted small', text: `${n.agent || ''} · ${dateTime(n.ts)}` }), el('div', { text: n.text, dir: 'auto' }))));
    if (!c.notes.length) notes.append(el('li', { class: 'muted', text: 'None' }));
    const hist = $('.history');
    hist.textContent = '';
    c.history.forEach(h => {
      const extra = Object.entries(h).filter(([k]) => !['event', 'ts'].includes(k) && h[k] != null && h[k] !== '')
        .map(([k, v]) => `${human(k)}: ${fmt(v)}`).join(' · ');
      hist.append(el('li', null, el('div', null, el('strong', { text: human(h.event || 'event') }),
        el('span', { class: 'muted small', text: ' ' + dateTime(h.ts) })), extra ? el('div', { class: 'small', text: extra }) : null));
    });
    if (!c.history.length) hist.append(el('li', { class: 'muted', text: 'None' }));
  }

  /* --- writing: reply and internal note --------------------------------------------------------- */
  const ta = $('.reply textarea');
  function setMode(mode) {
    S.mode = mode;
    $$('.tabs [role=tab]').forEach(t => t.setAttribute('aria-selected', String(t.dataset.mode === mode)));
    $('.reply').classList.toggle('note-mode', mode === 'note');
    ta.setAttribute('aria-label', mode === 'note' ? 'Internal note (never shown to the customer)' : 'Reply to the customer');
    ta.placeholder = mode === 'note' ? 'Internal note, only agents see it…' : 'Write a reply… (Enter sends, Shift+Enter for a new line)';
  }
  $$('.tabs [role=tab]').forEach(t => t.addEventListener('click', () => { setMode(t.dataset.mode); ta.focus(); }));
  $('.tabs').addEventListener('keydown', e => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    setMode(S.mode === 'note' ? 'message' : 'note');
    $(`.tabs [data-mode=${S.mode}]`).focus();
  });
  ta.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('.reply').requestSubmit(); }
  });
  let typingSent = null, typingTimer = 0;
  ta.addEventListener('input', () => {
    if (S.mode !== 'message' || !S.sel) return;
    clearTimeout(typingTimer);
    const on = ta.value.trim().length > 0;
    if (typingSent !== (on ? S.sel : null)) {
      send({ type: 'typing', conversation_id: S.sel, on });
      typingSent = on ? S.sel : null;
    }
    if (on) typingTimer = setTimeout(() => { send({ type: 'typing', conversation_id: S.sel, on: false }); typingSent = null; }, 4000);
  });
  $('.reply').addEventListener('submit', e => {
    e.preventDefault();
    const c = S.convs.get(S.sel);
    const text = ta.value.trim();
    if (!c || !text || c.released) return;
    ta.value = '';
    if (typingSent) { send({ type: 'typing', conversation_id: c.id, on: false }); typingSent = null; }
    if (S.mode === 'note') {
      send({ type: 'note', conversation_id: c.id, text }, {
        ok: () => { c.notes.push({ agent: S.me.id, text, ts: Date.now() }); render(); },
        err: m => { toast(`Note not saved: ${errText(m)}`, 'error'); ta.value = ta.value || text; }
      });
      return;
    }
    /* The router does not echo our own message: it is shown as pending, then
     * with its seq once the `ok` says it is stored. */
    const p = { text, ts: Date.now(), err: null };
    c.pending.push(p);
    const sent = send({ type: 'message', conversation_id: c.id, text }, {
      ok: m => {
        c.pending.splice(c.pending.indexOf(p), 1);
        addMsg(c, { seq: m.seq, from: 'agent', name: S.me.name, agent: S.me.id, text, ts: p.ts }, false);
        render();
      },
      err: m => { p.err = errText(m); render(); toast(`Message not sent: ${errText(m)}`, 'error'); }
    });
    if (sent) render();
  });

  /* --- transfer, escalate, close (each in a modal dialog; errors stay in it) -------------------- */
  function dialog(id, onSubmit, init) {
    const dlg = $(id);
    const form = $('form', dlg);
    const err = $('.err', dlg);
    $('[value=cancel]', dlg).addEventListener('click', () => dlg.close());
    form.addEventListener('submit', e => {
      e.preventDefault();
      const c = S.convs.get(S.sel);
      if (!c) return dlg.close();
      err.textContent = '';
      const submit = $('[type=submit]', dlg);
      const frame = onSubmit(c, msg => { err.textContent = msg; });
      if (!frame) return;
      submit.disabled = true;
      send(frame, {
        ok: () => { submit.disabled = false; dlg.close(); toast(`${frame.type[0].toUpperCase() + frame.type.slice(1)}: done`); },
        err: m => { submit.disabled = false; err.textContent = errText(m); toast(`${frame.type} failed: ${errText(m)}`, 'error'); }
      });
    });
    return () => {
      if (!S.convs.get(S.sel)) return;
      form.reset();
      err.textContent = '';
      if (init) init(dlg);
      dlg.showModal();
    };
  }
  const openTransfer = dialog('#transfer-dlg', (c, fail) => {
    const frame = { type: 'transfer', conversation_id: c.id };
    const pool = $('#t-pool').value.trim(), agent = $('#t-agent').value.trim();
    const skillsText = $('#t-skills').value.trim(), note = $('#t-note').value.trim();
    if (pool) frame.to_pool = pool;
    if (agent) frame.to_agent = agent;
    if (skillsText) {
      const skills = {};
      for (const part of skillsText.split(/[,;]/)) {
        const mm = part.trim().match(/^([\w.-]+)\s*[=:]\s*(\d+)$/);
        if (!mm) { fail(`Skills: write name=level, for example technical=7 (not "${part.trim()}").`); return null; }
        skills[mm[1]] = Number(mm[2]);
      }
      frame.skills = skills;
    }
    if (!pool && !agent && !skillsText) { fail('Choose a pool, an agent or skills.'); return null; }
    if (note) frame.note = note;
    return frame;
  }, () => {
    const dl_ = $('#pool-list');
    dl_.textContent = '';
    S.pools.forEach(p => dl_.append(el('option', { value: p })));
  });
  const openEscalate = dialog('#escalate-dlg', c => {
    const note = $('#e-note').value.trim();
    return note ? { type: 'escalate', conversation_id: c.id, note } : { type: 'escalate', conversation_id: c.id };
  });
  const openClose = dialog('#close-dlg', c => {
    const r = $('#c-resolution').value.trim();
    return r ? { type: 'close', conversation_id: c.id, resolution: r } : { type: 'close', conversation_id: c.id };
  });
  $('#transfer-btn').addEventListener('click', openTransfer);
  $('#escalate-btn').addEventListener('click', openEscalate);
  $('#close-btn').addEventListener('click', openClose);
  $('#dismiss-btn').addEventListener('click', () => {
    S.convs.delete(S.sel);
    S.sel = S.convs.size ? [...S.convs.keys()][0] : null;
    store.set('sel', S.sel);
    render();
  });

  /* --- supervisors: monitor -------------------------------------------------------------------- */
  function setView(v) {
    S.view = v;
    $('#monitor-btn').setAttribute('aria-pressed', String(v === 'monitor'));
    renderConv();
  }
  $('#monitor-btn').addEventListener('click', () => {
    setView(S.view === 'monitor' ? 'conv' : 'monitor');
    if (S.view === 'monitor') {
      const inp = $('#mon-pools');
      if (!inp.value) inp.value = [...S.pools].join(', ');
      inp.focus();
    }
  });
  function subscribe(pools) {
    S.monitor = pools;
    $('.mon-status').textContent = 'Subscribing…';
    send({ type: 'monitor', pools }, {
      ok: () => { $('.mon-status').textContent = `Subscribed to ${pools.join(', ') || 'all pools'}. Waiting for stats…`; },
      err: m => { S.monitor = null; $('.mon-status').textContent = `Monitor refused: ${errText(m)}`; toast(`Monitor: ${errText(m)}`, 'error'); }
    });
  }
  $('.mon-form').addEventListener('submit', e => {
    e.preventDefault();
    subscribe($('#mon-pools').value.split(/[\s,]+/).filter(Boolean));
  });
  /* Stats are rendered generically: one table per pool, one row per field. */
  function renderStats(m) {
    const box = $('.stats');
    let entries;
    if (Array.isArray(m.pools)) entries = m.pools.map(p => [p.id || p.pool || p.name || '', p]);
    else if (m.pools && typeof m.pools === 'object') entries = Object.entries(m.pools);
    else entries = [['', Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'type' && k !== 'ref'))]];
    box.textContent = '';
    for (const [name, p] of entries) {
      if (name) S.pools.add(name);
      const tb = el('tbody');
      for (const [k, v] of Object.entries(p || {})) {
        if (['id', 'pool', 'name'].includes(k) && v === name) continue;
        const pct = /attainment/.test(k) && typeof v === 'number' && v >= 0 && v <= 1;
        tb.append(el('tr', null, el('th', { scope: 'row', text: human(k) }),
          el('td', { text: pct ? `${Math.round(v * 1000) / 10} %` : fmt(v) })));
      }
      box.append(el('table', { class: 'stat', 'data-pool': name }, el('caption', { text: name || 'All pools' }), tb));
    }
    $('.mon-status').textContent = `Updated ${new Date(m.ts || Date.now()).toLocaleTimeString()}`;
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && S.sel && S.convs.get(S.sel)) { S.convs.get(S.sel).unread = 0; render(); }
  });

  /* --- start --------------------------------------------------------------------------------- */
  setMode('message');
  if (S.token) {
    $('#signin').hidden = true;
    connect();
  } else {
    showSignIn('');
  }
})();
