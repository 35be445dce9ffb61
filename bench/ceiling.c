/*
 * ceiling.c - bench_ceiling: what bench_loadgen's workload costs on
 * libwebsockets itself, with no JSON, no routing and no store. The row it
 * gives in bench/compare is the ceiling for any router on lws: switchboard
 * pays this plus its codec, core and SQLite.
 *
 * It pairs each customer connection with an agent connection (round robin)
 * and forwards frames between them, answering each message with a tiny
 * acknowledgement carrying a per-conversation counter, so the generator's
 * closed loop and seq checks work the same. The framing is bench_loadgen
 * --raw's, one text frame each:
 *
 *   agent    "a"                 -> "w"             (signed in)
 *   agent    "s"                 -> "o"             (available)
 *   customer "h"                 -> "w<id>", "j"    and to an agent "A<id>"
 *                                   (no agent signed in: "w<id>" only, and it waits)
 *   customer "m<ref>|<text>"     -> "k<ref>|<seq>"  and to its agent "M<id>|<seq>|<text>"
 *   agent    "m<ref>|<id>|<text>"-> "k<ref>|<seq>"  and to the customer "M<id>|<seq>|<text>"
 *   anything else                -> "e<code>"
 *
 * One lws context, one service thread; every outgoing frame is queued on its
 * connection and written when lws says the socket is writable, as many per
 * WRITEABLE callback as the socket takes without choking.
 *
 * usage: bench_ceiling [--listen 127.0.0.1:0] [--rx-buffer BYTES] [--evlib poll|ev|uv]
 *   prints "listening on HOST:PORT"; --rx-buffer is the protocol's
 *   rx_buffer_size (default 4096, the hub's), which lws allocates per connection;
 *   --evlib: lws' own poll() loop (default, as the hub) or libev / libuv (epoll).
 */
#include <libwebsockets.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAME 65536

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char buf[];      /* LWS_PRE, then len bytes */
} frame_t;

typedef struct session {
    struct lws *wsi;
    enum { S_NEW, S_AGENT, S_CUSTOMER } kind;
    long conv;                /* customer: its conversation, -1 before hello */
    frame_t *head, *tail;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    bool available;
} session_t;

typedef struct {
    session_t *customer, *agent;
    uint64_t seq;
} conv_t;

struct pss {
    session_t *s;
};

static conv_t *convs;
static long nconvs, convs_cap;
static session_t **agents;
static size_t nagents, agents_cap, rr;
static struct lws_context *ctx;

static void *xrealloc(void *p, size_t n)
{
    if (!(p = realloc(p, n))) {
        fprintf(stderr, "ceiling: out of memory\n");
        exit(2);
    }
    return p;
}

/* Queues the concatenation of a and b as one frame to s. */
static void queue2(session_t *s, const char *a, size_t alen, const char *b, size_t blen)
{
    frame_t *f;

    if (!s || !s->wsi)
        return;
    f = xrealloc(NULL, sizeof(*f) + LWS_PRE + alen + blen);
    f->next = NULL;
    f->len = alen + blen;
    memcpy(f->buf + LWS_PRE, a, alen);
    if (blen)
        memcpy(f->buf + LWS_PRE + alen, b, blen);
    if (s->tail)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    lws_callback_on_writable(s->wsi);
}

static void queue_str(session_t *s, const char *str)
{
    queue2(s, str, strlen(str), NULL, 0);
}

static void drop_queue(session_t *s)
{
    while (s->head) {
        frame_t *f = s->head;
        s->head = f->next;
        free(f);
    }
    s->tail = NULL;
}

/* Parses a decimal number at *p (advanced); -1 when there is none. */
static long number(const unsigned char **p, const unsigned char *end)
{
    long v = 0;
    const unsigned char *q = *p;

    if (q >= end || *q < '0' || *q > '9')
        return -1;
    while (q < end && *q >= '0' && *q <= '9')
        v = v * 10 + (*q++ - '0');
    *p = q;
    return v;
}

static session_t *pick_agent(void)
{
    for (size_t i = 0; i < nagents; i++) {
        session_t *a = agents[(rr + i) % nagents];
        if (a->available) {
            rr = (rr + i + 1) % nagents;
            return a;
        }
    }
    return NULL;
}

/* One message from s: its conversation's next seq, the ack to s and the
 * forward to the other side. */
static void relay(session_t *s, conv_t *c, long conv, const unsigned char *ref, size_t reflen,
                  const unsigned char *text, size_t textlen)
{
    char head[96];
    int n;

    c->seq++;
    n = snprintf(head, sizeof(head), "k%.*s|%llu", (int)reflen, (const char *)ref,
                 (unsigned long long)c->seq);
    queue2(s, head, (size_t)n, NULL, 0);
    n = snprintf(head, sizeof(head), "M%ld|%llu|", conv, (unsigned long long)c->seq);
    queue2(s == c->customer ? c->agent : c->customer, head, (size_t)n, (const char *)text,
           textlen);
}

