/*
 * hub.c - the libwebsockets listener, sessions, the turn's outbox and group
 * commit, and the core's timer.
 *
 * A loop turn: lws services the ready sockets; every handler feeds the core
 * and drains its actions, which append store writes to the open transaction
 * and frames to the outbox. The first of these schedules sul_flush for "now",
 * which lws runs before it polls again: it commits the transaction once and
 * only then releases the outbox to the sessions' write queues.
 */
#include "hub_private.h"
#include "switchboard/codec.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OUT_PAUSE_BYTES   (1u << 20)   /* stop reading a client this far behind */
#define OUT_RESUME_BYTES  (256u << 10)
#define OUT_MAX_BYTES     (16u << 20)  /* drop a client this far behind */

struct pss {                           /* lws per-session storage */
    sb_session_t *session;
    hub_http_t *http;
};

sb_ms_t sb_hub_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (sb_ms_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const sb_config_t *sb_hub_config(const sb_hub_t *hub) { return hub->cfg; }
sb_core_t *sb_hub_core(sb_hub_t *hub) { return hub->core; }
sb_store_t *sb_hub_store(sb_hub_t *hub) { return hub->store; }
int sb_hub_port(const sb_hub_t *hub) { return hub->port; }
sb_hub_t *sb_session_hub(const sb_session_t *s) { return s->hub; }
sb_session_kind_t sb_session_kind(const sb_session_t *s) { return s->kind; }
void *sb_session_data(const sb_session_t *s) { return s->data; }
void sb_session_set_data(sb_session_t *s, void *data) { s->data = data; }

void sb_hub_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];

    while (n > 0) {
        size_t chunk = n < sizeof(raw) ? n : sizeof(raw);
        if (RAND_bytes(raw, (int)chunk) != 1) {
            sb_error("OpenSSL RAND_bytes failed");
            abort();
        }
        for (size_t i = 0; i < chunk; i++) {
            *out++ = hex[raw[i] >> 4];
            *out++ = hex[raw[i] & 15];
        }
        n -= chunk;
    }
    *out = '\0';
}

/* --- outbox and group commit ------------------------------------------ */

static void store_result(sb_hub_t *hub, int rc)
{
    if (rc < 0)
        hub->turn_failed = true;
}

static void flush_turn(lws_sorted_usec_list_t *sul);
static void retention_timer(lws_sorted_usec_list_t *sul);

void hub__touch(sb_hub_t *hub)
{
    if (hub->flush_scheduled || !hub->ctx)
        return;
    hub->flush_scheduled = true;
    lws_sul_schedule(hub->ctx, 0, &hub->sul_flush, flush_turn, 1);
}

/* A text frame with its WebSocket header (RFC 6455 5.2: FIN, opcode 1, no
 * mask from a server), or a close marker's reason when close_code follows. */
static hub_frame_t *frame_new(const char *text, size_t len)
{
    hub_frame_t *f = sb_malloc(sizeof(*f) + HUB_WS_HDR_MAX + len);
    unsigned char h[HUB_WS_HDR_MAX];

    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        f->hdr_len = 2;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        f->hdr_len = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        f->hdr_len = 10;
    }
    memcpy(HUB_FRAME_WIRE(f), h, f->hdr_len);
    f->next = NULL;
    f->len = len;
    f->close_code = 0;
    if (len)
        memcpy(HUB_FRAME_PAYLOAD(f), text, len);
    return f;
}

static void outbox_push(sb_hub_t *hub, sb_session_t *s, hub_frame_t *f, bool immediate)
{
    hub_pending_t *p;

    if (hub->noutbox == hub->outbox_cap) {
        hub->outbox_cap = hub->outbox_cap ? hub->outbox_cap * 2 : 64;
        hub->outbox = sb_realloc(hub->outbox, hub->outbox_cap * sizeof(*hub->outbox));
    }
    p = &hub->outbox[hub->noutbox++];
    p->session = s;
    p->frame = f;
    p->immediate = immediate;
    hub__touch(hub);
}

static void session_enqueue(sb_session_t *s, hub_frame_t *f)
{
    if (s->closing) {           /* nothing goes out after a close */
        free(f);
        return;
    }
    if (f->close_code)
        s->closing = true;
    if (s->out_tail)
        s->out_tail->next = f;
    else
        s->out_head = f;
    s->out_tail = f;
    s->out_bytes += f->len;
    if (s->out_bytes > OUT_MAX_BYTES && !s->closing) {
        sb_warn("closing a client that does not read (%zu bytes queued)", s->out_bytes);
        s->closing = true;
        hub_frame_t *c = frame_new(NULL, 0);
        c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
        s->out_tail->next = c;
        s->out_tail = c;
    } else if (s->out_bytes > OUT_PAUSE_BYTES && !s->rx_paused) {
        s->rx_paused = true;
        lws_rx_flow_control(s->wsi, 0);
    }
    lws_callback_on_writable(s->wsi);
}

static hub_frame_t *frame_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    hub_frame_t *f = frame_new(text, strlen(text));

    free(text);
    return f;
}

