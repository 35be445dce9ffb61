/*
 * http.c - the plain HTTP endpoints: /healthz, /metrics (Prometheus text),
 * the admin API GET /v1/conversations/{id}, the channels' webhooks, and a
 * clear 404 for the rest.
 *
 * A webhook's answer says the platform's message is ours: it waits for the
 * commit of what the request wrote (hub__http_waiting / hub__http_release),
 * and becomes 503 when that commit fails, so the platform sends it again.
 */
#include "chan_private.h"
#include "switchboard/codec.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void reply(hub_http_t *h, int status, const char *type, const char *body, size_t len)
{
    h->status = status;
    snprintf(h->content_type, sizeof(h->content_type), "%s", type);
    free(h->resp);
    h->resp = sb_strndup(body, len);
    h->resp_len = len;
}

/* Takes ownership of obj. */
static void reply_json(hub_http_t *h, int status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);

    reply(h, status, "application/json", text, strlen(text));
    free(text);
    json_decref(obj);
}

static void reply_error(hub_http_t *h, int status, const char *code, const char *message)
{
    reply_json(h, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

/* --- /metrics ------------------------------------------------------------ */

typedef struct textbuf {
    char *p;
    size_t len, cap;
} textbuf_t;

static void tb_printf(textbuf_t *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(textbuf_t *tb, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(tb->p ? tb->p + tb->len : NULL, tb->cap - tb->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && tb->len + (size_t)n < tb->cap) {
            tb->len += (size_t)n;
            return;
        }
        tb->cap = (tb->cap + (size_t)n + 1) * 2;
        tb->p = sb_realloc(tb->p, tb->cap);
    }
}

static void metrics(sb_hub_t *hub, hub_http_t *h)
{
    const sb_config_t *cfg = hub->cfg;
    textbuf_t tb = { NULL, 0, 0 };
    size_t kinds[3] = { 0, 0, 0 };
    sb_ms_t now = sb_hub_now();

    for (sb_session_t *s = hub->sessions; s; s = s->next)
        kinds[s->kind]++;
    tb_printf(&tb, "# HELP switchboard_connections Open WebSocket connections.\n"
                   "# TYPE switchboard_connections gauge\n"
                   "switchboard_connections{endpoint=\"customer\"} %zu\n"
                   "switchboard_connections{endpoint=\"agent\"} %zu\n"
                   "switchboard_connections{endpoint=\"connector\"} %zu\n",
              kinds[SB_SESSION_CUSTOMER], kinds[SB_SESSION_AGENT], kinds[SB_SESSION_CONNECTOR]);
    tb_printf(&tb, "# HELP switchboard_connections_total WebSocket connections accepted.\n"
                   "# TYPE switchboard_connections_total counter\n"
                   "switchboard_connections_total %llu\n",
              (unsigned long long)hub->m_connections_total);
    tb_printf(&tb, "# HELP switchboard_conversations_open Open conversations.\n"
                   "# TYPE switchboard_conversations_open gauge\n"
                   "switchboard_conversations_open %zu\n", sb_core_conv_count(hub->core));
    tb_printf(&tb, "# HELP switchboard_messages_total Messages accepted (all senders).\n"
                   "# TYPE switchboard_messages_total counter\n"
                   "switchboard_messages_total %llu\n", (unsigned long long)hub->m_messages);
    tb_printf(&tb, "# HELP switchboard_frames_out_total Frames sent to clients.\n"
                   "# TYPE switchboard_frames_out_total counter\n"
                   "switchboard_frames_out_total %llu\n", (unsigned long long)hub->m_frames_out);
    tb_printf(&tb, "# HELP switchboard_bad_frames_total Frames refused as bad input.\n"
                   "# TYPE switchboard_bad_frames_total counter\n"
                   "switchboard_bad_frames_total %llu\n", (unsigned long long)hub->m_bad_frames);
    tb_printf(&tb, "# HELP switchboard_store_commits_total Group commits (one per busy loop turn).\n"
                   "# TYPE switchboard_store_commits_total counter\n"
                   "switchboard_store_commits_total %llu\n"
                   "# HELP switchboard_store_commit_failures_total Turns whose writes failed.\n"
                   "# TYPE switchboard_store_commit_failures_total counter\n"
                   "switchboard_store_commit_failures_total %llu\n"
                   "# HELP switchboard_store_commit_seconds_total Time spent in commits.\n"
                   "# TYPE switchboard_store_commit_seconds_total counter\n"
                   "switchboard_store_commit_seconds_total %.6f\n",
              (unsigned long long)hub->m_commits, (unsigned long long)hub->m_commit_failures,
              hub->m_commit_seconds);
    tb_printf(&tb, "# HELP switchboard_store_up 1 while the store accepts writes.\n"
                   "# TYPE switchboard_store_up gauge\n"
                   "switchboard_store_up %d\n", hub->store_down ? 0 : 1);

    tb_printf(&tb, "# HELP switchboard_queue_length Conversations waiting per pool.\n"
                   "# TYPE switchboard_queue_length gauge\n");
    for (size_t p = 0; p < cfg->npools; p++)
        tb_printf(&tb, "switchboard_queue_length{pool=\"%s\"} %zu\n", cfg->pools[p].id,
                  sb_core_queue_length(hub->core, (int)p));
    tb_printf(&tb, "# HELP switchboard_longest_wait_seconds Longest current wait per pool.\n"
                   "# TYPE switchboard_longest_wait_seconds gauge\n");
    for (size_t p = 0; p < cfg->npools; p++) {
        sb_pool_stats_t st;
        if (sb_core_pool_stats(hub->core, (int)p, now, &st) == 0)
            tb_printf(&tb, "switchboard_longest_wait_seconds{pool=\"%s\"} %.3f\n",
                      cfg->pools[p].id, (double)st.longest_wait_ms / 1000.0);
    }
    tb_printf(&tb, "# HELP switchboard_agents Pool members by state.\n"
                   "# TYPE switchboard_agents gauge\n");
    for (size_t p = 0; p < cfg->npools; p++) {
        sb_pool_stats_t st;
        if (sb_core_pool_stats(hub->core, (int)p, now, &st) < 0)
            continue;
        tb_printf(&tb, "switchboard_agents{pool=\"%s\",state=\"available\"} %d\n"
                       "switchboard_agents{pool=\"%s\",state=\"busy\"} %d\n"
                       "switchboard_agents{pool=\"%s\",state=\"away\"} %d\n"
                       "switchboard_agents{pool=\"%s\",state=\"offline\"} %d\n",
                  cfg->pools[p].id, st.agents_available, cfg->pools[p].id, st.agents_busy,
                  cfg->pools[p].id, st.agents_away, cfg->pools[p].id, st.agents_offline);
    }
    tb_printf(&tb, "# HELP switchboard_served_total Conversations closed after an assignment, per pool.\n"
                   "# TYPE switchboard_served_total counter\n");
    for (size_t p = 0; p < cfg->npools; p++) {
        sb_pool_stats_t st;
        if (sb_core_pool_stats(hub->core, (int)p, now, &st) == 0)
            tb_printf(&tb, "switchboard_served_total{pool=\"%s\"} %llu\n", cfg->pools[p].id,
                      (unsigned long long)st.served);
    }
    reply(h, 200, "text/plain; version=0.0.4; charset=utf-8", tb.p, tb.len);
    free(tb.p);
}

/* --- admin API ----------------------------------------------------------- */

static bool admin_authorized(sb_hub_t *hub, struct lws *wsi)
{
    char auth[300];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    int n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);

    if (!hub->cfg->has_admin_token || n <= 7 || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    SHA256((const unsigned char *)auth + 7, (size_t)n - 7, hash);
    return CRYPTO_memcmp(hash, hub->cfg->admin_token_sha256, sizeof(hash)) == 0;
}

struct loaded {
    const sb_config_t *cfg;
    json_t *ctx;
};

static int loaded_conv(void *arg, sb_conv_t *conv, const char *agent_id)
{
    struct loaded *l = arg;

    l->ctx = sb_codec_context(l->cfg, conv, SIZE_MAX);
    if (agent_id)
        json_object_set_new(l->ctx, "agent", json_string(agent_id));
    return 0;
}

/* GET /v1/conversations/{id}: the whole context, open (from memory) or
 * closed (from the store). */
static void admin_conversation(sb_hub_t *hub, struct lws *wsi, hub_http_t *h, const char *id)
{
    sb_conv_t *conv;
    struct loaded l = { hub->cfg, NULL };
    int rc;

    if (!admin_authorized(hub, wsi)) {
        reply_error(h, 401, "unauthorized", hub->cfg->has_admin_token
                        ? "send Authorization: Bearer <admin token>"
                        : "the admin API is off: set server.admin_token_sha256");
        return;
    }
    if (strcmp(h->method, "GET") != 0) {
        reply_error(h, 405, "bad_request", "use GET");
        return;
    }
    if (!*id || strlen(id) >= sizeof(conv->id) || strchr(id, '/')) {
        reply_error(h, 404, "not_found", "no such conversation");
        return;
    }
    conv = sb_core_conv_find(hub->core, id);
    if (conv) {
        reply_json(h, 200, sb_codec_context(hub->cfg, conv, SIZE_MAX));
        return;
    }
    rc = sb_store_load_conv(hub->store, id, loaded_conv, &l);
    if (rc == SB_ENOTFOUND || (rc == 0 && !l.ctx)) {
        reply_error(h, 404, "not_found", "no such conversation");
        return;
    }
    if (rc < 0) {
        json_decref(l.ctx);
        reply_error(h, 503, "unavailable", "the store cannot be read right now");
        return;
    }
    reply_json(h, 200, l.ctx);
}

/* --- webhooks -------------------------------------------------------------- */

struct sb_http_exchange {
    sb_hub_t *hub;
    struct lws *wsi;
    hub_http_t *h;
    char *query;                /* made on first use */
};

struct hub_held {
    struct lws *wsi;
    hub_http_t *h;
    bool ready;                 /* its commit is done: write it when writeable */
};

sb_hub_t *sb_http_hub(const sb_http_exchange_t *x) { return x->hub; }
const char *sb_http_method(const sb_http_exchange_t *x) { return x->h->method; }
const char *sb_http_path(const sb_http_exchange_t *x) { return x->h->path; }
/*
 * lws keeps the query as url-decoded arguments, one fragment each: the
 * query is put back together from them, every byte but the unreserved ones
 * percent-encoded, so that decoding it gives exactly the arguments.
 */
const char *sb_http_query(const sb_http_exchange_t *cx)
{
    static const char hex[] = "0123456789ABCDEF";
    sb_http_exchange_t *x = (sb_http_exchange_t *)cx;
    size_t n = 0, cap = 64;
    char frag[1024];

    if (x->query)
        return x->query;
    x->query = sb_malloc(cap);
    for (int i = 0; lws_hdr_copy_fragment(x->wsi, frag, sizeof(frag),
                                          WSI_TOKEN_HTTP_URI_ARGS, i) >= 0; i++) {
        bool value = false;
        if (n + strlen(frag) * 3 + 2 > cap) {
            cap = (n + strlen(frag) * 3 + 2) * 2;
            x->query = sb_realloc(x->query, cap);
        }
        if (i > 0)
            x->query[n++] = '&';
        for (const unsigned char *p = (const unsigned char *)frag; *p; p++) {
            unsigned char c = *p;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || (c == '=' && !value)) {
                value = value || c == '=';
                x->query[n++] = (char)c;
            } else {
                x->query[n++] = '%';
                x->query[n++] = hex[c >> 4];
                x->query[n++] = hex[c & 15];
            }
        }
    }
    x->query[n] = '\0';
    return x->query;
}

const char *sb_http_body(const sb_http_exchange_t *x, size_t *len)
{
    *len = x->h->body_len;
    return x->h->body ? x->h->body : "";
}

int sb_http_header(const sb_http_exchange_t *x, const char *name, char *buf, size_t len)
{
    char key[64];
    int n;

    if (!len)
        return -1;
    buf[0] = '\0';
    if (strcmp(name, "content-type") == 0) {
        n = lws_hdr_total_length(x->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
        if (n <= 0)
            return -1;
        lws_hdr_copy(x->wsi, buf, (int)len, WSI_TOKEN_HTTP_CONTENT_TYPE);
        return n;
    }
    snprintf(key, sizeof(key), "%s:", name);
    n = lws_hdr_custom_length(x->wsi, key, (int)strlen(key));
    if (n < 0)
        return -1;
    if ((size_t)n >= len) {
        /* lws copies nothing when it does not fit: take it whole, then cut. */
        char *tmp = sb_malloc((size_t)n + 1);
        if (lws_hdr_custom_copy(x->wsi, tmp, n + 1, key, (int)strlen(key)) < 0)
            tmp[0] = '\0';
        snprintf(buf, len, "%s", tmp);
        free(tmp);
        return n;
    }
    if (lws_hdr_custom_copy(x->wsi, buf, (int)len, key, (int)strlen(key)) < 0)
        buf[0] = '\0';
    return n;
}

void sb_http_content_type(const sb_http_exchange_t *x, char *buf, size_t len)
{
    char raw[128];
    size_t n = 0;

    if (!len)
        return;
    if (sb_http_header(x, "content-type", raw, sizeof(raw)) < 0)
        raw[0] = '\0';
    for (const char *p = raw; *p && *p != ';' && n + 1 < len; p++) {
        if (*p == ' ' || *p == '\t')
            continue;
        buf[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    buf[n] = '\0';
}

void sb_http_reply(sb_http_exchange_t *x, int status, const char *content_type,
                   const char *body, size_t len)
{
    reply(x->h, status, content_type, body ? body : "", body ? len : 0);
}

void sb_http_reply_error(sb_http_exchange_t *x, int status, const char *code,
                         const char *message)
{
    reply_error(x->h, status, code, message);
}

static void webhook(sb_hub_t *hub, struct lws *wsi, hub_http_t *h,
                    const sb_channel_methods_t *ch)
{
    sb_http_exchange_t x = { hub, wsi, h, NULL };
    struct hub_chan *c = hub__chan(hub);

    reply_error(h, 500, "unavailable", "the channel gave no answer");
    ch->on_http(&x);
    free(x.query);
    sb_hub_drain(hub);
    if (!hub->store->in_txn && !hub->turn_failed)
        return;                 /* nothing written: answered at once */
    if (c->nheld == c->held_cap) {
        c->held_cap = c->held_cap ? c->held_cap * 2 : 16;
        c->held = sb_realloc(c->held, c->held_cap * sizeof(*c->held));
    }
    c->held[c->nheld++] = (hub_held_t){ wsi, h, false };
    hub__touch(hub);
}

static hub_held_t *held_find(sb_hub_t *hub, struct lws *wsi)
{
    struct hub_chan *c = hub->chan;

    for (size_t i = 0; c && i < c->nheld; i++)
        if (c->held[i].wsi == wsi)
            return &c->held[i];
    return NULL;
}

static void held_remove(sb_hub_t *hub, hub_held_t *held)
{
    struct hub_chan *c = hub->chan;

    *held = c->held[--c->nheld];
}

bool hub__http_waiting(sb_hub_t *hub, struct lws *wsi)
{
    return held_find(hub, wsi) != NULL;
}

bool hub__http_release(sb_hub_t *hub, struct lws *wsi)
{
    hub_held_t *held = held_find(hub, wsi);

    if (!held || !held->ready)
        return false;
    held_remove(hub, held);
    return true;
}

void hub__http_forget(sb_hub_t *hub, struct lws *wsi)
{
    hub_held_t *held = held_find(hub, wsi);

    if (held)
        held_remove(hub, held);
}

void hub__http_commit_done(sb_hub_t *hub, bool failed)
{
    struct hub_chan *c = hub->chan;

    for (size_t i = 0; c && i < c->nheld; i++) {
        hub_held_t *held = &c->held[i];
        if (held->ready)
            continue;
        held->ready = true;
        if (failed)
            reply_error(held->h, 503, "unavailable",
                        "the store cannot write right now; send it again later");
        lws_callback_on_writable(held->wsi);
    }
}

void hub__http_held_free(sb_hub_t *hub)
{
    if (hub->chan) {
        free(hub->chan->held);
        hub->chan->held = NULL;
        hub->chan->nheld = hub->chan->held_cap = 0;
    }
}

void hub__http_route(sb_hub_t *hub, struct lws *wsi, hub_http_t *h)
{
    static const char conv_prefix[] = "/v1/conversations/";
    const sb_channel_methods_t *ch;

    if (h->too_large) {
        if (sb_channel_for_http(h->path))
            sb_warn("webhook %s refused (413): body larger than %d bytes", h->path,
                    hub->cfg->max_frame_bytes * 4);
        reply_error(h, 413, "too_large", "request body too large");
        return;
    }
    if (strcmp(h->path, "/healthz") == 0) {
        if (strcmp(h->method, "GET") != 0) {
            reply_error(h, 405, "bad_request", "use GET");
            return;
        }
        reply_json(h, 200, json_pack("{s:s,s:i,s:i,s:b}", "status", "ok",
                                     "connections", (int)hub->nsessions,
                                     "conversations", (int)sb_core_conv_count(hub->core),
                                     "store_up", !hub->store_down));
        return;
    }
    if (strcmp(h->path, "/metrics") == 0) {
        metrics(hub, h);
        return;
    }
    if (strncmp(h->path, conv_prefix, sizeof(conv_prefix) - 1) == 0) {
        admin_conversation(hub, wsi, h, h->path + sizeof(conv_prefix) - 1);
        return;
    }
    if ((ch = sb_channel_for_http(h->path)) && ch->on_http) {
        webhook(hub, wsi, h, ch);
        return;
    }
    reply_error(h, 404, "not_found", "no such endpoint");
}