static void on_frame(session_t *s, const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len, *ref, *q;
    char buf[64];
    long conv;

    if (!len) {
        queue_str(s, "ebad_request");
        return;
    }
    switch (p[0]) {
    case 'a':                   /* agent signs in */
        if (s->kind != S_NEW)
            break;
        s->kind = S_AGENT;
        if (nagents == agents_cap) {
            agents_cap = agents_cap ? agents_cap * 2 : 64;
            agents = xrealloc(agents, agents_cap * sizeof(*agents));
        }
        agents[nagents++] = s;
        queue_str(s, "w");
        return;
    case 's':
        if (s->kind != S_AGENT)
            break;
        s->available = true;
        queue_str(s, "o");
        return;
    case 'h': {                 /* customer hello: a conversation, an agent */
        session_t *a;
        if (s->kind != S_NEW)
            break;
        a = pick_agent();       /* none: the customer waits, idle */
        s->kind = S_CUSTOMER;
        if (nconvs == convs_cap) {
            convs_cap = convs_cap ? convs_cap * 2 : 1024;
            convs = xrealloc(convs, (size_t)convs_cap * sizeof(*convs));
        }
        conv = nconvs++;
        convs[conv] = (conv_t){ s, a, 0 };
        s->conv = conv;
        snprintf(buf, sizeof(buf), "w%ld", conv);
        queue_str(s, buf);
        if (a) {
            queue_str(s, "j");
            snprintf(buf, sizeof(buf), "A%ld", conv);
            queue_str(a, buf);
        }
        return;
    }
    case 'm':
        ref = p + 1;
        if (!(q = memchr(ref, '|', (size_t)(end - ref))))
            break;
        if (s->kind == S_CUSTOMER && s->conv >= 0 && !convs[s->conv].agent) {
            queue_str(s, "eunavailable");
            return;
        }
        if (s->kind == S_CUSTOMER && s->conv >= 0) {
            relay(s, &convs[s->conv], s->conv, ref, (size_t)(q - ref), q + 1,
                  (size_t)(end - q - 1));
            return;
        }
        if (s->kind == S_AGENT) {
            const unsigned char *idp = q + 1;
            conv = number(&idp, end);
            if (conv < 0 || conv >= nconvs || idp >= end || *idp != '|') {
                queue_str(s, "enot_found");
                return;
            }
            if (convs[conv].agent != s) {
                queue_str(s, "eforbidden");
                return;
            }
            relay(s, &convs[conv], conv, ref, (size_t)(q - ref), idp + 1,
                  (size_t)(end - idp - 1));
            return;
        }
        break;
    }
    queue_str(s, "ebad_request");
}

static void on_close(session_t *s)
{
    if (s->kind == S_CUSTOMER && s->conv >= 0 && convs[s->conv].customer == s)
        convs[s->conv].customer = NULL;
    if (s->kind == S_AGENT) {
        for (long i = 0; i < nconvs; i++)
            if (convs[i].agent == s)
                convs[i].agent = NULL;
        for (size_t i = 0; i < nagents; i++)
            if (agents[i] == s) {
                agents[i] = agents[--nagents];
                break;
            }
    }
    drop_queue(s);
    free(s->rx);
    free(s);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pss *pss = user;
    session_t *s = pss ? pss->s : NULL;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        s = pss->s = xrealloc(NULL, sizeof(*s));
        memset(s, 0, sizeof(*s));
        s->wsi = wsi;
        s->conv = -1;
        break;

    case LWS_CALLBACK_RECEIVE:
        if (!s)
            break;
        if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) && !s->rx_len) {
            on_frame(s, in, len);
            break;
        }
        if (s->rx_len + len > MAX_FRAME)
            return -1;
        if (s->rx_len + len > s->rx_cap) {
            s->rx_cap = s->rx_len + len + 1024;
            s->rx = xrealloc(s->rx, s->rx_cap);
        }
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            size_t n = s->rx_len;
            s->rx_len = 0;
            on_frame(s, s->rx, n);
        }
        break;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!s)
            break;
        while (s->head && !lws_send_pipe_choked(wsi)) {
            frame_t *f = s->head;
            if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
                return -1;
            s->head = f->next;
            if (!s->head)
                s->tail = NULL;
            free(f);
        }
        if (s->head)
            lws_callback_on_writable(wsi);
        break;

    case LWS_CALLBACK_CLOSED:
        if (s) {
            on_close(s);
            pss->s = NULL;
        }
        break;

    default:
        break;
    }
    return 0;
}

/* rx_buffer_size is set in main (--rx-buffer): 4096 by default, like the hub,
 * since lws allocates that much per connection at the upgrade. */
static struct lws_protocols protocols[] = {
    { "ceiling", callback, sizeof(struct pss), 4096, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Nothing to save: end at once (with an event library lws_service() may not
 * return to look at a flag). */
static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    const char *listen = "127.0.0.1:0", *evlib = "poll";
    static char host[64];
    char *colon;
    int port;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--evlib") == 0 && i + 1 < argc) {
            evlib = argv[++i];
        } else if (strcmp(argv[i], "--rx-buffer") == 0 && i + 1 < argc) {
            protocols[0].rx_buffer_size = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_ceiling [--listen 127.0.0.1:PORT] [--rx-buffer BYTES] "
                            "[--evlib poll|ev|uv]\n");
            return 2;
        }
    }
    snprintf(host, sizeof(host), "%s", listen);
    if (!(colon = strrchr(host, ':'))) {
        fprintf(stderr, "ceiling: --listen wants HOST:PORT\n");
        return 2;
    }
    *colon = 0;
    port = atoi(colon + 1);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (strcmp(evlib, "ev") == 0)
        info.options |= LWS_SERVER_OPTION_LIBEV;
    else if (strcmp(evlib, "uv") == 0)
        info.options |= LWS_SERVER_OPTION_LIBUV;
    else if (strcmp(evlib, "poll") != 0) {
        fprintf(stderr, "ceiling: --evlib is poll, ev or uv\n");
        return 2;
    }
    info.timeout_secs = 30;
    if (!(ctx = lws_create_context(&info))) {
        fprintf(stderr, "ceiling: cannot listen on %s\n", listen);
        return 1;
    }
    printf("listening on %s:%d\n", host,
           lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default")));
    fflush(stdout);
    for (;;)
        if (lws_service(ctx, 0) < 0)
            break;
    lws_context_destroy(ctx);
    free(convs);
    free(agents);
    return 0;
}