void sb_session_send(sb_session_t *s, json_t *obj)
{
    if (!obj)
        return;
    outbox_push(s->hub, s, frame_json(obj), false);
    json_decref(obj);
}

void sb_session_send_now(sb_session_t *s, json_t *obj)
{
    if (!obj)
        return;
    outbox_push(s->hub, s, frame_json(obj), true);
    json_decref(obj);
}

void sb_session_send_text(sb_session_t *s, const char *text, size_t len)
{
    outbox_push(s->hub, s, frame_new(text, len), false);
}

sb_text_t *sb_hub_text(sb_hub_t *hub)
{
    sb_text_reset(&hub->text);
    return &hub->text;
}

void sb_session_ok_seq(sb_session_t *s, const char *ref, uint64_t seq, const char *conv_id)
{
    sb_text_t *t = sb_hub_text(s->hub);

    SB_TEXT_LIT(t, "{\"type\":\"ok\"");
    if (ref) {
        SB_TEXT_LIT(t, ",\"ref\":");
        sb_text_jstr(t, ref);
    }
    SB_TEXT_LIT(t, ",\"seq\":");
    sb_text_int(t, (int64_t)seq);
    SB_TEXT_LIT(t, ",\"conversation_id\":");
    sb_text_jstr(t, conv_id);
    SB_TEXT_LIT(t, "}");
    sb_session_send_text(s, t->buf, t->len);
}

static void ok_frame(sb_session_t *s, const char *ref, json_t *fields, bool now)
{
    json_t *o = fields ? fields : json_object();

    json_object_set_new(o, "type", json_string("ok"));
    if (ref)
        json_object_set_new(o, "ref", json_string(ref));
    outbox_push(s->hub, s, frame_json(o), now);
    json_decref(o);
}

void sb_session_ok(sb_session_t *s, const char *ref, json_t *fields)
{
    ok_frame(s, ref, fields, false);
}

void sb_session_ok_now(sb_session_t *s, const char *ref, json_t *fields)
{
    ok_frame(s, ref, fields, true);
}

static json_t *error_object(const char *ref, const char *code, const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string("error"));
    if (ref && *ref)
        json_object_set_new(o, "ref", json_string(ref));
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "message", json_string(message));
    return o;
}

void sb_session_error(sb_session_t *s, const char *ref, const char *code,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    json_t *o;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o = error_object(ref, code, msg);
    outbox_push(s->hub, s, frame_json(o), true);
    json_decref(o);
}

bool sb_hub_store_ok(const sb_hub_t *hub)
{
    return !hub->store_down;
}

void sb_session_close(sb_session_t *s, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    hub_frame_t *f;

    if (rlen > 120)
        rlen = 120;
    f = frame_new(reason, rlen);    /* the reason travels in the payload */
    f->close_code = code;
    outbox_push(s->hub, s, f, true);
}

void sb_session_bad_frame(sb_session_t *s)
{
    s->hub->m_bad_frames++;
    if (s->bad_tokens >= 1.0) {
        s->bad_tokens -= 1.0;
        return;
    }
    sb_warn("closing a client that keeps sending bad frames");
    sb_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many bad frames");
}

/* Adds id unless it is there already; with `recent`, only the last entry is
 * looked at (the turn's touched list: a repeat costs less than the search,
 * and the failure path dedupes into the dirty list). */
static void conv_ids_add(hub_conv_id_t **arr, size_t *n, size_t *cap, const char *id,
                         bool recent)
{
    for (size_t i = *n; i > 0 && (!recent || i == *n); i--)
        if (strcmp((*arr)[i - 1].id, id) == 0)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = sb_realloc(*arr, *cap * sizeof(**arr));
    }
    {
        char *dst = (*arr)[(*n)++].id;
        size_t len = strnlen(id, sizeof((*arr)[0].id) - 1);
        memcpy(dst, id, len);
        dst[len] = '\0';
    }
}

/* Writes again everything of the conversations a failed turn touched, into
 * the open transaction (appends are idempotent, the row is an upsert). A
 * conversation closed since is gone from memory: its last writes are lost,
 * which the log says. */
static void repersist_dirty(sb_hub_t *hub)
{
    for (size_t i = 0; i < hub->ndirty; i++) {
        sb_conv_t *c = sb_core_conv_find(hub->core, hub->dirty[i].id);
        if (!c) {
            sb_warn("store: conversation %s closed while the store was down; "
                    "its last changes were not stored", hub->dirty[i].id);
            continue;
        }
        store_result(hub, sb_store_save_conv(hub->store, c));
        for (size_t j = 0; j < c->nmsgs; j++)
            store_result(hub, sb_store_append_message(hub->store, c, &c->msgs[j]));
        for (size_t j = 0; j < c->nnotes; j++)
            store_result(hub, sb_store_append_note(hub->store, c, &c->notes[j]));
        for (size_t j = 0; j < c->nhistory; j++)
            store_result(hub, sb_store_append_event(hub->store, c, &c->history[j]));
    }
}

static void heal_timer(lws_sorted_usec_list_t *sul);

