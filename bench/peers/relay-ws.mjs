#!/usr/bin/env node
// relay-ws.mjs - the peer switchboard is measured against: what a team would
// write instead, a plain Node.js relay on the `ws` package.
//
// It speaks the subset of the wire contract (spec/protocol.md) that
// bench/loadgen uses, in memory, with round-robin routing:
//   /v1/customer  hello -> welcome (+ agent_joined, or queue until an agent frees up)
//                 message -> ok {seq}; relayed to the agent as a message
//   /v1/agent     auth -> welcome; status -> ok; assigned {conversation};
//                 message {conversation_id} -> ok {seq}; relayed to the customer
// Conversations keep their transcript in memory (the assigned context carries
// it); nothing is written to disk. Idiomatic, not slowed down: one process,
// JSON.parse/JSON.stringify, ws with bufferutil when it is installed.
//
// usage: node relay-ws.mjs [--listen 127.0.0.1:0] [--tokens FILE] [--capacity N]
//   --tokens FILE  agent tokens, one per line (the agent's id is its line's
//                  token); without it any non-empty token signs in
//   --capacity N   conversations per agent (default 1000)
// Prints "listening on 127.0.0.1:PORT" once it accepts connections.

import { WebSocketServer } from 'ws';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const [host, portText] = opt('--listen', '127.0.0.1:0').split(/:(?=\d+$)/);
const capacity = Number(opt('--capacity', '1000'));
const tokensFile = opt('--tokens', null);
const allowed = tokensFile
  ? new Set(readFileSync(tokensFile, 'utf8').split('\n').map((s) => s.trim()).filter(Boolean))
  : null;

const agents = new Map();      // id -> agent { id, ws, state, convs:Set }
const conversations = new Map(); // id -> conv { id, customer, agent, seq, transcript, ... }
const queue = [];              // conversations waiting for an agent, oldest first
let rr = 0;                    // round-robin cursor over available agents

function send(ws, obj) {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj));
}

function error(ws, ref, code, message) {
  const e = { type: 'error', code, message };
  if (ref !== undefined) e.ref = ref;
  send(ws, e);
}

function context(conv) {
  return {
    id: conv.id, channel: 'webchat', state: conv.state,
    customer: { name: conv.name, email: conv.email },
    language: conv.language, topic: conv.topic, skills: {}, priority: 0,
    pool: 'frontline', attributes: conv.attributes, transcript: conv.transcript,
    notes: [], history: conv.history,
  };
}

// Next available agent with a free slot, round robin; undefined if none.
function pickAgent() {
  const list = [...agents.values()];
  for (let i = 0; i < list.length; i++) {
    const a = list[(rr + i) % list.length];
    if (a.state === 'available' && a.ws && a.convs.size < capacity) {
      rr = (rr + i + 1) % list.length;
      return a;
    }
  }
  return undefined;
}

function assign(conv, agent) {
  conv.agent = agent;
  conv.state = 'assigned';
  agent.convs.add(conv.id);
  conv.history.push({ event: 'assigned', ts: Date.now(), pool: 'frontline', agent: agent.id });
  send(agent.ws, { type: 'assigned', conversation: context(conv) });
  send(conv.customer, {
    type: 'agent_joined', name: agent.id, pool: 'frontline',
    text: `${agent.id} has joined the conversation.`,
  });
}

function queueNotice(conv, position) {
  send(conv.customer, {
    type: 'queue', pool: 'frontline', position, eta_s: 60 * position,
    text: `You are number ${position} in line.`,
  });
}

// Assigns waiting conversations while agents have room; the ones still
// waiting hear their new position when it changed.
function drainQueue() {
  let moved = 0;
  while (queue.length) {
    const agent = pickAgent();
    if (!agent) break;
    assign(queue.shift(), agent);
    moved++;
  }
  if (moved) queue.forEach((conv, i) => queueNotice(conv, i + 1));
}

function addMessage(conv, from, name, text) {
  const m = {
    type: 'message', conversation_id: conv.id, seq: ++conv.seq, from, name, text, ts: Date.now(),
  };
  conv.transcript.push(m);
  return m;
}

function customerFrame(ws, st, f) {
  if (f.type === 'hello') {
    if (st.conv) return error(ws, f.ref, 'conflict', 'hello was already sent on this connection');
    const conv = {
      id: randomBytes(16).toString('hex'), token: randomBytes(32).toString('hex'),
      customer: ws, agent: null, state: 'queued', seq: 0,
      name: typeof f.name === 'string' ? f.name : 'Customer', email: f.email,
      language: typeof f.language === 'string' ? f.language : 'en', topic: f.topic,
      attributes: f.attributes || {}, transcript: [], history: [],
    };
    conversations.set(conv.id, conv);
    st.conv = conv;
    const agent = pickAgent();
    send(ws, {
      type: 'welcome', conversation_id: conv.id, token: conv.token, language: conv.language,
      state: agent ? 'assigned' : 'queued', seq: 0,
    });
    if (agent) assign(conv, agent);
    else { queue.push(conv); queueNotice(conv, queue.length); }
    return;
  }
  if (!st.conv) return error(ws, f.ref, 'bad_request', "send 'hello' first");
  const conv = st.conv;
  switch (f.type) {
    case 'message': {
      if (typeof f.text !== 'string') return error(ws, f.ref, 'bad_request', "field 'text' must be a string");
      const m = addMessage(conv, 'customer', conv.name, f.text);
      send(ws, { type: 'ok', ref: f.ref, seq: m.seq, conversation_id: conv.id });
      if (conv.agent) send(conv.agent.ws, m);
      return;
    }
    case 'typing':
      if (conv.agent) send(conv.agent.ws, { type: 'typing', conversation_id: conv.id, on: !!f.on, from: 'customer' });
      return;
    case 'close':
      closeConversation(conv, 'customer');
      return send(ws, { type: 'ok', ref: f.ref });
    default:
      return error(ws, f.ref, 'unknown_type', `unknown type '${f.type}' on the customer endpoint`);
  }
}

