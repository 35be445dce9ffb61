/*
 * routing.c - routing-core benchmark: replays a synthetic working day, then a
 * large backlog, against the pure core and reports how fast it decides.
 *
 *   bench_routing [--agents 100,1000,10000] [--hours 8] [--backlog 10]
 *                 [--seed 1] [--by-kind] [--digest]
 *
 * World per agent count N: 200 skills, 20 languages, max(4, N/250) pools
 * (random strategy, a quarter with offers, relaxation steps, some overflow),
 * 200 topics asking one skill at level 2-6. Agents sit in 1-2 pools, speak
 * English (mostly) plus 1-2 other languages, hold 20 skills, 1-3 chat slots.
 *
 * Day: arrivals follow a shift profile (quiet start, a peak above capacity
 * late morning, a lull) for --hours simulated hours; customers write, agents
 * accept offers after 1-3 s, close after an exponential handle time (mean
 * 10 min), take breaks; some waiting customers give up. Backlog: every agent
 * away, --backlog x N conversations waiting (100,000 at N = 10,000), then
 * agents come back one by one and serve: every close hands the freed slot to
 * the best waiting conversation.
 *
 * A decision is one core call that routes: an arrival, a close, an accept,
 * a status change, a tick that routed something (offer expiry, a step, an
 * overflow, a freed wrap-up slot). Each is timed alone (CLOCK_MONOTONIC); the
 * hub's work on the actions is not. Prints decisions per second over the
 * time spent deciding, the median and 99th percentile of one decision, and
 * the same for ticks that only sent queue notices (a notice walk step looks
 * at up to 64 waiting conversations). --by-kind adds the same figures for each
 * kind of decision (arrival, agent close, customer close, accept, away,
 * available, tick) and for decisions that did or did not also send queue
 * notices to other waiting customers (a notice walk step). --digest prints a hash of every action the core produced
 * (kind, conversation, agent, position, estimate, reason, text) per phase:
 * two builds that decide the same print the same digest, so a faster core
 * can be checked against the one before.
 */
#include "switchboard/core.h"

#include "../tests/unit/core_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- randomness (deterministic) ------------------------------------------ */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int pick(int n)
{
    return n > 0 ? (int)(rnd() % (uint64_t)n) : 0;
}

static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static sb_ms_t expo_ms(double mean_s)
{
    double u = unit();
    if (u < 1e-12)
        u = 1e-12;
    return (sb_ms_t)(-log(u) * mean_s * 1000.0) + 1;
}

/* --- timing ---------------------------------------------------------------- */

enum { K_OPEN, K_CLOSE, K_ABANDON, K_ACCEPT, K_AWAY, K_AVAILABLE, K_TICK,
       K_QUIET, K_NOTIFY, K__COUNT };
static const char *const kind_names[K__COUNT] = {
    "arrival", "close", "abandon", "accept", "away", "available", "tick",
    "quiet", "w/notices", /* decisions without / with queue notices for others */
};
static bool by_kind;
static bool digest;
static uint64_t digest_h = 1469598103934665603ULL;

static void digest_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        digest_h ^= b[i];
        digest_h *= 1099511628211ULL;
    }
}

static void digest_str(const char *s)
{
    if (s)
        digest_bytes(s, strlen(s) + 1);
    else
        digest_bytes("", 1);
}

static void digest_action(const sb_action_t *a)
{
    int32_t v[5] = { (int32_t)a->kind, a->pool, a->position, a->eta_s,
                     (int32_t)a->expires_in_ms };
    digest_bytes(v, sizeof(v));
    digest_str(a->conv ? a->conv->id : NULL);
    digest_str(a->agent ? a->agent->cfg->id : NULL);
    digest_str(a->reason);
    digest_str(a->esc_kind);
    digest_str(a->text);
    if (a->kind == SB_ACT_EVENT) {
        const sb_event_t *e = &a->conv->history[a->index];
        int32_t ev[3] = { (int32_t)e->kind, e->pool, e->from_pool };
        digest_bytes(ev, sizeof(ev));
        digest_str(e->reason);
    }
}