/* The store's maintenance (a WAL checkpoint) once a turn's frames are written:
 * scheduled a little after the flush, so the loop's next poll sends them
 * first. A turn that opened meanwhile is committed first (its frames then
 * wait for the checkpoint, as every turn's did when SQLite checkpointed in
 * the commit; under full load there is no gap to wait for). */
#define MAINT_DELAY_US 200

static void maint_timer(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_maint);

    if (hub->flush_scheduled) {
        lws_sul_cancel(&hub->sul_flush);
        flush_turn(&hub->sul_flush);
    }
    sb_store_maintain(hub->store);
}

/*
 * Runs at the end of a loop turn: one commit, then the turn's frames go out.
 *
 * When the commit fails, nothing that depended on it goes out: the turn's
 * frames (replies, deliveries, notices) stay held in the outbox, its
 * conversations are marked dirty, and the store is down. While it is down,
 * requests that need a write are refused with "unavailable" before they
 * change anything (sb_hub_store_ok), error frames still go out at once, and
 * every flush (and a timer each second) writes the dirty conversations again
 * first. The first commit that succeeds releases every held frame, in order.
 */
static void flush_turn(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_flush);
    bool failed;
    size_t kept = 0;

    hub->flush_scheduled = false;
    if (hub->store_down) {
        store_result(hub, sb_store_begin(hub->store));
        if (!hub->turn_failed)
            repersist_dirty(hub);
    }
    failed = hub->turn_failed;
    if (!failed && hub->store->in_txn) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (sb_store_commit(hub->store) < 0)
            failed = true;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        hub->m_commits++;
        hub->m_commit_seconds += (double)(t1.tv_sec - t0.tv_sec) +
                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    hub->turn_failed = false;
    if (failed) {
        hub->m_commit_failures++;
        sb_store_rollback(hub->store);
        if (!hub->store_down)
            sb_error("store: writes are failing; holding what was not stored, "
                     "refusing new writes with 'unavailable' until the store recovers");
        hub->store_down = true;
        for (size_t i = 0; i < hub->ntouched; i++)
            conv_ids_add(&hub->dirty, &hub->ndirty, &hub->dirty_cap, hub->touched[i].id, false);
        if (hub->ctx)
            lws_sul_schedule(hub->ctx, 0, &hub->sul_heal, heal_timer, LWS_US_PER_SEC);
    } else if (hub->store_down) {
        sb_info("store: writes succeed again (%zu conversations written again)", hub->ndirty);
        hub->store_down = false;
        hub->ndirty = 0;
        lws_sul_cancel(&hub->sul_heal);
    }
    hub->ntouched = 0;

    for (size_t i = 0; i < hub->noutbox; i++) {
        hub_pending_t *p = &hub->outbox[i];
        if (!p->session) {
            free(p->frame);
            continue;
        }
        if (hub->store_down && !p->immediate) {
            hub->outbox[kept++] = *p;    /* held until a commit succeeds */
            continue;
        }
        session_enqueue(p->session, p->frame);
        hub->m_frames_out++;
    }
    hub->noutbox = kept;
    hub__after_commit(hub, failed);    /* channels: held webhook answers, the outbox */
    if (hub->ctx && sb_store_maintenance_due(hub->store))
        lws_sul_schedule(hub->ctx, 0, &hub->sul_maint, maint_timer, MAINT_DELAY_US);
}

static void heal_timer(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_heal);

    if (!hub->store_down)
        return;
    if (hub->flush_scheduled)
        lws_sul_cancel(&hub->sul_flush);
    flush_turn(&hub->sul_flush);
}

/* --- the core's timer --------------------------------------------------- */

static void core_timer(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_core);

    hub->core_deadline = SB_NEVER;
    sb_core_tick(hub->core, sb_hub_now());
    sb_hub_drain(hub);
}

static void schedule_core_timer(sb_hub_t *hub)
{
    sb_ms_t next = sb_core_next_deadline(hub->core), now;

    if (next == hub->core_deadline || !hub->ctx)
        return;
    hub->core_deadline = next;
    if (next == SB_NEVER) {
        lws_sul_cancel(&hub->sul_core);
        return;
    }
    now = sb_hub_now();
    lws_sul_schedule(hub->ctx, 0, &hub->sul_core, core_timer,
                     next > now ? (lws_usec_t)(next - now) * 1000 : 1);
}

/* --- carrying out the core's actions ------------------------------------- */


static void to_agent(sb_agent_t *agent, json_t *obj)
{
    if (agent && agent->user)
        sb_session_send(agent->user, obj);
    else
        json_decref(obj);
}

static void to_agent_text(sb_hub_t *hub, sb_agent_t *agent, const sb_conv_t *c,
                          const sb_message_t *m)
{
    sb_text_t *t;

    if (!agent || !agent->user)
        return;
    t = sb_hub_text(hub);
    sb_codec_message_text(t, c, m);
    sb_session_send_text(agent->user, t->buf, t->len);
}

static void deliver_customer(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    const sb_channel_methods_t *ch = sb_channel_find(conv->channel);

    if (ch && ch->deliver)
        ch->deliver(hub, conv, act);
}

