/*
 * loadgen.c - bench_loadgen: customers and agents speaking the wire contract
 * (spec/protocol.md) to a router on 127.0.0.1, on the libwebsockets client
 * API: one context, one service thread, many connections.
 *
 * Agents `auth` then `status available`; customers `hello` and wait for
 * `agent_joined`; then both sides of every conversation send `message`
 * frames, either open loop (a fixed total rate, alternating customer and
 * agent, spread over the conversations) or closed loop (each side of each
 * conversation keeps --window messages outstanding and sends the next when
 * the previous one's `ok` arrives). Every message's text starts with
 * "t=<send time, ns, CLOCK_MONOTONIC>;c=<conversation index>;" and is padded
 * to --size bytes, so the receiving side computes the latency from the
 * moment the frame was written. Open loop also stamps "s=<scheduled time>;":
 * latency from the schedule (sched_p99_us) counts any wait in the
 * generator's queue too, so a stalled server cannot hide behind a generator
 * that stopped sending (no coordinated omission).
 *
 * It reports delivered messages per second, latency percentiles per
 * direction (log-linear histogram, < 1.6% error), seq gaps per conversation
 * as seen by each side (the `ok` seqs of its own messages plus the seqs of
 * the messages it received must be 1..max with no hole), duplicates, lost
 * messages, error frames by code, the router's CPU seconds and RSS (from
 * /proc/PID, --server-pid) and the generator's own CPU (getrusage), then one
 * machine-readable "RESULT ..." line.
 *
 * --raw speaks the tiny framing of bench_ceiling instead of JSON.
 * --idle opens N customer connections that say hello and stay idle, and
 * reports the router's RSS per connection; --src-addrs spreads the
 * connections over several 127.0.0.x source addresses to get past the
 * ephemeral port range of one address.
 *
 * Every run is bounded: setup, warm-up, measurement and drain each have a
 * deadline, and the process exits by itself.
 */
#define _GNU_SOURCE
#include <libwebsockets.h>
#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define MAX_TEXT 60000
#define MAX_QUEUE (1u << 16)     /* per connection; beyond it the generator drops */
#define MAX_ERROR_CODES 16

/* ---------------------------------------------------------------- options */

static struct {
    const char *host;
    int port;
    const char *customer_path, *agent_path;
    const char *impl;
    int customers, agents;
    char **tokens;
    int ntokens;
    double rate;          /* total messages per second; 0 = closed loop */
    int window;           /* closed loop: outstanding per side per conversation */
    int size;             /* text bytes */
    double duration, warmup, setup_timeout, drain_timeout;
    int server_pid;
    bool raw, idle, verbose;
    const char *evlib;    /* "poll" (lws default), "ev" or "uv" */
    double hold, settle;
    char **src;           /* source addresses */
    int nsrc;
    int connect_burst;    /* connections in progress at once */
    int tick_us;          /* open loop: how often the schedule is looked at */
} opt = {
    .host = "127.0.0.1", .port = 0, .customer_path = NULL, .agent_path = NULL,
    .impl = "switchboard", .customers = 100, .agents = 10, .rate = 0, .window = 1,
    .size = 100, .duration = 10, .warmup = 3, .setup_timeout = 120, .drain_timeout = 5,
    .server_pid = 0, .hold = 0, .settle = 2, .connect_burst = 256, .tick_us = 1000,
};

/* ------------------------------------------------------------------ clock */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double rusage_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Router CPU seconds (utime + stime of every thread) from /proc/PID/stat;
 * -1 when unknown. */