typedef struct samples {
    double *us;
    size_t n, cap;
    double total_us;
    double max_us;
    const char *max_what;      /* the call that took longest */
} samples_t;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void record(samples_t *s, double us, const char *what)
{
    if (us > s->max_us) {
        s->max_us = us;
        s->max_what = what;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->us = sb_realloc(s->us, s->cap * sizeof(*s->us));
    }
    s->us[s->n++] = us;
    s->total_us += us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *phase, size_t agents, size_t waiting_peak, samples_t *s)
{
    double med = 0, p99 = 0, max = 0;
    if (s->n) {
        qsort(s->us, s->n, sizeof(*s->us), cmp_double);
        med = s->us[s->n / 2];
        p99 = s->us[(size_t)((double)(s->n - 1) * 0.99)];
        max = s->us[s->n - 1];
    }
    printf("%-8s agents=%-6zu peak_waiting=%-7zu decisions=%-8zu decisions/s=%-10.0f "
           "median=%.2fus p99=%.2fus max=%.0fus (%s)\n",
           phase, agents, waiting_peak, s->n, s->total_us > 0 ? s->n / (s->total_us / 1e6) : 0,
           med, p99, max, s->max_what ? s->max_what : "-");
    fflush(stdout);
}

/* The --by-kind lines, and frees their samples. */
static void samples_reset(samples_t *x)
{
    free(x->us);
    memset(x, 0, sizeof(*x));
}

/* Reports each kind (with --by-kind) and empties them. */
static void report_kinds(size_t agents, size_t waiting_peak, samples_t *kinds)
{
    for (int k = 0; k < K__COUNT; k++) {
        char name[32];
        if (by_kind && kinds[k].n) {
            snprintf(name, sizeof(name), "  %s", kind_names[k]);
            report(name, agents, waiting_peak, &kinds[k]);
        }
        samples_reset(&kinds[k]);
    }
}

/* --- the world ---------------------------------------------------------------- */

enum { NSKILLS = 200, NLANGS = 20, NTOPICS = 200 };

static sb_config_t *build_world(size_t nagents)
{
    sb_config_t *cfg = fx_new();
    int npools = (int)(nagents / 250 < 4 ? 4 : nagents / 250);
    char id[32];

    cfg->default_handle_s = 600;
    cfg->max_missed_offers = 3;
    cfg->agent_grace_s = 30;
    for (int i = 0; i < NLANGS; i++) {
        snprintf(id, sizeof(id), "lang%d", i);
        fx_language(cfg, id);
    }
    for (int i = 0; i < NSKILLS; i++) {
        snprintf(id, sizeof(id), "skill%d", i);
        fx_skill(cfg, id);
    }
    for (int p = 0; p < npools; p++) {
        snprintf(id, sizeof(id), "pool%d", p);
        fx_pool(cfg, id);
        sb_cfg_pool_t *pc = &cfg->pools[p];
        pc->strategy = (sb_strategy_t)pick(4);
        pc->accept = pick(4) == 0 ? SB_ACCEPT_OFFER : SB_ACCEPT_DIRECT;
        pc->offer_timeout_s = 15;
        fx_step(cfg, p, 30, 2);
        fx_step(cfg, p, 90, 4);
        if (pick(3) == 0) {
            pc->max_wait_s = 600;
            pc->overflow = (p + 1) % npools;
        }
    }
    for (int t = 0; t < NTOPICS; t++) {
        snprintf(id, sizeof(id), "topic%d", t);
        int ti = fx_topic(cfg, id, pick(npools), pick(20) == 0 ? 1 + pick(3) : 0);
        fx_topic_skill(cfg, ti, pick(NSKILLS), 2 + pick(5));
    }
    for (size_t a = 0; a < nagents; a++) {
        snprintf(id, sizeof(id), "agent%zu", a);
        int ai = fx_agent(cfg, id, NULL, SB_ROLE_AGENT, 1 + pick(3), pick(4) == 0);
        fx_agent_pool(cfg, ai, pick(npools));
        if (pick(3) == 0)
            fx_agent_pool(cfg, ai, pick(npools));
        if (pick(10) < 8)
            fx_agent_lang(cfg, ai, 0, 5 + pick(6));
        for (int k = 1 + pick(2); k > 0; k--)
            fx_agent_lang(cfg, ai, 1 + pick(NLANGS - 1), 3 + pick(8));
        for (int k = 0; k < 20; k++)
            fx_agent_skill(cfg, ai, pick(NSKILLS), 3 + pick(8));
    }
    return cfg;
}

/* --- simulated events ---------------------------------------------------------- */

enum { EV_ARRIVAL, EV_CLOSE, EV_ABANDON, EV_ACCEPT, EV_MESSAGE, EV_BREAK, EV_BACK };