void sb_hub_drain(sb_hub_t *hub)
{
    size_t n;
    const sb_action_t *acts = sb_core_actions(hub->core, &n);
    const sb_config_t *cfg = hub->cfg;

    if (n)
        store_result(hub, sb_store_begin(hub->store));
    for (size_t i = 0; i < n; i++) {
        const sb_action_t *a = &acts[i];
        sb_conv_t *c = a->conv;
        json_t *o;

        if (c && (a->kind == SB_ACT_CONV_SAVE || a->kind == SB_ACT_MESSAGE ||
                  a->kind == SB_ACT_NOTE || a->kind == SB_ACT_EVENT))
            conv_ids_add(&hub->touched, &hub->ntouched, &hub->touched_cap, c->id, true);

        switch (a->kind) {
        case SB_ACT_CONV_SAVE:
            store_result(hub, sb_store_save_conv(hub->store, c));
            break;
        case SB_ACT_MESSAGE: {
            const sb_message_t *m = &c->msgs[a->index];
            hub->m_messages++;
            store_result(hub, sb_store_append_message(hub->store, c, m));
            if (m->from != SB_FROM_CUSTOMER)
                deliver_customer(hub, c, a);
            if (c->agent && c->state == SB_CONV_ASSIGNED &&
                !(m->agent_id && strcmp(m->agent_id, c->agent->cfg->id) == 0))
                to_agent_text(hub, c->agent, c, m);
            break;
        }
        case SB_ACT_NOTE:
            store_result(hub, sb_store_append_note(hub->store, c, &c->notes[a->index]));
            break;
        case SB_ACT_EVENT:
            store_result(hub, sb_store_append_event(hub->store, c, &c->history[a->index]));
            break;
        case SB_ACT_QUEUE:
        case SB_ACT_AGENT_JOINED:
        case SB_ACT_TRANSFERRING:
        case SB_ACT_CLOSED:
            deliver_customer(hub, c, a);
            break;
        case SB_ACT_ASSIGNED:
        case SB_ACT_OFFER:
            o = json_object();
            json_object_set_new(o, "type", json_string(a->kind == SB_ACT_OFFER ? "offer"
                                                                                 : "assigned"));
            json_object_set_new(o, "conversation", sb_codec_context(cfg, c, 0));
            if (a->kind == SB_ACT_OFFER)
                json_object_set_new(o, "expires_in_ms", json_integer(a->expires_in_ms));
            to_agent(a->agent, o);
            break;
        case SB_ACT_RELEASED:
            o = json_object();
            json_object_set_new(o, "type", json_string("released"));
            json_object_set_new(o, "conversation_id", json_string(c->id));
            json_object_set_new(o, "reason", json_string(a->reason ? a->reason : "closed"));
            to_agent(a->agent, o);
            break;
        case SB_ACT_AGENT_STATE:
            if (a->reason && strcmp(a->reason, "removed") == 0) {
                hub__agent_removed(hub, a->agent);
                break;
            }
            o = json_object();
            json_object_set_new(o, "type", json_string("status"));
            json_object_set_new(o, "state", json_string(sb_agent_state_name(a->agent->state)));
            if (a->reason)
                json_object_set_new(o, "reason", json_string(a->reason));
            to_agent(a->agent, o);
            break;
        }
    }
    sb_core_actions_clear(hub->core);
    schedule_core_timer(hub);
}

/* --- sessions ------------------------------------------------------------ */

static void rate_refill(sb_session_t *s, sb_ms_t now)
{
    const sb_config_t *cfg = s->hub->cfg;
    double dt = (double)(now - s->rate_ts) / 1000.0;

    if (dt <= 0)
        return;
    s->rate_ts = now;
    s->tokens += dt * cfg->rate_mps;
    if (s->tokens > cfg->rate_burst)
        s->tokens = cfg->rate_burst;
    s->bad_tokens += dt * cfg->rate_mps;
    if (s->bad_tokens > cfg->rate_burst)
        s->bad_tokens = cfg->rate_burst;
}

static sb_session_t *session_new(sb_hub_t *hub, struct lws *wsi,
                                 const sb_channel_methods_t *ep)
{
    sb_session_t *s = sb_calloc(1, sizeof(*s));

    s->hub = hub;
    s->wsi = wsi;
    s->ep = ep;
    s->kind = ep->session_kind;
    s->tokens = s->bad_tokens = hub->cfg->rate_burst;
    s->rate_ts = sb_hub_now();
    s->next = hub->sessions;
    if (hub->sessions)
        hub->sessions->prev = s;
    hub->sessions = s;
    hub->nsessions++;
    hub->m_connections_total++;
    return s;
}

