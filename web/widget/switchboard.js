/*
 * switchboard web chat widget (wire contract v1, section 3).
 *
 *   <script src="https://router.example.com/widget/switchboard.js"
 *           data-topic="billing" data-language="es" async></script>
 *
 * Optional attributes: data-server (ws(s):// or http(s):// URL of the router;
 * default: the host this script came from), data-topic, data-language
 * (default navigator.language), data-name, data-title, data-position="left".
 * Everything lives in a shadow root: the page's CSS cannot reach in and ours
 * cannot leak out. Plain JavaScript, no dependencies, no build step.
 */
(() => {
  'use strict';
  const me = document.currentScript ||
    [...document.querySelectorAll('script[src]')].reverse().find(s => /switchboard\.js([?#]|$)/.test(s.src));
  if (!me || window.Switchboard) return;
  const ds = me.dataset;
  const src = new URL(me.src, location.href);

  const server = (() => {
    const u = new URL(ds.server || '/v1/customer', src);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.pathname === '/') u.pathname = '/v1/customer';
    return u.href;
  })();
  const lang = ds.language || navigator.language || 'en';

  /* --- UI strings (the router's own notices come localized in `text`) ----- */
  const I18N = {
    en: ['Chat with us', 'We usually reply in a few minutes', 'Open chat', 'Close chat',
      'Write a message…', 'Send', 'Talk to a person', 'Request a callback', 'Your phone number',
      'Call me back', 'Cancel', 'Your name (optional)', 'Hi! Ask us anything, we are here to help.',
      'Sent', 'Sending…', 'Not sent. Select to retry.', 'is typing…', 'Reconnecting…',
      'Start a new chat', 'This chat continued in another window.', 'Reconnect',
      'Callback requested.', 'Your previous chat has ended.', 'Conversation', 'Message'],
    es: ['Chatea con nosotros', 'Solemos responder en pocos minutos', 'Abrir chat', 'Cerrar chat',
      'Escribe un mensaje…', 'Enviar', 'Hablar con una persona', 'Pedir una llamada', 'Tu número de teléfono',
      'Llámenme', 'Cancelar', 'Tu nombre (opcional)', '¡Hola! Pregúntanos lo que quieras.',
      'Enviado', 'Enviando…', 'No enviado. Pulsa para reintentar.', 'está escribiendo…', 'Reconectando…',
      'Empezar un chat nuevo', 'Este chat continuó en otra ventana.', 'Reconectar',
      'Llamada solicitada.', 'Tu chat anterior ha terminado.', 'Conversación', 'Mensaje'],
    de: ['Chatten Sie mit uns', 'Wir antworten meist in wenigen Minuten', 'Chat öffnen', 'Chat schließen',
      'Nachricht schreiben…', 'Senden', 'Mit einem Menschen sprechen', 'Rückruf anfordern', 'Ihre Telefonnummer',
      'Rückruf anfordern', 'Abbrechen', 'Ihr Name (optional)', 'Hallo! Fragen Sie uns, wir helfen gern.',
      'Gesendet', 'Wird gesendet…', 'Nicht gesendet. Zum Wiederholen auswählen.', 'schreibt…',
      'Verbindung wird wiederhergestellt…', 'Neuen Chat beginnen', 'Dieser Chat wurde in einem anderen Fenster fortgesetzt.',
      'Neu verbinden', 'Rückruf angefordert.', 'Ihr vorheriger Chat ist beendet.', 'Unterhaltung', 'Nachricht']
  };
  const KEYS = ['title', 'subtitle', 'open', 'close', 'placeholder', 'send', 'human', 'callback', 'phone',
    'call', 'cancel', 'name', 'intro', 'sent', 'sending', 'failed', 'typing', 'reconnecting',
    'newChat', 'elsewhere', 'reconnect', 'requested', 'ended', 'log', 'message'];
  const T = {};
  KEYS.forEach((k, i) => { T[k] = (I18N[lang.slice(0, 2).toLowerCase()] || I18N.en)[i]; });
  if (ds.title) T.title = ds.title;

  /* --- state, kept in sessionStorage so a reload or a drop loses nothing --- */
  const KEY = 'switchboard:' + server + '#' + (ds.topic || '');
  const MAX_ITEMS = 300;
  const blank = () => ({ cid: null, token: null, last: 0, items: [], open: false, closed: false,
    agent: null, unread: 0, name: '' });
  let st;
  try { st = Object.assign(blank(), JSON.parse(sessionStorage.getItem(KEY)) || {}); } catch (e) { st = blank(); }
  let seqs = new Set(st.items.filter(i => i.seq).map(i => i.seq));
  let saveQueued = false;
  const save = () => {
    if (saveQueued) return;
    saveQueued = true;
    queueMicrotask(() => {
      saveQueued = false;
      if (st.items.length > MAX_ITEMS) st.items = st.items.slice(-MAX_ITEMS);
      try {
        sessionStorage.setItem(KEY, JSON.stringify(st, (k, v) => (k === 'node' ? undefined : v)));
      } catch (e) { /* private mode, full quota: the chat still works */ }
    });
  };

  /* --- DOM ----------------------------------------------------------------- */
  const svg = d => `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="${d}"/></svg>`;
  const ICON = {
    chat: svg('M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'),
    x: svg('M6 6l12 12M18 6L6 18'),
    phone: svg('M5 3h3l2 5-2.5 1.5a11 11 0 0 0 7 7L16 14l5 2v3a2 2 0 0 1-2 2A16 16 0 0 1 3 5a2 2 0 0 1 2-2z'),
    send: svg('M3 11.5L21 3l-8.5 18-2.2-7.3L3 11.5z'),
    person: svg('M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8a7 7 0 0 1 14 0')
  };
  const host = document.createElement('switchboard-chat');
  const shadow = host.attachShadow({ mode: 'open' });
  shadow.innerHTML = `
<link rel="stylesheet" href="${new URL('switchboard.css', src).href}">
<div class="sb${ds.position === 'left' ? ' left' : ''}" hidden>
 <section class="panel" id="panel" role="dialog" aria-modal="false" aria-labelledby="title" hidden>
  <header>
   <div class="avatar">${ICON.chat}</div>
   <div class="heading"><h2 id="title"></h2><p class="sub"></p></div>
   <button type="button" class="icon cbt" aria-controls="cb" aria-expanded="false">${ICON.phone}</button>
   <button type="button" class="icon x">${ICON.x}</button>
  </header>
  <form class="cb" id="cb" hidden novalidate>
   <label for="phone"></label>
   <input id="phone" type="tel" autocomplete="tel" inputmode="tel" placeholder="+1 555 123 4567" required>
   <div class="row"><button type="button" class="ghost cancel"></button><button type="submit" class="primary call"></button></div>
   <p class="cbs" role="status"></p>
  </form>
  <div class="log" role="log" aria-live="polite" aria-relevant="additions text">
   <div class="intro"><p dir="auto"></p><input class="name" autocomplete="name" maxlength="80"></div>
   <div class="items"></div>
  </div>
  <div class="typing" hidden><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span><span class="tt"></span></div>
  <p class="conn" role="status" hidden><span></span> <button type="button" class="link rc" hidden></button></p>
  <div class="foot">
   <div class="actions"><button type="button" class="chip human">${ICON.person}<span></span></button></div>
   <form class="composer">
    <textarea rows="1" maxlength="4000" enterkeyhint="send"></textarea>
    <button type="submit" class="send">${ICON.send}</button>
   </form>
   <button type="button" class="primary newchat" hidden></button>
  </div>
 </section>
 <button type="button" class="launcher" aria-controls="panel" aria-expanded="false">
  <span class="ic-open">${ICON.chat}</span><span class="ic-close">${ICON.x}</span>
  <span class="badge" hidden></span>
 </button>
</div>`;
  const $ = s => shadow.querySelector(s);
  const root = $('.sb'), panel = $('.panel'), launcher = $('.launcher'), badge = $('.badge');
  const list = $('.items'), sub = $('.sub'), input = $('textarea'), composer = $('.composer');
  const nameIn = $('.name'), cbForm = $('.cb'), cbToggle = $('.cbt'), phone = $('#phone'), cbStatus = $('.cbs');
  const typingEl = $('.typing'), conn = $('.conn'), rcBtn = $('.rc'), newChat = $('.newchat'), human = $('.human');
  const show = () => { root.hidden = false; };
  $('link').addEventListener('load', show);
  $('link').addEventListener('error', show);
  setTimeout(show, 3000);

  $('#title').textContent = T.title;
  $('.intro p').textContent = T.intro;
  nameIn.placeholder = T.name;
  nameIn.setAttribute('aria-label', T.name);
  nameIn.value = ds.name || st.name || '';
  $('.log').setAttribute('aria-label', T.log);
  cbToggle.setAttribute('aria-label', T.callback);
  cbToggle.title = T.callback;
  $('.x').setAttribute('aria-label', T.close);
  $('.x').title = T.close;
  $('label[for=phone]').textContent = T.phone;
  $('.cancel').textContent = T.cancel;
  $('.call').textContent = T.call;
  human.lastChild.textContent = T.human;
  input.placeholder = T.placeholder;
  input.setAttribute('aria-label', T.message);
  $('.send').setAttribute('aria-label', T.send);
  $('.send').title = T.send;
  newChat.textContent = T.newChat;
  rcBtn.textContent = T.reconnect;

  /* --- rendering ------------------------------------------------------------ */
  const hhmm = ts => new Date(ts || Date.now()).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  function renderItem(it) {
    let row;
    if (it.t === 'n') {
      row = el('div', 'note ' + it.kind);
      row.append(el('span', null, it.text));
      row.dir = 'auto';
    } else {
      const mine = it.from === 'customer';
      row = el('div', 'msg ' + (mine ? 'me' : it.from === 'system' ? 'sys' : 'them ' + it.from));
      row.dataset.from = it.from;
      if (it.seq) row.dataset.seq = it.seq;
      const prev = list.lastElementChild;
      if (!mine && it.from !== 'system' && it.name &&
          !(prev && prev.dataset.from === it.from && prev.dataset.name === it.name)) {
        row.append(el('div', 'who', it.name));
      }
      row.dataset.name = it.name || '';
      const b = el('div', 'bubble', it.text);
      b.dir = 'auto';
      row.append(b);
      const meta = el('div', 'meta');
      meta.append(el('time', null, hhmm(it.ts)));
      if (mine) {
        const tick = el('span', 'tick');
        meta.append(tick);
      }
      row.append(meta);
      if (mine) {
        row.addEventListener('click', () => { if (it.status === 'failed') retry(it); });
      }
    }
    it.node = row;
    updateItem(it);
    return row;
  }
  function updateItem(it) {
    const row = it.node;
    if (!row || it.t !== 'm' || it.from !== 'customer') return;
    row.dataset.status = it.status || 'sent';
    if (it.seq) row.dataset.seq = it.seq;
    const tick = row.querySelector('.tick');
    tick.textContent = it.status === 'failed' ? '!' : it.seq ? '✓' : '';
    const label = it.status === 'failed' ? (it.err ? it.err + ' ' : '') + T.failed
      : it.seq ? T.sent : T.sending;
    tick.setAttribute('aria-label', label);
    tick.title = it.seq ? `${T.sent} (#${it.seq})` : label;
    row.tabIndex = it.status === 'failed' ? 0 : -1;
    if (it.status !== 'failed') row.removeAttribute('tabindex');
  }
  const atBottom = () => { const l = $('.log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 80; };
  const scroll = () => { const l = $('.log'); l.scrollTop = l.scrollHeight; };
  /* Keeps messages in seq order: a message with a seq goes before the
     customer's messages still waiting for theirs and before any with a
     higher seq (a reply that arrives while our own message is in flight, or
     a resume replay after a drop); notices stay where they arrived. */
  function place(it) {
    const i = st.items.indexOf(it);
    if (i < 0 || !it.seq) return;
    let j = i;
    while (j > 0) {
      const p = st.items[j - 1];
      if (p.t !== 'm' || !(p.seq ? p.seq > it.seq : p.from === 'customer')) break;
      j--;
    }
    if (j === i) return;
    st.items.splice(i, 1);
    st.items.splice(j, 0, it);
    if (it.node && st.items[j + 1] && st.items[j + 1].node)
      list.insertBefore(it.node, st.items[j + 1].node);
  }
  function append(it, persist = true) {
    const stick = atBottom();
    if (persist) st.items.push(it);
    list.append(renderItem(it));
    if (persist) place(it);
    if (stick || it.from === 'customer') scroll();
    save();
  }
  function renderAll() {
    list.textContent = '';
    st.items.forEach(it => list.append(renderItem(it)));
    nameIn.hidden = !!st.cid || st.items.length > 0;
    refreshChrome();
    requestAnimationFrame(scroll);
  }
  function notice(kind, text) {
    if (!text) return;
    const last = st.items[st.items.length - 1];
    if (last && last.t === 'n' && last.kind === kind && (kind === 'queue' || last.text === text)) {
      last.text = text; last.ts = Date.now();
      last.node.firstChild.textContent = text;
      save();
      return;
    }
    append({ t: 'n', kind, text, ts: Date.now() });
  }
  function refreshChrome() {
    sub.textContent = st.agent || T.subtitle;
    root.classList.toggle('live', !!st.agent);
    const closed = st.closed;
    composer.hidden = closed;
    $('.actions').hidden = closed;
    newChat.hidden = !closed;
    badge.hidden = !st.unread || st.open;
    badge.textContent = st.unread > 9 ? '9+' : String(st.unread);
    launcher.setAttribute('aria-label', st.unread && !st.open ? `${T.open} (${st.unread})` : st.open ? T.close : T.open);
  }

  /* --- panel ------------------------------------------------------------- */
  function setOpen(open, focus = true) {
    st.open = open;
    panel.hidden = !open;
    root.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', String(open));
    if (open) {
      st.unread = 0;
      scroll();
      if (focus) (st.closed ? newChat : input).focus();
    } else if (focus) {
      launcher.focus();
    }
    refreshChrome();
    save();
  }
  launcher.addEventListener('click', () => setOpen(!st.open));
  $('.x').addEventListener('click', () => setOpen(false));
  panel.addEventListener('keydown', e => {
    if (e.key !== 'Escape') return;
    e.stopPropagation();
    if (!cbForm.hidden) toggleCallback(false);
    else setOpen(false);
  });

  /* --- connection ---------------------------------------------------------- */
  let ws = null, ready = false, attempt = 0, retryTimer = 0, replayTo = -1, replayTimer = 0;
  let refN = 0, typingOn = false, typingTimer = 0, inTypingTimer = 0;
  const outbox = [];          // frames (escalate, callback) waiting for `welcome`
  const refs = new Map();     // ref -> handler {ok(msg), err(msg)}
  const nextRef = p => p + (++refN) + '-' + Date.now().toString(36);

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws) return;
    conn.hidden = true;
    ready = false;
    let sock;
    try { sock = new WebSocket(server); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = () => {
      const hello = { type: 'hello', ref: 'hello' };
      if (st.cid && st.token) {
        hello.resume = { conversation_id: st.cid, token: st.token, last_seq: st.last };
      } else {
        const name = (nameIn.value || '').trim();
        if (name) { hello.name = name; st.name = name; }
        hello.language = lang;
        if (ds.topic) hello.topic = ds.topic;
        hello.attributes = { page: location.pathname, page_title: document.title.slice(0, 120) };
      }
      sock.send(JSON.stringify(hello));
    };
    sock.onmessage = ev => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m.type === 'string') handle(m);
    };
    sock.onclose = ev => {
      if (ws !== sock) return;
      ws = null;
      ready = false;
      clearTimeout(replayTimer);
      setTyping(false);
      if (ev.code === 1000 && st.cid) {        // another window resumed this chat
        showConn(T.elsewhere, true);
        return;
      }
      if (!st.closed && (st.cid || hasPending())) scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    if (retryTimer) return;
    const base = Math.min(30000, 500 * 2 ** Math.min(attempt++, 8));
    const delay = Math.round(base / 2 + Math.random() * base / 2);   // exponential, jittered
    showConn(T.reconnecting, attempt > 2);
    retryTimer = setTimeout(connect, delay);
  }
  function showConn(text, withButton) {
    conn.hidden = false;
    conn.firstChild.textContent = text;
    rcBtn.hidden = !withButton;
  }
  rcBtn.addEventListener('click', () => { attempt = 0; connect(); });
  addEventListener('online', () => { if (retryTimer) { attempt = 0; connect(); } });

  const send = o => { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(o)); return true; } return false; };
  const hasPending = () => st.items.some(i => i.t === 'm' && i.from === 'customer' && !i.seq && i.status !== 'failed');

  /* Once the resume replay has caught up with welcome.seq, messages that never
   * got their `ok` are sent again (a replayed copy of one has already taken its
   * place, matched by text), then anything else that waited for the socket. */
  function flush() {
    clearTimeout(replayTimer);
    replayTo = -1;
    ready = true;
    st.items.forEach(it => {
      if (it.t === 'm' && it.from === 'customer' && !it.seq && it.status === 'pending') transmit(it);
    });
    while (outbox.length) {
      const [frame, handler] = outbox.shift();
      request(frame, handler);
    }
  }
  function transmit(it) {
    it.ref = it.ref || nextRef('m');
    refs.set(it.ref, {
      ok: m => { if (!it.seq) { markSeen(m.seq); it.seq = m.seq; it.status = 'sent'; updateItem(it); place(it); save(); } },
      err: m => { it.status = 'failed'; it.err = m.message || m.code; updateItem(it); save(); }
    });
    send({ type: 'message', ref: it.ref, text: it.text });
  }
  function request(frame, handler) {
    if (!ready) { outbox.push([frame, handler]); connect(); return; }
    frame.ref = nextRef(frame.type.slice(0, 2));
    refs.set(frame.ref, handler || {});
    send(frame);
  }
  function markSeen(seq) {
    seqs.add(seq);
    while (seqs.has(st.last + 1)) st.last++;
  }

  function handle(m) {
    const h = m.ref && refs.get(m.ref);
    if (h) refs.delete(m.ref);
    switch (m.type) {
    case 'welcome':
      attempt = 0;
      conn.hidden = true;
      if (st.cid !== m.conversation_id) {
        st.cid = m.conversation_id;
        st.last = Math.max(st.last, 0);
      }
      st.token = m.token || st.token;
      st.closed = m.state === 'closed';
      nameIn.hidden = true;
      save();
      refreshChrome();
      if (typeof m.seq === 'number' && m.seq > st.last) {
        replayTo = m.seq;
        replayTimer = setTimeout(flush, 4000);
      } else {
        flush();
      }
      break;
    case 'ok':
      if (h && h.ok) h.ok(m);
      break;
    case 'error':
      if (m.ref === 'hello') {
        if (m.code === 'unauthorized') startFresh();
        else notice('error', m.message || m.code);
      } else if (h && h.err) {
        h.err(m);
      } else {
        notice('error', m.message || m.code);
      }
      break;
    case 'message':
      onMessage(m);
      break;
    case 'typing':
      setTyping(!!m.on);
      break;
    case 'queue':
      st.agent = null;
      notice('queue', m.text);
      refreshChrome();
      break;
    case 'agent_joined':
      st.agent = m.name || null;
      notice('agent_joined', m.text);
      refreshChrome();
      break;
    case 'transferring':
      st.agent = null;
      notice('transferring', m.text);
      refreshChrome();
      break;
    case 'closed':
      notice('closed', m.text);
      st.closed = true;
      st.cid = st.token = st.agent = null;
      setTyping(false);
      refreshChrome();
      save();
      if (ws) ws.close(1000);
      break;
    }
  }

  function onMessage(m) {
    const seq = m.seq;
    if (typeof seq !== 'number' || seq <= 0) return;
    if (seqs.has(seq) || seq <= st.last) {
      if (replayTo > 0 && st.last >= replayTo) flush();
      return;
    }
    let it = null;
    if (m.from === 'customer') {      // our own message coming back in a resume replay
      it = st.items.find(i => i.t === 'm' && i.from === 'customer' && !i.seq && i.text === m.text);
    }
    markSeen(seq);
    if (it) {
      it.seq = seq; it.status = 'sent';
      updateItem(it);
      place(it);
      save();
    } else {
      append({ t: 'm', seq, from: m.from, name: m.name || '', text: String(m.text || ''), ts: m.ts });
      if (m.from !== 'customer') {
        setTyping(false);
        if (m.from === 'agent' && m.name) st.agent = m.name;
        if (!st.open) st.unread++;
        refreshChrome();
      }
    }
    if (replayTo > 0 && st.last >= replayTo) flush();
  }

  function startFresh() {
    const texts = st.items.filter(i => i.t === 'm' && i.from === 'customer' && !i.seq).map(i => i.text);
    const open = st.open;
    st = blank();
    st.open = open;
    seqs = new Set();
    ready = false;
    renderAll();
    notice('ended', T.ended);
    texts.forEach(text => append({ t: 'm', from: 'customer', text, ts: Date.now(), status: 'pending' }));
    if (ws) { const s = ws; ws = null; s.close(); }
    if (texts.length || outbox.length) connect();
  }

  function setTyping(on) {
    clearTimeout(inTypingTimer);
    typingEl.hidden = !on;
    if (on) {
      $('.tt').textContent = `${st.agent || ''} ${T.typing}`.trim();
      inTypingTimer = setTimeout(() => setTyping(false), 8000);
    }
  }

  /* --- sending --------------------------------------------------------------- */
  function sendText(text) {
    const it = { t: 'm', from: 'customer', text, ts: Date.now(), status: 'pending' };
    append(it);
    nameIn.hidden = true;
    if (ready) transmit(it);
    else connect();
  }
  function retry(it) {
    it.status = 'pending';
    it.err = null;
    it.ref = null;
    updateItem(it);
    save();
    if (ready) transmit(it);
    else connect();
  }
  function typing(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => typing(false), 4000);
    if (on !== typingOn && ready) {
      typingOn = on;
      send({ type: 'typing', on });
    }
  }
  composer.addEventListener('submit', e => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    autosize();
    typing(false);
    sendText(text);
  });
  input.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 120) + 'px';
  }
  input.addEventListener('input', () => { autosize(); typing(input.value.trim().length > 0); });

  human.addEventListener('click', () => {
    human.disabled = true;
    const done = () => { human.disabled = false; };
    request({ type: 'escalate', reason: 'customer asked for a person' }, {
      ok: done, err: m => { done(); notice('error', m.message || m.code); }
    });
  });

  function toggleCallback(open) {
    cbForm.hidden = !open;
    cbToggle.setAttribute('aria-expanded', String(open));
    if (open) { cbStatus.textContent = ''; cbStatus.className = 'cbs'; phone.focus(); } else cbToggle.focus();
  }
  cbToggle.addEventListener('click', () => toggleCallback(cbForm.hidden));
  $('.cancel').addEventListener('click', () => toggleCallback(false));
  cbForm.addEventListener('submit', e => {
    e.preventDefault();
    const number = phone.value.replace(/[\s().-]/g, '');
    if (!/^\+?[0-9]{5,20}$/.test(number)) {
      cbStatus.className = 'cbs err';
      cbStatus.textContent = T.phone + ': ' + (phone.value || '…');
      phone.setAttribute('aria-invalid', 'true');
      phone.focus();
      return;
    }
    phone.removeAttribute('aria-invalid');
    const btn = $('.call');
    btn.disabled = true;
    cbStatus.className = 'cbs';
    cbStatus.textContent = T.sending;
    request({ type: 'callback', phone: number }, {
      ok: () => { btn.disabled = false; cbStatus.textContent = T.requested; },
      err: m => { btn.disabled = false; cbStatus.className = 'cbs err'; cbStatus.textContent = m.message || m.code; }
    });
  });

  newChat.addEventListener('click', () => {
    st = blank();
    st.open = true;
    seqs = new Set();
    renderAll();
    input.focus();
    save();
  });

  /* --- start ------------------------------------------------------------------ */
  const mount = () => {
    document.body.append(host);
    renderAll();
    setOpen(st.open, false);
    if (st.cid && !st.closed) connect();
  };
  if (document.body) mount(); else addEventListener('DOMContentLoaded', mount);

  window.Switchboard = {
    open: () => setOpen(true), close: () => setOpen(false),
    toggle: () => setOpen(!st.open), get conversationId() { return st.cid; }
  };
})();