typedef struct sim_event {
    sb_ms_t at;
    uint64_t order;
    int kind;
    int conv;          /* conversation number: id "c<n>" */
    int agent;
} sim_event_t;

typedef struct sim {
    sim_event_t *heap;
    size_t n, cap;
    uint64_t order;
    sb_core_t *core;
    const sb_config_t *cfg;
    samples_t decisions;
    samples_t notices;         /* ticks that only sent queue notices */
    samples_t kinds[K__COUNT]; /* decisions by kind (--by-kind) */
    int next_conv;
    size_t peak_waiting;
} sim_t;

static int ev_before(const sim_event_t *a, const sim_event_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void push(sim_t *s, sb_ms_t at, int kind, int conv, int agent)
{
    size_t i;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->heap = sb_realloc(s->heap, s->cap * sizeof(*s->heap));
    }
    i = s->n++;
    s->heap[i] = (sim_event_t){ at, s->order++, kind, conv, agent };
    while (i > 0 && ev_before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        sim_event_t t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sim_event_t pop(sim_t *s)
{
    sim_event_t top = s->heap[0];
    size_t i = 0;
    s->heap[0] = s->heap[--s->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && ev_before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->n && ev_before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_event_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static int conv_no(const sb_conv_t *c)
{
    return atoi(c->id + 1);
}

/* The hub's part: reacts to what the core decided, then clears. Not timed. */
static void consume(sim_t *s, sb_ms_t now)
{
    size_t n;
    const sb_action_t *acts = sb_core_actions(s->core, &n);

    for (size_t i = 0; i < n; i++) {
        const sb_action_t *a = &acts[i];
        if (digest)
            digest_action(a);
        if (a->kind == SB_ACT_ASSIGNED) {
            push(s, now + expo_ms(600), EV_CLOSE, conv_no(a->conv), a->agent->index);
            push(s, now + 5000 + pick(20000), EV_MESSAGE, conv_no(a->conv), a->agent->index);
        } else if (a->kind == SB_ACT_OFFER) {
            push(s, now + 1000 + pick(2000), EV_ACCEPT, conv_no(a->conv), a->agent->index);
        }
    }
    sb_core_actions_clear(s->core);
}

static void track_waiting(sim_t *s)
{
    size_t w = 0;
    for (size_t p = 0; p < s->cfg->npools; p++)
        w += sb_core_queue_length(s->core, (int)p);
    if (w > s->peak_waiting)
        s->peak_waiting = w;
}

/* --by-kind: by kind, and by whether the call also sent queue notices to
 * waiting customers other than the one it was about (a notice walk). */
static void record_kind(sim_t *s, int kind, double us, const char *what)
{
    size_t n, walked = 0;
    const sb_action_t *acts = sb_core_actions(s->core, &n);
    const sb_conv_t *first = NULL;

    record(&s->kinds[kind], us, what);
    for (size_t i = 0; i < n; i++) {
        if (!first && acts[i].conv)
            first = acts[i].conv;
        walked += acts[i].kind == SB_ACT_QUEUE && acts[i].conv != first;
    }
    record(&s->kinds[walked ? K_NOTIFY : K_QUIET], us, what);
}

#define TIMED(s, kind, call) do { \
    double t0_ = now_us(); \
    int rc_ = (call); \
    double us_ = now_us() - t0_; \
    record(&(s)->decisions, us_, #call); \
    if (by_kind) \
        record_kind(s, kind, us_, #call); \
    (void)rc_; \
} while (0)

static void open_conv(sim_t *s, sb_ms_t now)
{
    char id[24], topic[24];
    const char *lang;
    char langbuf[24];
    sb_conv_spec_t spec;
    int err;

    memset(&spec, 0, sizeof(spec));
    snprintf(id, sizeof(id), "c%d", s->next_conv++);
    if (pick(10) < 6) {
        lang = "lang0";
    } else {
        snprintf(langbuf, sizeof(langbuf), "lang%d", pick(NLANGS));
        lang = langbuf;
    }
    snprintf(topic, sizeof(topic), "topic%d", pick(NTOPICS));
    spec.id = id;
    spec.name = "Customer";
    spec.language = lang;
    spec.topic = pick(5) ? topic : NULL;
    spec.pool = -1;
    spec.media = pick(20) == 0 ? SB_MEDIA_VOICE : SB_MEDIA_CHAT;
    TIMED(s, K_OPEN, (sb_core_conv_open(s->core, &spec, now, &err) ? 0 : err));
    /* a third of the customers give up after a while if still waiting */
    if (pick(3) == 0)
        push(s, now + expo_ms(900), EV_ABANDON, s->next_conv - 1, -1);
}

static void handle(sim_t *s, const sim_event_t *ev)
{
    char id[24];
    sb_conv_t *c = NULL;
    sb_agent_t *a = ev->agent >= 0 ? sb_core_agent_at(s->core, (size_t)ev->agent) : NULL;
    uint64_t seq;

    if (ev->conv >= 0) {
        snprintf(id, sizeof(id), "c%d", ev->conv);
        c = sb_core_conv_find(s->core, id);
    }
    switch (ev->kind) {
    case EV_CLOSE:
        if (c && c->agent == a && c->state == SB_CONV_ASSIGNED)
            TIMED(s, K_CLOSE, sb_core_agent_close(s->core, a, c, "resolved", ev->at));
        break;
    case EV_ABANDON:
        if (c && c->state == SB_CONV_QUEUED)
            TIMED(s, K_ABANDON, sb_core_customer_close(s->core, c, ev->at));
        break;
    case EV_ACCEPT:
        if (c && c->agent == a && c->state == SB_CONV_OFFERED)
            TIMED(s, K_ACCEPT, sb_core_agent_accept(s->core, a, c, ev->at));
        break;
    case EV_MESSAGE:
        if (c && c->agent == a && c->state == SB_CONV_ASSIGNED) {
            sb_core_customer_message(s->core, c, "question", ev->at, &seq);
            sb_core_agent_message(s->core, a, c, "answer", false, ev->at + 1, &seq);
        }
        break;
    case EV_BREAK:
        TIMED(s, K_AWAY, sb_core_agent_status(s->core, a, SB_AGENT_AWAY, ev->at));
        push(s, ev->at + 600000 + pick(900000), EV_BACK, -1, ev->agent);
        break;
    case EV_BACK:
        TIMED(s, K_AVAILABLE, sb_core_agent_status(s->core, a, SB_AGENT_AVAILABLE, ev->at));
        push(s, ev->at + 3600000 + pick(7200000), EV_BREAK, -1, ev->agent);
        break;
    }
}

/* Runs simulated events and core deadlines in time order until `until`. */
static void run_until(sim_t *s, sb_ms_t until, sb_ms_t *clock)
{
    for (;;) {
        sb_ms_t next_core = sb_core_next_deadline(s->core);
        sb_ms_t next_sim = s->n ? s->heap[0].at : SB_NEVER;
        if (next_core <= next_sim && next_core <= until) {
            double t0 = now_us(), us;
            size_t n;
            const sb_action_t *acts;
            bool routed = false;
            *clock = next_core;
            sb_core_tick(s->core, next_core);
            us = now_us() - t0;
            acts = sb_core_actions(s->core, &n);
            for (size_t i = 0; i < n && !routed; i++)
                routed = acts[i].kind != SB_ACT_QUEUE;
            record(routed ? &s->decisions : &s->notices, us, "sb_core_tick");
            if (routed && by_kind)
                record_kind(s, K_TICK, us, "sb_core_tick");
        } else if (next_sim <= until && next_sim != SB_NEVER) {
            sim_event_t ev = pop(s);
            *clock = ev.at;
            if (ev.kind == EV_ARRIVAL)
                open_conv(s, ev.at);
            else
                handle(s, &ev);
        } else {
            *clock = until;
            return;
        }
        consume(s, *clock);
        if ((s->decisions.n & 1023) == 0)
            track_waiting(s);
    }
}

/* Arrival rate over the shift, relative to service capacity. */
static double load_at(double hour, double hours)
{
    double x = hour / hours;
    if (x < 0.15)
        return 0.4;
    if (x < 0.25)
        return 0.8;
    if (x < 0.45)
        return 1.3;      /* the peak: more than the agents can take */
    if (x < 0.6)
        return 0.6;
    if (x < 0.85)
        return 0.9;
    return 0.3;
}

/* The end of a phase: its digest (with --digest), its figures, and the world
 * freed. */
static void finish(sim_t *s, const char *phase, size_t nagents, sb_config_t *cfg)
{
    track_waiting(s);
    if (digest)
        printf("digest %s agents=%zu %016llx\n", phase, nagents, (unsigned long long)digest_h);
    report(phase, nagents, s->peak_waiting, &s->decisions);
    report_kinds(nagents, s->peak_waiting, s->kinds);
    report("  notices", nagents, s->peak_waiting, &s->notices);
    sb_core_free(s->core);
    free(s->heap);
    samples_reset(&s->decisions);
    samples_reset(&s->notices);
    fx_free(cfg);
}

static void day(size_t nagents, double hours)
{
    sim_t s;
    sb_config_t *cfg = build_world(nagents);
    sb_ms_t clock = 0, end = (sb_ms_t)(hours * 3600000.0);
    double slots = 0;

    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.core = sb_core_new(cfg);
    for (size_t i = 0; i < nagents; i++) {
        sb_agent_t *a = sb_core_agent_at(s.core, i);
        slots += a->cfg->cap_chat;
        sb_core_agent_connect(s.core, a, 0);
        push(&s, pick(1800000), EV_BACK, -1, (int)i);     /* online in the first half hour */
    }
    sb_core_actions_clear(s.core);
    /* capacity: slots / mean handle (600 s) conversations per second */
    for (sb_ms_t t = 0; t < end;) {
        double rate = load_at((double)t / 3600000.0, hours) * slots / 600.0;   /* per s */
        sb_ms_t gap = expo_ms(1.0 / rate);
        t += gap;
        if (t >= end)
            break;
        /* arrivals are pushed lazily, a minute at a time, to bound the heap */
        push(&s, t, EV_ARRIVAL, -1, -1);
        if (s.n > 200000) {
            run_until(&s, t, &clock);
        }
    }
    run_until(&s, end, &clock);
    finish(&s, "day", nagents, cfg);
}

static void backlog(size_t nagents, int factor)
{
    sim_t s;
    sb_config_t *cfg = build_world(nagents);
    size_t waiting = nagents * (size_t)factor;
    sb_ms_t clock = 0;

    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.core = sb_core_new(cfg);
    for (size_t i = 0; i < nagents; i++)
        sb_core_agent_connect(s.core, sb_core_agent_at(s.core, i), 0);
    sb_core_actions_clear(s.core);
    for (size_t i = 0; i < waiting; i++) {
        open_conv(&s, (sb_ms_t)i);
        consume(&s, (sb_ms_t)i);
        s.n = 0;            /* no abandons here: the backlog stays */
    }
    clock = (sb_ms_t)waiting;
    track_waiting(&s);
    /* only what follows counts: decisions over a full backlog */
    samples_reset(&s.decisions);
    samples_reset(&s.notices);
    for (int k = 0; k < K__COUNT; k++)
        samples_reset(&s.kinds[k]);
    for (size_t i = 0; i < nagents; i++)
        push(&s, clock + (sb_ms_t)(i * 10), EV_BACK, -1, (int)i);
    run_until(&s, clock + (sb_ms_t)nagents * 10 + 1800000, &clock);
    finish(&s, "backlog", nagents, cfg);
}

int main(int argc, char **argv)
{
    const char *agents = "100,1000,10000";
    double hours = 8;
    int factor = 10;

    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--by-kind") == 0 || strcmp(argv[i], "--digest") == 0) {
            if (argv[i][2] == 'b')
                by_kind = true;
            else
                digest = true;
            i--;
            continue;
        }
        if (i + 1 >= argc)
            goto usage;
        if (strcmp(argv[i], "--agents") == 0)
            agents = argv[i + 1];
        else if (strcmp(argv[i], "--hours") == 0)
            hours = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--backlog") == 0)
            factor = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            rng = strtoull(argv[i + 1], NULL, 10) * 2654435761ULL + 1;
        else
            goto usage;
    }
    printf("routing core: %d skills, %d languages, %d topics; day of %.1f h, "
           "backlog %d x agents\n", NSKILLS, NLANGS, NTOPICS, hours, factor);
    for (const char *p = agents; *p;) {
        size_t n = strtoul(p, NULL, 10);
        uint64_t seed = rng;
        if (n) {
            day(n, hours);
            rng = seed;
            backlog(n, factor);
        }
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    return 0;
usage:
    fprintf(stderr, "usage: %s [--agents 100,1000,10000] [--hours 8] "
                    "[--backlog 10] [--seed N] [--by-kind] [--digest]\n", argv[0]);
    return 2;
}