static void session_free(sb_session_t *s)
{
    sb_hub_t *hub = s->hub;
    hub_frame_t *f, *next;

    if (s->ep->on_close)
        s->ep->on_close(s);
    sb_hub_drain(hub);
    for (size_t i = 0; i < hub->noutbox; i++)
        if (hub->outbox[i].session == s)
            hub->outbox[i].session = NULL;
    for (f = s->out_head; f; f = next) {
        next = f->next;
        free(f);
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        hub->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    hub->nsessions--;
    free(s->rx);
    free(s);
}

static const sb_channel_methods_t *endpoint_for_path(const char *path)
{
    if (strcmp(path, hub__agent_endpoint.ws_path) == 0)
        return &hub__agent_endpoint;
    return sb_channel_for_path(path);
}

static bool origin_allowed(const sb_config_t *cfg, struct lws *wsi)
{
    char origin[256];

    if (cfg->nallowed_origins == 0)
        return true;
    if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
        return false;
    for (size_t i = 0; i < cfg->nallowed_origins; i++)
        if (strcmp(cfg->allowed_origins[i], origin) == 0)
            return true;
    return false;
}

/* One complete WebSocket message from a client. */
static void session_message(sb_session_t *s, const char *buf, size_t len, bool binary)
{
    const char *type, *ref, *code;
    char refbuf[65], msg[300];
    json_t *obj;
    sb_ms_t now = sb_hub_now();

    rate_refill(s, now);
    if (s->tokens < 1.0) {
        sb_session_error(s, NULL, "rate_limited", "more than %d messages per second",
                         s->hub->cfg->rate_mps);
        sb_session_bad_frame(s);
        return;
    }
    s->tokens -= 1.0;
    if (binary) {
        sb_session_error(s, NULL, "bad_request", "binary frames are not accepted; send "
                         "UTF-8 text frames holding one JSON object");
        sb_session_bad_frame(s);
        return;
    }
    if (s->ep->on_flat && len < HUB_FLAT_MAX) {
        sb_flat_t flat;
        memcpy(s->hub->flat_buf, buf, len);
        if (sb_codec_scan(s->hub->flat_buf, len, &flat) == 0 && s->ep->on_flat(s, &flat)) {
            sb_hub_drain(s->hub);
            return;
        }
    }
    obj = sb_codec_parse(buf, len, &type, &ref, refbuf, &code, msg, sizeof(msg));
    if (!obj) {
        sb_session_error(s, ref, code, "%s", msg);
        sb_session_bad_frame(s);
        return;
    }
    s->ep->on_frame(s, obj, type, ref);
    json_decref(obj);
    sb_hub_drain(s->hub);
}

/* At most this many bytes go into one send (a larger frame goes alone). */
#define WRITE_BATCH_BYTES 65536

/*
 * A writable socket takes its queued frames in one send: their wire bytes
 * (each frame carries its header) put together in hub->wbuf and written raw.
 * What the kernel does not take, lws keeps and sends before it calls this
 * again. An agent with ten busy conversations gets ten frames for one system
 * call instead of ten; a customer its ok and the agent's answer together.
 */
static int write_frames(sb_session_t *s)
{
    sb_hub_t *hub = s->hub;
    hub_frame_t *f;
    size_t n = 0;

    while ((f = s->out_head) && !f->close_code) {
        size_t wire = f->hdr_len + f->len;
        if (n && n + wire > WRITE_BATCH_BYTES)
            break;
        if (n + wire > hub->wbuf_cap) {
            hub->wbuf_cap = n + wire > WRITE_BATCH_BYTES ? n + wire : WRITE_BATCH_BYTES;
            hub->wbuf = sb_realloc(hub->wbuf, hub->wbuf_cap);
        }
        memcpy(hub->wbuf + n, HUB_FRAME_WIRE(f), wire);
        n += wire;
        s->out_head = f->next;
        if (!s->out_head)
            s->out_tail = NULL;
        s->out_bytes -= f->len;
        free(f);
    }
    if (n && lws_write(s->wsi, hub->wbuf, n, LWS_WRITE_RAW) < (int)n)
        return -1;
    if (s->rx_paused && s->out_bytes < OUT_RESUME_BYTES) {
        s->rx_paused = false;
        lws_rx_flow_control(s->wsi, 1);
    }
    f = s->out_head;
    if (f && f->close_code && !(n && lws_send_pipe_choked(s->wsi))) {
        /* everything before it is out (or with the kernel): close now */
        s->out_head = f->next;
        if (!s->out_head)
            s->out_tail = NULL;
        lws_close_reason(s->wsi, (enum lws_close_status)f->close_code,
                         HUB_FRAME_PAYLOAD(f), f->len);
        free(f);
        return -1;
    }
    if (s->out_head)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static int http_reply_headers(struct lws *wsi, hub_http_t *h)
{
    unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start,
                  *end = &buf[sizeof(buf) - 1];

    if (lws_add_http_common_headers(wsi, (unsigned int)h->status, h->content_type,
                                    h->resp_len, &p, end))
        return 1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return 1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    h->headers_sent = true;
    lws_callback_on_writable(wsi);
    return 0;
}

/* A complete request: route it, carry out what it did, and answer now, or
 * after the turn's commit when the answer promises durability. */
static int http_answer(sb_hub_t *hub, struct lws *wsi, hub_http_t *h)
{
    hub__http_route(hub, wsi, h);
    sb_hub_drain(hub);
    if (hub__http_waiting(hub, wsi))
        return 0;
    return http_reply_headers(wsi, h) ? -1 : 0;
}

static void http_free(hub_http_t *h)
{
    if (!h)
        return;
    free(h->body);
    free(h->resp);
    free(h);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
    struct pss *pss = user;
    sb_hub_t *hub = lws_context_user(lws_get_context(wsi));
    char path[256];

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        const sb_channel_methods_t *ep;
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
            return 1;
        ep = endpoint_for_path(path);
        if (!ep || hub->stopping)
            return 1;
        if ((int)hub->nsessions >= hub->cfg->max_connections) {
            sb_warn("refusing a connection: server.max_connections (%d) reached",
                    hub->cfg->max_connections);
            return 1;
        }
        if (ep->session_kind == SB_SESSION_CUSTOMER && !origin_allowed(hub->cfg, wsi)) {
            sb_warn("refusing a customer connection from an origin not allowed");
            return 1;
        }
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED: {
        const sb_channel_methods_t *ep;
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
            !(ep = endpoint_for_path(path)))
            return -1;
        pss->session = session_new(hub, wsi, ep);
        if (ep->on_open && ep->on_open(pss->session) < 0)
            return -1;
        sb_hub_drain(hub);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE: {
        sb_session_t *s = pss->session;
        size_t limit = (size_t)hub->cfg->max_frame_bytes;
        if (!s || s->closing)
            return 0;
        if (s->rx_len + len > limit) {
            static const char why[] = "frame larger than server.max_frame_bytes";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                             (unsigned char *)why, sizeof(why) - 1);
            return -1;
        }
        if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) && !s->rx_len) {
            session_message(s, in, len, lws_frame_is_binary(wsi));
            return 0;
        }
        if (s->rx_len + len > s->rx_cap) {
            s->rx_cap = s->rx_len + len + 1024;
            s->rx = sb_realloc(s->rx, s->rx_cap);
        }
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            size_t n = s->rx_len;
            s->rx_len = 0;
            session_message(s, s->rx, n, lws_frame_is_binary(wsi));
        }
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss->session)
            return 0;
        return write_frames(pss->session);

    case LWS_CALLBACK_CLOSED:
        if (pss->session) {
            session_free(pss->session);
            pss->session = NULL;
        }
        return 0;

    /* --- plain HTTP ---------------------------------------------------- */
    case LWS_CALLBACK_HTTP: {
        hub_http_t *h = sb_calloc(1, sizeof(*h));
        int qlen;
        http_free(pss->http);
        pss->http = h;
        /* The whole path, not `in`: lws strips the mount point from that. */
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) {
            strcpy(h->method, "POST");
            lws_hdr_copy(wsi, h->path, sizeof(h->path), WSI_TOKEN_POST_URI);
        } else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) {
            strcpy(h->method, "GET");
            lws_hdr_copy(wsi, h->path, sizeof(h->path), WSI_TOKEN_GET_URI);
        } else {
            strcpy(h->method, "OTHER");
            snprintf(h->path, sizeof(h->path), "%s", (const char *)in);
        }
        qlen = lws_hdr_copy(wsi, h->query, sizeof(h->query), WSI_TOKEN_HTTP_URI_ARGS);
        if (qlen < 0)
            h->query[0] = '\0';
        if (strcmp(h->method, "POST") == 0)
            return 0;               /* answered at LWS_CALLBACK_HTTP_BODY_COMPLETION */
        return http_answer(hub, wsi, h);
    }

    case LWS_CALLBACK_HTTP_BODY: {
        hub_http_t *h = pss->http;
        if (!h)
            return -1;
        if (h->body_len + len > (size_t)hub->cfg->max_frame_bytes * 4) {
            h->too_large = true;
            return 0;
        }
        if (h->body_len + len + 1 > h->body_cap) {
            h->body_cap = (h->body_len + len + 1) * 2;
            h->body = sb_realloc(h->body, h->body_cap);
        }
        memcpy(h->body + h->body_len, in, len);
        h->body_len += len;
        h->body[h->body_len] = '\0';
        return 0;
    }

    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        if (!pss->http)
            return -1;
        return http_answer(hub, wsi, pss->http);
    }

    case LWS_CALLBACK_HTTP_WRITEABLE: {
        hub_http_t *h = pss->http;
        size_t chunk;
        unsigned char *buf;
        int final;
        if (h && !h->headers_sent && hub__http_release(hub, wsi))
            return http_reply_headers(wsi, h) ? -1 : 0;
        if (!h || !h->headers_sent)
            return 0;
        chunk = h->resp_len - h->resp_sent;
        if (chunk > 16384)
            chunk = 16384;
        final = h->resp_sent + chunk == h->resp_len;
        buf = sb_malloc(LWS_PRE + chunk + 1);
        if (chunk)
            memcpy(buf + LWS_PRE, h->resp + h->resp_sent, chunk);
        if (lws_write(wsi, buf + LWS_PRE, chunk,
                      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)chunk) {
            free(buf);
            return -1;
        }
        free(buf);
        h->resp_sent += chunk;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }

    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        hub__http_forget(hub, wsi);
        /* lws calls this with no per-session storage for a connection that
         * closed before its first request */
        if (pss) {
            http_free(pss->http);
            pss->http = NULL;
        }
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* lws_cancel_service() from a signal handler: SIGHUP asked for a reload */
        if (hub && hub->reload) {
            hub->reload = 0;
            if (hub->reload_fn)
                hub->reload_fn(hub, hub->reload_arg);
        }
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* A 1 KiB receive buffer: lws allocates it for every connection, so it
     * is most of an idle connection's memory; larger frames arrive in parts
     * and are put together in session_message's caller. tx_packet_size:
     * what one send may carry (lws' default is the receive buffer's size),
     * so a batch of frames (write_frames) goes in one system call. */
    { "switchboard", callback, sizeof(struct pss), 1024, 0, NULL, WRITE_BATCH_BYTES + 64 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_to_sb_log(int level, const char *line)
{
    char buf[512];
    size_t n = strlen(line);

    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, line, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    sb_log(level == LLL_ERR ? SB_LOG_ERROR : SB_LOG_WARN, "lws: %s", buf);
}

static char *join_path(const char *dir, const char *sub)
{
    size_t n = strlen(dir) + strlen(sub) + 2;
    char *p = sb_malloc(n);

    snprintf(p, n, "%s/%s", dir, sub);
    return p;
}

/*
 * HTTP paths: /healthz, /metrics and /v1 go to our callback; /widget, /desk
 * and (with server.demo) / are static files under server.web_root, served by
 * lws with content types by extension, no directory listing, and no path
 * outside the mount.
 */
static const struct lws_http_mount *build_mounts(sb_hub_t *hub)
{
    static const char *const ours[] = { "/healthz", "/metrics", "/v1" };
    struct lws_http_mount *m = hub->mounts;
    size_t n = 0;

    for (size_t i = 0; i < 3; i++, n++) {
        m[n].mountpoint = ours[i];
        m[n].mountpoint_len = (unsigned char)strlen(ours[i]);
        m[n].origin = "switchboard";
        m[n].origin_protocol = LWSMPRO_CALLBACK;
    }
    hub->mount_origins[0] = join_path(hub->cfg->web_root, "widget");
    m[n].mountpoint = "/widget";
    m[n].origin = hub->mount_origins[0];
    m[n].cache_max_age = 300;
    m[n].cache_reusable = 1;
    m[n].cache_revalidate = 1;
    m[n].cache_intermediaries = 1;
    n++;
    hub->mount_origins[1] = join_path(hub->cfg->web_root, "desk");
    m[n].mountpoint = "/desk";
    m[n].origin = hub->mount_origins[1];
    m[n].def = "index.html";
    m[n].cache_max_age = 60;
    m[n].cache_reusable = 1;
    m[n].cache_revalidate = 1;
    n++;
    if (hub->cfg->demo) {
        hub->mount_origins[2] = join_path(hub->cfg->web_root, "demo");
        m[n].mountpoint = "/";
        m[n].origin = hub->mount_origins[2];
        m[n].def = "index.html";
        m[n].cache_max_age = 60;
        m[n].cache_reusable = 1;
        m[n].cache_revalidate = 1;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (!m[i].origin_protocol)
            m[i].origin_protocol = LWSMPRO_FILE;
        m[i].mountpoint_len = (unsigned char)strlen(m[i].mountpoint);
        m[i].mount_next = i + 1 < n ? &m[i + 1] : NULL;
    }
    return &m[0];
}

sb_hub_t *sb_hub_new(const sb_config_t *cfg, sb_core_t *core, sb_store_t *store)
{
    struct lws_context_creation_info info;
    sb_hub_t *hub = sb_calloc(1, sizeof(*hub));

    hub->cfg = cfg;
    hub->core = core;
    hub->store = store;
    hub->core_deadline = SB_NEVER;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_sb_log);
    memset(&info, 0, sizeof(info));
    info.port = cfg->listen_port;
    info.iface = cfg->listen_host;
    info.protocols = protocols;
    info.mounts = build_mounts(hub);
    info.user = hub;
    /* No LWS_SERVER_OPTION_VALIDATE_UTF8: lws would close on bad UTF-8, where
     * the protocol wants an error (jansson rejects it as bad_json) and a
     * socket that stays usable. */
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    if (strchr(cfg->listen_host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    info.fd_limit_per_thread = (unsigned int)cfg->max_connections + 64;
    info.timeout_secs = 30;
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;

    hub->ctx = lws_create_context(&info);
    if (!hub->ctx) {
        sb_error("cannot listen on %s:%d", cfg->listen_host, cfg->listen_port);
        for (size_t i = 0; i < 3; i++)
            free(hub->mount_origins[i]);
        free(hub);
        return NULL;
    }
    hub->vhost = lws_get_vhost_by_name(hub->ctx, "default");
    if (cfg->store_retain_days > 0)
        lws_sul_schedule(hub->ctx, 0, &hub->sul_retention, retention_timer,
                         2 * LWS_US_PER_SEC);
    hub->port = hub->vhost ? lws_get_vhost_listen_port(hub->vhost) : cfg->listen_port;
    return hub;
}

/*
 * Retention (store.retain_days): closed conversations older than that are
 * deleted a small batch at a time, each batch a short transaction of its
 * own between loop turns, so the hot path never waits for a long delete.
 */
#define RETENTION_BATCH 200

static void retention_timer(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_retention);
    sb_ms_t before = sb_hub_now() - (sb_ms_t)hub->cfg->store_retain_days * 86400000;
    lws_usec_t next = 60 * LWS_US_PER_SEC;
    int deleted = 0, rc;

    if (hub->cfg->store_retain_days <= 0 || !hub->ctx)
        return;
    rc = sb_store_purge_closed(hub->store, before, RETENTION_BATCH, &deleted);
    if (rc == SB_ECONFLICT || (rc == 0 && deleted == RETENTION_BATCH))
        next = 100 * 1000;          /* a turn was open, or more to delete */
    if (deleted > 0)
        sb_info("retention: deleted %d conversations closed more than %d days ago",
                deleted, hub->cfg->store_retain_days);
    lws_sul_schedule(hub->ctx, 0, &hub->sul_retention, retention_timer, next);
}

struct recover_state {
    sb_hub_t *hub;
    sb_ms_t now;
    int adopted, skipped;
};

static int recover_one(void *arg, sb_conv_t *conv, const char *agent_id)
{
    struct recover_state *rs = arg;
    int rc = sb_core_conv_restore(rs->hub->core, conv, agent_id, rs->now);

    if (rc < 0) {
        sb_warn("recovery: conversation %s not adopted: %s", conv->id, sb_strerror(rc));
        rs->skipped++;
    } else {
        rs->adopted++;
    }
    return 0;
}

int sb_hub_recover(sb_hub_t *hub)
{
    struct recover_state rs = { hub, sb_hub_now(), 0, 0 };
    int rc = sb_store_load_open(hub->store, recover_one, &rs);

    if (rc < 0) {
        sb_error("recovery: cannot read open conversations: %s", sb_strerror(rc));
        return rc;
    }
    sb_hub_drain(hub);
    sb_info("recovery: %d open conversations restored%s", rs.adopted,
            rs.skipped ? " (some skipped, see above)" : "");
    hub__channels_start(hub);          /* the outbox and the channels' own state */
    return rs.adopted;
}

void sb_hub_on_reload(sb_hub_t *hub, sb_hub_reload_fn fn, void *arg)
{
    hub->reload_fn = fn;
    hub->reload_arg = arg;
}

void sb_hub_request_reload(sb_hub_t *hub)
{
    hub->reload = 1;
    if (hub->ctx)
        lws_cancel_service(hub->ctx);
}

void sb_hub_apply_config(sb_hub_t *hub, const sb_config_t *cfg, const sb_config_t *old)
{
    hub->cfg = cfg;
    hub__monitors_remap(hub, cfg, old);
    sb_hub_drain(hub);
}

void sb_hub_stop(sb_hub_t *hub)
{
    hub->stop = 1;
    if (hub->ctx)
        lws_cancel_service(hub->ctx);
}

int sb_hub_run(sb_hub_t *hub)
{
    sb_ms_t deadline;

    if (strchr(hub->cfg->listen_host, ':'))
        printf("listening on [%s]:%d\n", hub->cfg->listen_host, hub->port);
    else
        printf("listening on %s:%d\n", hub->cfg->listen_host, hub->port);
    fflush(stdout);
    sb_info("listening on %s:%d", hub->cfg->listen_host, hub->port);

    while (!hub->stop)
        if (lws_service(hub->ctx, 0) < 0)
            break;

    /* Shutdown: finish the turn's commit, close every socket with 1001. */
    sb_info("shutting down");
    hub->stopping = true;
    if (hub->flush_scheduled) {
        lws_sul_cancel(&hub->sul_flush);
        flush_turn(&hub->sul_flush);
    }
    for (sb_session_t *s = hub->sessions; s; s = s->next) {
        hub_frame_t *f = frame_new("server shutting down", 20);
        f->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
        session_enqueue(s, f);
    }
    deadline = sb_hub_now() + 2000;
    while (hub->sessions && sb_hub_now() < deadline)
        if (lws_service(hub->ctx, 0) < 0)
            break;
    if (hub->flush_scheduled) {
        lws_sul_cancel(&hub->sul_flush);
        flush_turn(&hub->sul_flush);
    }
    return 0;
}

void sb_hub_free(sb_hub_t *hub)
{
    if (!hub)
        return;
    if (hub->ctx) {
        struct lws_context *ctx = hub->ctx;
        lws_sul_cancel(&hub->sul_stats);
        lws_sul_cancel(&hub->sul_heal);
        lws_sul_cancel(&hub->sul_retention);
        lws_sul_cancel(&hub->sul_core);
        lws_sul_cancel(&hub->sul_flush);
        lws_sul_cancel(&hub->sul_maint);
        hub__channels_stop(hub);    /* its timers and client connections */
        hub->ctx = NULL;        /* closing sessions schedule nothing more */
        lws_context_destroy(ctx);
    }
    hub__channels_free(hub);
    for (size_t i = 0; i < hub->noutbox; i++)
        free(hub->outbox[i].frame);
    free(hub->outbox);
    free(hub->wbuf);
    sb_text_free(&hub->text);
    free(hub->touched);
    free(hub->dirty);
    for (size_t i = 0; i < 3; i++)
        free(hub->mount_origins[i]);
    free(hub);
}