function closeConversation(conv, by) {
  if (conv.state === 'closed') return;
  conv.state = 'closed';
  const qi = queue.indexOf(conv);
  if (qi >= 0) {
    queue.splice(qi, 1);
    for (let i = qi; i < queue.length; i++) queueNotice(queue[i], i + 1);
  }
  if (conv.agent) {
    conv.agent.convs.delete(conv.id);
    send(conv.agent.ws, {
      type: 'released', conversation_id: conv.id, reason: by === 'customer' ? 'customer_left' : 'closed',
    });
  }
  send(conv.customer, { type: 'closed', reason: by, text: 'This conversation is closed. Thank you!' });
  conversations.delete(conv.id);
  drainQueue();
}

function agentFrame(ws, st, f) {
  if (!st.agent) {
    if (f.type !== 'auth' || typeof f.token !== 'string' || !f.token ||
        (allowed && !allowed.has(f.token))) {
      error(ws, f.ref, 'unauthorized', 'authentication failed');
      return ws.close(1008, 'authentication failed');
    }
    let agent = agents.get(f.token);
    if (agent && agent.ws && agent.ws !== ws) {
      error(agent.ws, undefined, 'conflict', 'signed in from another connection');
      agent.ws.close(4001, 'signed in from another connection');
    }
    if (!agent) {
      agent = { id: f.token, ws, state: 'away', convs: new Set() };
      agents.set(agent.id, agent);
    }
    agent.ws = ws;
    agent.state = 'away';
    st.agent = agent;
    const mine = [...agent.convs].map((id) => context(conversations.get(id)));
    const w = {
      type: 'welcome', state: agent.state, conversations: mine,
      agent: { id: agent.id, name: agent.id, role: 'agent', pools: ['frontline'], capacity: { chat: capacity } },
    };
    if (f.ref !== undefined) w.ref = f.ref;
    return send(ws, w);
  }
  const agent = st.agent;
  switch (f.type) {
    case 'status':
      if (!['available', 'away', 'offline'].includes(f.state)) return error(ws, f.ref, 'bad_request', "field 'state'");
      agent.state = f.state;
      send(ws, { type: 'ok', ref: f.ref });
      if (f.state === 'available') drainQueue();
      return;
    case 'message': {
      const conv = conversations.get(f.conversation_id);
      if (!conv) return error(ws, f.ref, 'not_found', 'no such conversation');
      if (conv.agent !== agent) return error(ws, f.ref, 'forbidden', 'not your conversation');
      if (typeof f.text !== 'string') return error(ws, f.ref, 'bad_request', "field 'text' must be a string");
      const m = addMessage(conv, 'agent', agent.id, f.text);
      m.agent = agent.id;
      send(ws, { type: 'ok', ref: f.ref, seq: m.seq, conversation_id: conv.id });
      send(conv.customer, m);
      return;
    }
    case 'close': {
      const conv = conversations.get(f.conversation_id);
      if (!conv) return error(ws, f.ref, 'not_found', 'no such conversation');
      if (conv.agent !== agent) return error(ws, f.ref, 'forbidden', 'not your conversation');
      send(ws, { type: 'ok', ref: f.ref });
      return closeConversation(conv, 'agent');
    }
    default:
      return error(ws, f.ref, 'unknown_type', `unknown type '${f.type}' on the agent endpoint`);
  }
}

const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ status: 'ok', connections: wss.clients.size, conversations: conversations.size }));
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not_found"}');
});
const wss = new WebSocketServer({ server: http, maxPayload: 65536, clientTracking: true });

wss.on('connection', (ws, req) => {
  const path = req.url.split('?')[0];
  const onFrame = path === '/v1/customer' ? customerFrame : path === '/v1/agent' ? agentFrame : null;
  if (!onFrame) return ws.close(1008, 'unknown path');
  const st = { conv: null, agent: null };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return error(ws, undefined, 'bad_request', 'binary frames are not accepted');
    let f;
    try { f = JSON.parse(data); } catch { return error(ws, undefined, 'bad_json', 'not JSON'); }
    if (!f || typeof f !== 'object' || typeof f.type !== 'string') {
      return error(ws, undefined, 'bad_request', "field 'type' must be a string");
    }
    onFrame(ws, st, f);
  });
  ws.on('close', () => {
    // The conversation outlives the customer's socket: it stays with its agent.
    if (st.conv && st.conv.customer === ws) st.conv.customer = null;
    if (st.agent && st.agent.ws === ws) { st.agent.ws = null; st.agent.state = 'offline'; }
  });
  ws.on('error', () => {});
});

http.listen(Number(portText || 0), host || '127.0.0.1', () => {
  const a = http.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { wss.close(); http.close(); process.exit(0); });
}