static double proc_cpu_s(int pid)
{
    char path[64], buf[2048];
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;
    char *p;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces: fields resume after the last ')'. */
    if (!(p = strrchr(buf, ')')))
        return -1;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine (every CPU, all but idle and
 * iowait) from /proc/stat; -1 when unknown. Minus the router's and the
 * generator's own, it tells whether something else ran during the run. */
static double machine_busy_s(void)
{
    unsigned long long v[10] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (!f)
        return -1;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* Router VmRSS in KiB from /proc/PID/status; -1 when unknown. */
static long proc_rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* -------------------------------------------------------------- histogram */

/* Log-linear buckets like HdrHistogram with 64 sub-buckets per power of two:
 * a recorded value is off by at most 1/64 of itself. Values are ns. */
#define H_SUB_BITS 6
#define H_SUB (1u << H_SUB_BITS)
#define H_BUCKETS ((64 - H_SUB_BITS + 1) * H_SUB)

typedef struct {
    uint64_t count[H_BUCKETS];
    uint64_t n, max;
} hist_t;

static unsigned h_index(uint64_t v)
{
    if (v < H_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - H_SUB_BITS;
    return (shift + 1) * H_SUB + (unsigned)((v >> shift) & (H_SUB - 1));
}

/* Highest value that lands in bucket i. */
static uint64_t h_value(unsigned i)
{
    if (i < H_SUB)
        return i;
    unsigned shift = i / H_SUB - 1;
    uint64_t low = (uint64_t)(H_SUB + i % H_SUB) << shift;
    return low + (1ull << shift) - 1;
}

static void h_record(hist_t *h, int64_t v)
{
    if (v < 0)
        v = 0;
    h->count[h_index((uint64_t)v)]++;
    h->n++;
    if ((uint64_t)v > h->max)
        h->max = (uint64_t)v;
}

static void h_merge(hist_t *to, const hist_t *from)
{
    for (unsigned i = 0; i < H_BUCKETS; i++)
        to->count[i] += from->count[i];
    to->n += from->n;
    if (from->max > to->max)
        to->max = from->max;
}

/* The value at quantile q (0..1) in microseconds; 0 when empty. */
static double h_quantile_us(const hist_t *h, double q)
{
    uint64_t target, seen = 0;

    if (!h->n)
        return 0;
    target = (uint64_t)(q * (double)h->n + 0.999999);
    if (target < 1)
        target = 1;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= target) {
            uint64_t v = h_value(i);
            return (double)(v < h->max ? v : h->max) / 1000.0;
        }
    }
    return (double)h->max / 1000.0;
}

/* ----------------------------------------------------------------- seqset */

/* The seqs one side of a conversation has seen, as a growing bitmap. */
typedef struct {
    uint64_t *bits;
    uint64_t nwords, max, dups;
} seqset_t;

static void seq_add(seqset_t *s, uint64_t seq)
{
    uint64_t w = seq / 64;

    if (!seq)
        return;
    if (w >= s->nwords) {
        uint64_t n = s->nwords ? s->nwords : 4;
        while (n <= w)
            n *= 2;
        s->bits = realloc(s->bits, n * sizeof(uint64_t));
        if (!s->bits) {
            fprintf(stderr, "loadgen: out of memory\n");
            exit(2);
        }
        memset(s->bits + s->nwords, 0, (n - s->nwords) * sizeof(uint64_t));
        s->nwords = n;
    }
    if (s->bits[w] & (1ull << (seq % 64)))
        s->dups++;
    s->bits[w] |= 1ull << (seq % 64);
    if (seq > s->max)
        s->max = seq;
}

/* How many of 1..max were never seen. */
static uint64_t seq_missing(const seqset_t *s)
{
    uint64_t seen = 0;

    for (uint64_t w = 0; w < s->nwords; w++)
        seen += (uint64_t)__builtin_popcountll(s->bits[w]);
    return s->max - seen;
}

/* ------------------------------------------------------------ connections */

enum { K_AGENT, K_CUSTOMER };
enum { C_IDLE, C_CONNECTING, C_OPEN, C_READY, C_CLOSED };
enum { DIR_C2A, DIR_A2C };

typedef struct {
    int32_t conv;
    int64_t t;           /* scheduled send time (open loop), 0 = now */
} out_t;

typedef struct conn {
    struct lws *wsi;
    int kind, idx, state;
    char ctl[256];       /* one pending control frame (auth, status, hello) */
    size_t ctl_len;
    out_t *q;            /* pending messages, a ring */
    uint32_t qhead, qlen, qcap;
    char *rx;            /* fragment reassembly */
    size_t rx_len, rx_cap;
    int conv;            /* customer: its conversation, -1 before welcome */
} conn_t;

typedef struct conv {
    char id[80];
    int cust, agent;     /* conn indices, -1 until known */
    bool joined, ready;
    int out[2];          /* closed loop: outstanding per direction */
    seqset_t seen[2];    /* [K_AGENT] the agent's view, [K_CUSTOMER] the customer's */
} conv_t;

static struct lws_context *ctx;
static conn_t *conns;           /* agents first, then customers */
static int nconns;
static conv_t *convs;
static int nconvs;
static int *conv_hash;          /* open addressing: conversation id -> index */
static uint32_t conv_hash_cap;

enum { PH_AGENTS, PH_CUSTOMERS, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
static int phase = PH_AGENTS;
static bool interrupted;
static int64_t t_setup, t_traffic, t0, t1, t_drain;
static int64_t sched_start;
static uint64_t sched_k;        /* open loop: messages scheduled so far */

static int next_connect, connecting, agents_ready, customers_welcomed, convs_ready;

static struct {
    uint64_t sent, recv;                   /* every message, any time */
    uint64_t win_recv[2];                  /* sent inside [t0, t1) and delivered */
    hist_t lat[2];                         /* from the write */
    hist_t lat_sched[2];                   /* from the scheduled time (open loop) */
    uint64_t errors, conn_errors, closed, gen_drops, late_sends;
    char err_code[MAX_ERROR_CODES][32];
    uint64_t err_count[MAX_ERROR_CODES];
    uint64_t notices, system_msgs;
    double srv_cpu0, srv_cpu1, gen_cpu0, gen_cpu1, busy0, busy1;
    long rss_start, rss0, rss1;
} st;

static lws_sorted_usec_list_t sul_tick;
static unsigned char *txbuf;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p)
        die("out of memory");
    return p;
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The conversation with this id, created when new (create) or -1. */
static int conv_lookup(const char *id, bool create)
{
    uint32_t i = hash_str(id) & (conv_hash_cap - 1);

    for (;; i = (i + 1) & (conv_hash_cap - 1)) {
        int c = conv_hash[i];
        if (c < 0)
            break;
        if (strcmp(convs[c].id, id) == 0)
            return c;
    }
    if (!create || nconvs >= opt.customers)
        return -1;
    int c = nconvs++;
    snprintf(convs[c].id, sizeof(convs[c].id), "%s", id);
    convs[c].cust = convs[c].agent = -1;
    conv_hash[i] = c;
    return c;
}

static void count_error(const char *code)
{
    int i;

    st.errors++;
    for (i = 0; i < MAX_ERROR_CODES && st.err_code[i][0]; i++)
        if (strcmp(st.err_code[i], code) == 0)
            break;
    if (i == MAX_ERROR_CODES)
        return;
    if (!st.err_code[i][0])
        snprintf(st.err_code[i], sizeof(st.err_code[i]), "%s", code);
    st.err_count[i]++;
}

/* ----------------------------------------------------------------- output */

static void want_write(conn_t *c)
{
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static void send_ctl(conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->ctl, sizeof(c->ctl), fmt, ap);
    va_end(ap);
    c->ctl_len = n > 0 && (size_t)n < sizeof(c->ctl) ? (size_t)n : 0;
    want_write(c);
}

/* Queues message for conversation conv in direction dir (sent by the
 * customer for DIR_C2A). t = scheduled time, 0 = stamp at write. */
static void enqueue(int conv, int dir, int64_t t)
{
    conv_t *cv = &convs[conv];
    int ci = dir == DIR_C2A ? cv->cust : cv->agent;
    conn_t *c;

    if (ci < 0)
        return;
    c = &conns[ci];
    if (c->state != C_READY || !c->wsi) {
        st.gen_drops++;
        return;
    }
    if (c->qlen == c->qcap) {
        if (c->qcap >= MAX_QUEUE) {
            st.gen_drops++;
            return;
        }
        uint32_t ncap = c->qcap ? c->qcap * 2 : 16;
        out_t *q = xcalloc(ncap, sizeof(out_t));
        for (uint32_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = q;
        c->qhead = 0;
        c->qcap = ncap;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = (out_t){ conv, t };
    if (c->qlen++ == 0)
        want_write(c);
}

/* Writes the message at the head of c's queue. Returns lws_write's result. */
static int write_message(conn_t *c)
{
    out_t o = c->q[c->qhead];
    conv_t *cv = &convs[o.conv];
    char *p = (char *)txbuf + LWS_PRE, *text;
    size_t cap = MAX_TEXT + 512, n;
    int64_t now = now_ns();

    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    if (o.t && now - o.t > 1000000)
        st.late_sends++;
    if (opt.raw) {
        if (c->kind == K_CUSTOMER)
            n = (size_t)snprintf(p, cap, "m%d|", o.conv);
        else
            n = (size_t)snprintf(p, cap, "m%d|%s|", o.conv, cv->id);
    } else if (c->kind == K_CUSTOMER) {
        n = (size_t)snprintf(p, cap, "{\"type\":\"message\",\"ref\":\"%d\",\"text\":\"", o.conv);
    } else {
        n = (size_t)snprintf(p, cap,
                             "{\"type\":\"message\",\"conversation_id\":\"%s\",\"ref\":\"%d\","
                             "\"text\":\"", cv->id, o.conv);
    }
    text = p + n;
    if (o.t)
        n += (size_t)snprintf(text, 96, "t=%" PRId64 ";s=%" PRId64 ";c=%d;", now, o.t, o.conv);
    else
        n += (size_t)snprintf(text, 96, "t=%" PRId64 ";c=%d;", now, o.conv);
    while ((size_t)(p + n - text) < (size_t)opt.size)
        p[n++] = 'x';
    if (!opt.raw) {
        p[n++] = '"';
        p[n++] = '}';
    }
    st.sent++;
    return lws_write(c->wsi, (unsigned char *)p, n, LWS_WRITE_TEXT);
}

static int on_writeable(conn_t *c)
{
    int budget = 32;

    if (c->ctl_len) {
        memcpy(txbuf + LWS_PRE, c->ctl, c->ctl_len);
        size_t n = c->ctl_len;
        c->ctl_len = 0;
        if (lws_write(c->wsi, txbuf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
            return -1;
    }
    while (c->qlen && budget-- > 0 && !lws_send_pipe_choked(c->wsi))
        if (write_message(c) < 0)
            return -1;
    if (c->qlen)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* ------------------------------------------------------------------ input */

/* What one received frame says, whichever framing carried it. */
typedef struct {
    enum { FR_OTHER, FR_MESSAGE, FR_OK, FR_ERROR, FR_WELCOME, FR_JOINED, FR_ASSIGNED, FR_QUEUE } type;
    uint64_t seq;
    int64_t t;           /* the sender's write time, -1 when the text has none */
    int64_t sched;       /* open loop: the time it was scheduled for, else 0 */
    int cidx;            /* conversation index from the text or ref, -1 */
    const char *ref;     /* ok/error ref (borrowed, may be NULL) */
    char conv_id[80];    /* message/welcome/assigned conversation id */
    char code[32];       /* error code */
    json_t *json;        /* the parsed frame on the slow path */
} frame_t;

static int64_t parse_i64(const char *p, const char *end, const char **after)
{
    int64_t v = 0;
    bool neg = false;

    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    if (after)
        *after = p;
    return neg ? -v : v;
}

/* Reads our own stamp "t=<ns>;[s=<ns>;]c=<idx>;" at the start of text. */
static bool parse_stamp(const char *p, const char *end, frame_t *f)
{
    if (end - p < 6 || p[0] != 't' || p[1] != '=')
        return false;
    f->t = parse_i64(p + 2, end, &p);
    if (end - p > 3 && p[0] == ';' && p[1] == 's' && p[2] == '=')
        f->sched = parse_i64(p + 3, end, &p);
    if (end - p < 3 || p[0] != ';' || p[1] != 'c' || p[2] != '=')
        return false;
    f->cidx = (int)parse_i64(p + 3, end, &p);
    return p < end && *p == ';';
}

/* The value of "key" in a flat JSON text (after the colon and blanks), or
 * NULL. Only used on frames we know the shape of. */
static const char *jfind(const char *p, const char *end, const char *key)
{
    size_t k = strlen(key);

    while ((p = memmem(p, (size_t)(end - p), key, k))) {
        p += k;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == ':') {
            p++;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            return p;
        }
    }
    return NULL;
}

static bool starts_with_type(const char *p, const char *end, const char *type)
{
    size_t n = strlen(type);
    const char *v;

    while (p < end && (*p == '{' || *p == ' ' || *p == '\n'))
        p++;
    if (end - p < 6 || memcmp(p, "\"type\"", 6))
        return false;
    v = jfind(p, end, "\"type\"");
    return v && end - v > (ptrdiff_t)n + 1 && v[0] == '"' && memcmp(v + 1, type, n) == 0 &&
           v[n + 1] == '"';
}

/* Fast path for the two hot frames when "type" is the first key:
 * {"type":"message",...,"seq":N,...,"text":"t=..;c=..;..."} and
 * {"type":"ok","ref":"N","seq":N,...}. false: use the slow path. */
static bool parse_fast(const char *p, size_t len, frame_t *f)
{
    const char *end = p + len, *v;

    if (starts_with_type(p, end, "message")) {
        if (!(v = jfind(p, end, "\"seq\"")))
            return false;
        f->seq = (uint64_t)parse_i64(v, end, NULL);
        if (!(v = jfind(p, end, "\"text\"")) || *v != '"' || !parse_stamp(v + 1, end, f))
            return false;
        f->type = FR_MESSAGE;
        return true;
    }
    if (starts_with_type(p, end, "ok")) {
        if ((v = jfind(p, end, "\"ref\"")) && *v == '"' && v + 1 < end && v[1] >= '0' &&
            v[1] <= '9')
            f->cidx = (int)parse_i64(v + 1, end, NULL);
        else
            return false;       /* a control ok: slow path keeps its ref */
        if ((v = jfind(p, end, "\"seq\"")))
            f->seq = (uint64_t)parse_i64(v, end, NULL);
        f->type = FR_OK;
        return true;
    }
    return false;
}

static void parse_slow(const char *p, size_t len, frame_t *f)
{
    json_error_t jerr;
    json_t *o = json_loadb(p, len, 0, &jerr), *v;
    const char *type;

    f->json = o;
    if (!o || !(type = json_string_value(json_object_get(o, "type")))) {
        fprintf(stderr, "loadgen: unparsable frame: %.*s\n", (int)(len > 200 ? 200 : len), p);
        return;
    }
    f->ref = json_string_value(json_object_get(o, "ref"));
    if ((v = json_object_get(o, "seq")) && json_is_integer(v))
        f->seq = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(o, "conversation_id")) && json_is_string(v))
        snprintf(f->conv_id, sizeof(f->conv_id), "%s", json_string_value(v));
    if (strcmp(type, "message") == 0) {
        const char *text = json_string_value(json_object_get(o, "text"));
        f->type = FR_MESSAGE;
        if (text && !parse_stamp(text, text + strlen(text), f))
            f->t = -1, f->cidx = -1;
    } else if (strcmp(type, "ok") == 0) {
        f->type = FR_OK;
        if (f->ref && f->ref[0] >= '0' && f->ref[0] <= '9')
            f->cidx = atoi(f->ref);
    } else if (strcmp(type, "error") == 0) {
        f->type = FR_ERROR;
        snprintf(f->code, sizeof(f->code), "%s",
                 json_string_value(json_object_get(o, "code")) ?: "?");
        if (opt.verbose || st.errors < 5)
            fprintf(stderr, "loadgen: error frame: %.*s\n", (int)(len > 300 ? 300 : len), p);
    } else if (strcmp(type, "welcome") == 0) {
        f->type = FR_WELCOME;
    } else if (strcmp(type, "agent_joined") == 0) {
        f->type = FR_JOINED;
    } else if (strcmp(type, "assigned") == 0) {
        json_t *c = json_object_get(o, "conversation");
        f->type = FR_ASSIGNED;
        if ((v = json_object_get(c, "id")) && json_is_string(v))
            snprintf(f->conv_id, sizeof(f->conv_id), "%s", json_string_value(v));
    } else if (strcmp(type, "queue") == 0) {
        f->type = FR_QUEUE;
    } else if (opt.verbose) {
        fprintf(stderr, "loadgen: frame: %.*s\n", (int)(len > 200 ? 200 : len), p);
    }
}

/* The ceiling's framing: w<id> j A<id> o k<ref>|<seq> M<id>|<seq>|<text> e<code>. */
static void parse_raw(const char *p, size_t len, frame_t *f)
{
    const char *end = p + len, *q;

    if (!len)
        return;
    switch (p[0]) {
    case 'w':
        f->type = FR_WELCOME;
        snprintf(f->conv_id, sizeof(f->conv_id), "%.*s", (int)(len - 1), p + 1);
        break;
    case 'j':
        f->type = FR_JOINED;
        break;
    case 'A':
        f->type = FR_ASSIGNED;
        snprintf(f->conv_id, sizeof(f->conv_id), "%.*s", (int)(len - 1), p + 1);
        break;
    case 'o':
        f->type = FR_OK;
        f->ref = "status";
        break;
    case 'k':
        f->type = FR_OK;
        f->cidx = (int)parse_i64(p + 1, end, &q);
        if (q < end && *q == '|')
            f->seq = (uint64_t)parse_i64(q + 1, end, NULL);
        break;
    case 'M':
        f->type = FR_MESSAGE;
        if (!(q = memchr(p, '|', len)))
            break;
        f->seq = (uint64_t)parse_i64(q + 1, end, &q);
        if (q < end && *q == '|' && !parse_stamp(q + 1, end, f))
            f->t = -1, f->cidx = -1;
        break;
    case 'e':
        f->type = FR_ERROR;
        snprintf(f->code, sizeof(f->code), "%.*s", (int)(len - 1), p + 1);
        break;
    }
}

static void check_conv_ready(int ci)
{
    conv_t *cv = &convs[ci];

    if (cv->ready || cv->cust < 0 || cv->agent < 0 || !cv->joined)
        return;
    cv->ready = true;
    convs_ready++;
}

static void start_traffic(void);

/* Closed loop: the side that sent in direction dir may send its next one. */
static void closed_loop_next(int ci, int dir)
{
    conv_t *cv = &convs[ci];

    if (cv->out[dir] > 0)
        cv->out[dir]--;
    if (opt.rate > 0 || phase > PH_MEASURE || phase < PH_WARMUP)
        return;
    while (cv->out[dir] < opt.window) {
        cv->out[dir]++;
        enqueue(ci, dir, 0);
    }
}

static void on_message(conn_t *c, frame_t *f)
{
    int ci = c->kind == K_CUSTOMER ? c->conv : f->cidx;
    int64_t now;

    if (f->t < 0 || ci < 0 || ci >= nconvs) {
        /* A message we did not write: a system notice. Its seq counts. */
        st.system_msgs++;
        if (c->kind == K_AGENT)
            ci = f->conv_id[0] ? conv_lookup(f->conv_id, false) : -1;
        else
            ci = c->conv;
        if (ci >= 0)
            seq_add(&convs[ci].seen[c->kind], f->seq);
        return;
    }
    now = now_ns();
    seq_add(&convs[ci].seen[c->kind], f->seq);
    st.recv++;
    if (f->t >= t0 && f->t < t1 && phase >= PH_MEASURE) {
        int dir = c->kind == K_AGENT ? DIR_C2A : DIR_A2C;
        st.win_recv[dir]++;
        h_record(&st.lat[dir], now - f->t);
        h_record(&st.lat_sched[dir], now - (f->sched ? f->sched : f->t));
    }
}

static void on_frame(conn_t *c, const char *p, size_t len)
{
    frame_t f;

    memset(&f, 0, sizeof(f));
    f.cidx = -1;
    if (opt.raw)
        parse_raw(p, len, &f);
    else if (!parse_fast(p, len, &f))
        parse_slow(p, len, &f);

    switch (f.type) {
    case FR_MESSAGE:
        on_message(c, &f);
        break;
    case FR_OK:
        if (f.cidx >= 0 && f.cidx < nconvs) {
            int dir = c->kind == K_CUSTOMER ? DIR_C2A : DIR_A2C;
            seq_add(&convs[f.cidx].seen[c->kind], f.seq);
            closed_loop_next(f.cidx, dir);
        } else if (c->kind == K_AGENT && f.ref && strcmp(f.ref, "status") == 0 &&
                   c->state == C_OPEN) {
            c->state = C_READY;
            agents_ready++;
        }
        break;
    case FR_ERROR:
        count_error(f.code[0] ? f.code : "?");
        if (f.ref && f.ref[0] >= '0' && f.ref[0] <= '9') {
            /* The message was refused: it will never arrive. */
            int ci = atoi(f.ref);
            if (ci < nconvs) {
                st.recv++;
                closed_loop_next(ci, c->kind == K_CUSTOMER ? DIR_C2A : DIR_A2C);
            }
        }
        break;
    case FR_WELCOME:
        if (c->kind == K_AGENT) {
            if (c->state == C_OPEN)
                send_ctl(c, opt.raw ? "s" : "{\"type\":\"status\",\"state\":\"available\","
                                            "\"ref\":\"status\"}");
        } else if (c->conv < 0) {
            if (f.json && !f.conv_id[0])
                snprintf(f.conv_id, sizeof(f.conv_id), "%s",
                         json_string_value(json_object_get(f.json, "conversation_id")) ?: "");
            int ci = conv_lookup(f.conv_id, true);
            if (ci < 0) {
                fprintf(stderr, "loadgen: welcome without a usable conversation_id\n");
                break;
            }
            c->conv = ci;
            convs[ci].cust = c->idx;
            c->state = C_READY;
            customers_welcomed++;
            for (uint64_t s = 1; s <= f.seq; s++)
                seq_add(&convs[ci].seen[K_CUSTOMER], s);
            check_conv_ready(ci);
        }
        break;
    case FR_JOINED:
        if (c->kind == K_CUSTOMER && c->conv >= 0) {
            convs[c->conv].joined = true;
            check_conv_ready(c->conv);
        }
        break;
    case FR_ASSIGNED:
        if (c->kind == K_AGENT) {
            int ci = conv_lookup(f.conv_id, true);
            if (ci < 0)
                break;
            convs[ci].agent = c->idx;
            /* Messages already in the conversation travel in its transcript. */
            json_t *tr = f.json ? json_object_get(json_object_get(f.json, "conversation"),
                                                  "transcript") : NULL;
            size_t i;
            json_t *m;
            json_array_foreach(tr, i, m)
                seq_add(&convs[ci].seen[K_AGENT],
                        (uint64_t)json_integer_value(json_object_get(m, "seq")));
            check_conv_ready(ci);
        }
        break;
    case FR_QUEUE:
        st.notices++;
        break;
    default:
        st.notices++;
        break;
    }
    if (f.json)
        json_decref(f.json);
}

/* --------------------------------------------------------------- lifecycle */

static void connect_one(int i)
{
    struct lws_client_connect_info cc;
    conn_t *c = &conns[i];

    memset(&cc, 0, sizeof(cc));
    cc.context = ctx;
    cc.address = opt.host;
    cc.port = opt.port;
    cc.path = c->kind == K_AGENT ? opt.agent_path : opt.customer_path;
    cc.host = opt.host;
    cc.origin = "http://127.0.0.1";
    cc.ietf_version_or_minus_one = -1;
    cc.local_protocol_name = "sbgen";
    cc.opaque_user_data = c;
    cc.pwsi = &c->wsi;
    if (opt.nsrc)
        cc.iface = opt.src[(c->kind == K_AGENT ? 0 : c->idx) % opt.nsrc];
    c->state = C_CONNECTING;
    connecting++;
    if (!lws_client_connect_via_info(&cc)) {
        connecting--;
        c->state = C_CLOSED;
        st.conn_errors++;
        if (st.conn_errors < 5)
            fprintf(stderr, "loadgen: connect %d failed at once\n", i);
    }
}

static void connect_more(void)
{
    int first = phase == PH_AGENTS ? 0 : opt.agents;
    int last = phase == PH_AGENTS ? opt.agents : nconns;

    if (next_connect < first)
        next_connect = first;
    while (next_connect < last && connecting < opt.connect_burst)
        connect_one(next_connect++);
}

static void report(void);

/* Ends the process at once: with an event library lws_service() does not
 * return, and the kernel closes every socket faster than a graceful close
 * of thousands of them. */
static void finish(int rc)
{
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}

static void begin_measure(int64_t now)
{
    phase = PH_MEASURE;
    t0 = now;
    t1 = INT64_MAX;
    st.srv_cpu0 = proc_cpu_s(opt.server_pid);
    st.rss0 = proc_rss_kb(opt.server_pid);
    st.gen_cpu0 = rusage_self_s();
    st.busy0 = machine_busy_s();
}

static void end_measure(int64_t now)
{
    phase = PH_DRAIN;
    t1 = now;
    t_drain = now;
    st.srv_cpu1 = proc_cpu_s(opt.server_pid);
    st.rss1 = proc_rss_kb(opt.server_pid);
    st.gen_cpu1 = rusage_self_s();
    st.busy1 = machine_busy_s();
}

static void start_traffic(void)
{
    int64_t now = now_ns();

    t_traffic = now;
    sched_start = now;
    sched_k = 0;
    fprintf(stderr, "loadgen: %d conversations ready after %.1f s; warm-up %.0f s, measure %.0f s\n",
            nconvs, (double)(now - t_setup) / 1e9, opt.warmup, opt.duration);
    if (opt.warmup > 0)
        phase = PH_WARMUP;
    else
        begin_measure(now);
    if (opt.rate <= 0) {
        for (int i = 0; i < nconvs; i++)
            for (int d = 0; d < 2; d++)
                for (int w = 0; w < opt.window; w++) {
                    convs[i].out[d]++;
                    enqueue(i, d, 0);
                }
    }
}

static bool all_quiet(void)
{
    for (int i = 0; i < nconns; i++)
        if (conns[i].qlen)
            return false;
    return st.recv >= st.sent;
}

static void tick(lws_sorted_usec_list_t *sul)
{
    int64_t now = now_ns();
    double since_setup = (double)(now - t_setup) / 1e9;

    (void)sul;
    if (interrupted && phase < PH_WARMUP) {
        fprintf(stderr, "loadgen: interrupted during setup\n");
        report();
        finish(1);
    }
    if (interrupted && phase < PH_DRAIN) {
        fprintf(stderr, "loadgen: interrupted\n");
        if (phase < PH_MEASURE)
            begin_measure(now);
        end_measure(now);
    }
    switch (phase) {
    case PH_AGENTS:
        connect_more();
        if (agents_ready == opt.agents) {
            phase = PH_CUSTOMERS;
            if (opt.idle)
                st.rss_start = proc_rss_kb(opt.server_pid);
        }
        /* fall through */
    case PH_CUSTOMERS:
        if (phase == PH_CUSTOMERS) {
            connect_more();
            if (opt.idle ? customers_welcomed == opt.customers
                         : convs_ready == opt.customers) {
                if (opt.idle) {
                    fprintf(stderr, "loadgen: %d idle customers welcomed after %.1f s\n",
                            customers_welcomed, since_setup);
                    phase = PH_WARMUP;
                    t_traffic = now;
                } else {
                    start_traffic();
                }
            }
        }
        /* Every connection tried, none in progress, some lost: it cannot finish. */
        bool stuck = next_connect == (phase == PH_AGENTS ? opt.agents : nconns) &&
                     connecting == 0 && st.conn_errors + st.closed > 0;
        if (phase <= PH_CUSTOMERS && (since_setup > opt.setup_timeout || stuck)) {
            fprintf(stderr, "loadgen: setup %s after %.0f s: %d/%d agents ready, "
                    "%d/%d customers welcomed, %d conversations ready\n",
                    stuck ? "failed" : "timed out", since_setup, agents_ready, opt.agents,
                    customers_welcomed, opt.customers, convs_ready);
            report();
            finish(1);
        }
        break;
    case PH_WARMUP:
        if (opt.idle) {
            if ((double)(now - t_traffic) / 1e9 >= opt.settle) {
                begin_measure(now);
            }
        } else if ((double)(now - t_traffic) / 1e9 >= opt.warmup) {
            begin_measure(now);
        }
        break;
    case PH_MEASURE:
        if ((double)(now - t0) / 1e9 >= (opt.idle ? opt.hold : opt.duration))
            end_measure(now);
        break;
    case PH_DRAIN:
        if (opt.idle || all_quiet() || (double)(now - t_drain) / 1e9 >= opt.drain_timeout) {
            phase = PH_DONE;
            report();
            finish(0);
        }
        break;
    }

    /* Open loop: schedule every message due by now. */
    if (opt.rate > 0 && (phase == PH_WARMUP || phase == PH_MEASURE) && !opt.idle) {
        double interval = 1e9 / opt.rate;
        uint64_t due = (uint64_t)((double)(now - sched_start) / interval) + 1;
        uint64_t n = (uint64_t)nconvs;
        while (sched_k < due) {
            int64_t t = sched_start + (int64_t)((double)sched_k * interval);
            enqueue((int)(sched_k % n), (int)((sched_k / n) & 1), t);
            sched_k++;
        }
    }
    lws_sul_schedule(ctx, 0, &sul_tick, tick,
                     opt.rate > 0 && phase >= PH_WARMUP ? opt.tick_us : 10 * LWS_US_PER_MS);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    conn_t *c = lws_get_opaque_user_data(wsi);

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c)
            break;
        st.conn_errors++;
        if (st.conn_errors <= 5)
            fprintf(stderr, "loadgen: connection %d failed: %s\n", c->idx,
                    in ? (const char *)in : "?");
        if (c->state == C_CONNECTING)
            connecting--;
        c->state = C_CLOSED;
        c->wsi = NULL;
        connect_more();
        break;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            break;
        connecting--;
        c->state = C_OPEN;
        c->wsi = wsi;
        if (c->kind == K_AGENT) {
            if (opt.raw)
                send_ctl(c, "a");
            else
                send_ctl(c, "{\"type\":\"auth\",\"token\":\"%s\",\"ref\":\"auth\"}",
                         opt.tokens[c->idx % opt.ntokens]);
        } else {
            if (opt.raw)
                send_ctl(c, "h");
            else
                send_ctl(c, "{\"type\":\"hello\",\"name\":\"Customer %d\",\"language\":\"en\","
                            "\"ref\":\"hello\"}", c->idx - opt.agents);
        }
        connect_more();
        break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c)
            break;
        if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) && !c->rx_len) {
            on_frame(c, in, len);
            break;
        }
        if (c->rx_len + len > c->rx_cap) {
            c->rx_cap = c->rx_len + len + 4096;
            if (!(c->rx = realloc(c->rx, c->rx_cap)))
                die("out of memory");
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            size_t n = c->rx_len;
            c->rx_len = 0;
            on_frame(c, c->rx, n);
        }
        break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c || !c->wsi)
            break;
        return on_writeable(c);

    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c)
            break;
        if (phase < PH_DONE) {
            st.closed++;
            if (st.closed <= 5)
                fprintf(stderr, "loadgen: %s %d closed by the server\n",
                        c->kind == K_AGENT ? "agent" : "customer", c->idx);
        }
        c->state = C_CLOSED;
        c->wsi = NULL;
        break;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && phase < PH_DONE && len >= 2 && st.closed < 5)
            fprintf(stderr, "loadgen: close code %d from the server: %.*s\n",
                    ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1], (int)len - 2,
                    (char *)in + 2);
        break;

    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    { "sbgen", callback, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ----------------------------------------------------------------- report */

static void report(void)
{
    double dur = (double)(t1 - t0) / 1e9;
    double srv_cpu = st.srv_cpu0 >= 0 && st.srv_cpu1 >= 0 ? st.srv_cpu1 - st.srv_cpu0 : -1;
    double gen_cpu = st.gen_cpu1 - st.gen_cpu0;
    uint64_t gaps = 0, dups = 0, msgs = st.win_recv[0] + st.win_recv[1];
    uint64_t lost = st.sent > st.recv ? st.sent - st.recv : 0;
    uint64_t errors = st.errors + st.conn_errors + st.closed + st.gen_drops;
    double other = st.busy0 >= 0 && st.busy1 >= 0 && srv_cpu >= 0
                   ? st.busy1 - st.busy0 - srv_cpu - gen_cpu : -1;
    hist_t all, all_sched;
    char codes[512] = "";
    size_t used = 0;

    if (phase < PH_DRAIN) {
        printf("RESULT impl=%s mode=failed phase=%d agents_ready=%d customers_welcomed=%d "
               "convs_ready=%d conn_errors=%" PRIu64 " errors=%" PRIu64 "\n", opt.impl, phase,
               agents_ready, customers_welcomed, convs_ready, st.conn_errors, errors);
        fflush(stdout);
        return;
    }
    for (int i = 0; i < MAX_ERROR_CODES && st.err_code[i][0]; i++)
        used += (size_t)snprintf(codes + used, sizeof(codes) - used, "%s%s:%" PRIu64,
                                 used ? "," : "", st.err_code[i], st.err_count[i]);

    if (opt.idle) {
        long delta = st.rss1 >= 0 && st.rss_start >= 0 ? st.rss1 - st.rss_start : -1;
        double per = delta >= 0 ? (double)delta * 1024.0 / opt.customers : -1;
        printf("idle connections     %d (welcomed %d)\n", opt.customers, customers_welcomed);
        printf("router RSS           %ld KiB before, %ld KiB after, %.0f bytes per connection\n",
               st.rss_start, st.rss1, per);
        printf("router CPU idle      %.3f s over %.1f s held\n", srv_cpu, dur);
        printf("RESULT mode=idle impl=%s conns=%d welcomed=%d rss_before_kb=%ld rss_after_kb=%ld "
               "bytes_per_conn=%.0f idle_cpu_s=%.3f errors=%" PRIu64 " error_codes=%s\n",
               opt.impl, opt.customers, customers_welcomed, st.rss_start, st.rss1, per, srv_cpu,
               errors, used ? codes : "none");
        fflush(stdout);
        return;
    }

    for (int i = 0; i < nconvs; i++)
        for (int k = 0; k < 2; k++) {
            gaps += seq_missing(&convs[i].seen[k]);
            dups += convs[i].seen[k].dups;
        }
    memset(&all, 0, sizeof(all));
    h_merge(&all, &st.lat[0]);
    h_merge(&all, &st.lat[1]);
    memset(&all_sched, 0, sizeof(all_sched));
    h_merge(&all_sched, &st.lat_sched[0]);
    h_merge(&all_sched, &st.lat_sched[1]);

    printf("workload             %d customers, %d agents, %s, %d-byte texts, %.1f s measured\n",
           opt.customers, opt.agents,
           opt.rate > 0 ? "open loop" : "closed loop", opt.size, dur);
    if (opt.rate > 0)
        printf("offered rate         %.0f msg/s\n", opt.rate);
    else
        printf("window               %d per side per conversation\n", opt.window);
    printf("delivered            %" PRIu64 " msgs (%.0f msg/s): customer->agent %" PRIu64
           ", agent->customer %" PRIu64 "\n", msgs, msgs / dur, st.win_recv[0], st.win_recv[1]);
    printf("latency c->a (us)    p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n",
           h_quantile_us(&st.lat[0], .5), h_quantile_us(&st.lat[0], .99),
           h_quantile_us(&st.lat[0], .999), st.lat[0].max / 1000.0);
    printf("latency a->c (us)    p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f\n",
           h_quantile_us(&st.lat[1], .5), h_quantile_us(&st.lat[1], .99),
           h_quantile_us(&st.lat[1], .999), st.lat[1].max / 1000.0);
    if (opt.rate > 0)
        printf("from schedule (us)   p50 %.0f  p99 %.0f  p99.9 %.0f  (open loop: includes any wait "
               "in the generator)\n", h_quantile_us(&all_sched, .5),
               h_quantile_us(&all_sched, .99), h_quantile_us(&all_sched, .999));
    printf("seq                  %" PRIu64 " gaps, %" PRIu64 " duplicates, %" PRIu64
           " lost after drain\n", gaps, dups, lost);
    printf("errors               %" PRIu64 " error frames (%s), %" PRIu64 " connect failures, %"
           PRIu64 " closed by server, %" PRIu64 " generator drops\n", st.errors,
           used ? codes : "none", st.conn_errors, st.closed, st.gen_drops);
    printf("router               %.2f CPU s (%.0f%% of one core), %.0f msgs per CPU s, "
           "RSS %ld -> %ld KiB\n", srv_cpu, srv_cpu / dur * 100, srv_cpu > 0 ? msgs / srv_cpu : 0,
           st.rss0, st.rss1);
    printf("generator            %.2f CPU s (%.0f%% of one core), %" PRIu64
           " sends more than 1 ms late, %" PRIu64 " notices\n", gen_cpu, gen_cpu / dur * 100,
           st.late_sends, st.notices + st.system_msgs);
    printf("other processes      %.2f CPU s (%.0f%% of one core)%s\n", other, other / dur * 100,
           other / dur > 0.10 ? ": the machine was not quiet, figures are disturbed" : "");
    printf("RESULT impl=%s mode=%s rate=%.0f conns=%d agents=%d size=%d duration_s=%.1f "
           "msgs=%" PRIu64 " msgs_per_s=%.0f cpu_s=%.3f msgs_per_cpu_s=%.0f p50_us=%.0f "
           "p99_us=%.0f p999_us=%.0f c2a_p99_us=%.0f a2c_p99_us=%.0f gaps=%" PRIu64
           " dups=%" PRIu64 " lost=%" PRIu64 " errors=%" PRIu64 " error_codes=%s rss_kb=%ld "
           "rss_before_kb=%ld gen_cpu_s=%.3f gen_util=%.2f late_sends=%" PRIu64 " other_cpu_s=%.2f sched_p50_us=%.0f sched_p99_us=%.0f\n",
           opt.impl, opt.rate > 0 ? "open" : "closed", opt.rate, opt.customers, opt.agents,
           opt.size, dur, msgs, msgs / dur, srv_cpu, srv_cpu > 0 ? msgs / srv_cpu : 0,
           h_quantile_us(&all, .5), h_quantile_us(&all, .99), h_quantile_us(&all, .999),
           h_quantile_us(&st.lat[0], .99), h_quantile_us(&st.lat[1], .99), gaps, dups, lost,
           errors, used ? codes : "none", st.rss1, st.rss0, gen_cpu, gen_cpu / dur, st.late_sends, other,
           h_quantile_us(&all_sched, .5), h_quantile_us(&all_sched, .99));
    fflush(stdout);
}

/* ------------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
        "usage: bench_loadgen --port P [options]\n"
        "  --host H              router address (default 127.0.0.1)\n"
        "  --customers N         customer connections (default 100)\n"
        "  --agents M            agent connections (default: number of tokens, or 10)\n"
        "  --agent-token T       an agent token; repeat for several\n"
        "  --agent-tokens-file F agent tokens, one per line\n"
        "  --rate R              open loop: R messages/s in total; 0 = closed loop (default)\n"
        "  --window W            closed loop: messages in flight per side per conversation (1)\n"
        "  --size B              text bytes per message (default 100)\n"
        "  --duration S          measured seconds (default 10)\n"
        "  --warmup S            seconds of traffic before measuring (default 3)\n"
        "  --server-pid PID      read the router's CPU and RSS from /proc/PID\n"
        "  --impl NAME           name on the RESULT line (default switchboard)\n"
        "  --raw                 bench_ceiling's framing instead of JSON\n"
        "  --idle                customers only: hello, then idle; report RSS per connection\n"
        "  --hold S              idle: seconds to hold the connections after settling (0)\n"
        "  --settle S            idle: seconds to wait before reading RSS (default 2)\n"
        "  --src-addrs A,B,...   source addresses, round robin (e.g. 127.0.0.2,127.0.0.3)\n"
        "  --connect-burst N     connections in progress at once (default 256)\n"
        "  --setup-timeout S     give up when setup takes longer (default 120)\n"
        "  --drain-timeout S     after measuring, wait this long for messages in flight (5)\n"
        "  --evlib poll|ev|uv    the generator's event loop: lws' poll() (default), libev, libuv\n"
        "  --tick-us U           open loop: look at the schedule every U us (default 1000; below\n"
        "                        1000 lws' poll() loop spins)\n"
        "  --customer-path P, --agent-path P   (default /v1/customer, /v1/agent)\n"
        "  --verbose\n");
    exit(2);
}

static void add_token(const char *t)
{
    opt.tokens = realloc(opt.tokens, (size_t)(opt.ntokens + 1) * sizeof(char *));
    if (!opt.tokens || !(opt.tokens[opt.ntokens] = strdup(t)))
        die("out of memory");
    opt.ntokens++;
}

static void read_tokens(const char *path)
{
    char line[512];
    FILE *f = fopen(path, "r");

    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && line[0] != '#')
            add_token(line);
    }
    fclose(f);
}

static void split_src(const char *list)
{
    char *copy = strdup(list), *save = NULL;

    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        opt.src = realloc(opt.src, (size_t)(opt.nsrc + 1) * sizeof(char *));
        opt.src[opt.nsrc++] = strdup(t);
    }
    free(copy);
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = true;
    if (ctx)
        lws_cancel_service(ctx);
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    int agents = -1;
    struct rlimit rl;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && (v || (usage(), 0)) && ++i)
        if (ARG("--host")) opt.host = v;
        else if (ARG("--port")) opt.port = atoi(v);
        else if (ARG("--customers")) opt.customers = atoi(v);
        else if (ARG("--agents")) agents = atoi(v);
        else if (ARG("--agent-token")) add_token(v);
        else if (ARG("--agent-tokens-file")) read_tokens(v);
        else if (ARG("--rate")) opt.rate = atof(v);
        else if (ARG("--window")) opt.window = atoi(v);
        else if (ARG("--size")) opt.size = atoi(v);
        else if (ARG("--duration")) opt.duration = atof(v);
        else if (ARG("--warmup")) opt.warmup = atof(v);
        else if (ARG("--server-pid")) opt.server_pid = atoi(v);
        else if (ARG("--impl")) opt.impl = v;
        else if (ARG("--hold")) opt.hold = atof(v);
        else if (ARG("--settle")) opt.settle = atof(v);
        else if (ARG("--src-addrs")) split_src(v);
        else if (ARG("--connect-burst")) opt.connect_burst = atoi(v);
        else if (ARG("--setup-timeout")) opt.setup_timeout = atof(v);
        else if (ARG("--drain-timeout")) opt.drain_timeout = atof(v);
        else if (ARG("--customer-path")) opt.customer_path = v;
        else if (ARG("--agent-path")) opt.agent_path = v;
        else if (ARG("--evlib")) opt.evlib = v;
        else if (ARG("--tick-us")) opt.tick_us = atoi(v);
        else if (strcmp(a, "--raw") == 0) opt.raw = true;
        else if (strcmp(a, "--idle") == 0) opt.idle = true;
        else if (strcmp(a, "--verbose") == 0) opt.verbose = true;
        else usage();
#undef ARG
    }
    if (opt.port <= 0 || opt.port > 65535)
        usage();
    if (!opt.customer_path)
        opt.customer_path = opt.raw ? "/customer" : "/v1/customer";
    if (!opt.agent_path)
        opt.agent_path = opt.raw ? "/agent" : "/v1/agent";
    opt.agents = agents >= 0 ? agents : opt.ntokens ? opt.ntokens : (opt.idle ? 0 : 10);
    if (opt.idle && agents < 0)
        opt.agents = 0;
    if (opt.agents > 0 && !opt.raw && !opt.ntokens)
        die("agents need tokens: --agent-token or --agent-tokens-file");
    if (opt.customers < 1 || (!opt.idle && opt.agents < 1))
        die("need at least one customer and (unless --idle) one agent");
    if (opt.size < 24 || opt.size > MAX_TEXT)
        die("--size must be 24..%d", MAX_TEXT);
    if (opt.window < 1)
        opt.window = 1;
    if (opt.duration <= 0 || opt.duration > 3600 || opt.warmup < 0 || opt.warmup > 600 ||
        opt.hold < 0 || opt.hold > 3600)
        die("--duration 0..3600, --warmup 0..600, --hold 0..3600");

    nconns = opt.agents + opt.customers;
    /* Enough descriptors for every connection (root may raise the hard limit). */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 256) {
        rl.rlim_cur = (rlim_t)nconns + 256;
        if (rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "loadgen: cannot raise the open-file limit to %d: %s\n",
                    nconns + 256, strerror(errno));
    }

    conns = xcalloc((size_t)nconns, sizeof(conn_t));
    for (int i = 0; i < nconns; i++) {
        conns[i].idx = i;
        conns[i].kind = i < opt.agents ? K_AGENT : K_CUSTOMER;
        conns[i].conv = -1;
    }
    convs = xcalloc((size_t)opt.customers, sizeof(conv_t));
    for (conv_hash_cap = 16; conv_hash_cap < (uint32_t)opt.customers * 2; conv_hash_cap *= 2)
        ;
    conv_hash = xcalloc(conv_hash_cap, sizeof(int));
    memset(conv_hash, 0xff, conv_hash_cap * sizeof(int));
    txbuf = xcalloc(1, LWS_PRE + MAX_TEXT + 1024);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(opt.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = (unsigned int)nconns + 256;
    info.timeout_secs = 60;
    info.connect_timeout_secs = 30;
    if (opt.evlib && strcmp(opt.evlib, "ev") == 0)
        info.options |= LWS_SERVER_OPTION_LIBEV;
    else if (opt.evlib && strcmp(opt.evlib, "uv") == 0)
        info.options |= LWS_SERVER_OPTION_LIBUV;
    else if (opt.evlib && strcmp(opt.evlib, "poll") != 0)
        die("--evlib is poll, ev or uv");
    if (!(ctx = lws_create_context(&info)))
        die("cannot create the lws context");

    t_setup = now_ns();
    st.rss_start = proc_rss_kb(opt.server_pid);
    fprintf(stderr, "loadgen: %s on %s:%d: %d agents, %d customers%s\n", opt.impl, opt.host,
            opt.port, opt.agents, opt.customers, opt.idle ? " (idle)" : "");
    lws_sul_schedule(ctx, 0, &sul_tick, tick, 1);
    for (;;)
        if (lws_service(ctx, 0) < 0)
            break;
    fprintf(stderr, "loadgen: the event loop ended early\n");
    report();
    finish(1);
    return 1;
}
