/*
 * test_core_property.c - random event sequences against the routing core.
 *
 * Each run builds a small random configuration (pools with random strategy,
 * accept mode, steps, overflow and escalation targets; agents with random
 * pools, languages, skills and capacities, some bots), then plays a few
 * hundred random events (arrivals, messages, closes, status changes,
 * disconnects, offers answered or ignored, transfers, escalations, events
 * recorded from outside routing (delivery failures), clock
 * jumps with ticks, and reconfigurations that flip between two random
 * configurations sharing some ids; languages are real tags, some
 * conversations leave theirs undeclared, and customers write in several
 * languages, so detection switches languages and holds conversations).
 * After every event it checks, from the core's own bookkeeping:
 *  - capacity is never exceeded (an agent whose capacity a reconfiguration
 *    lowered below what it holds gets nothing new until below), and every
 *    slot is accounted for (held conversations plus wrap-ups);
 *  - a reconfiguration keeps every kept agent's object, drops removed ones
 *    (holding nothing) and lists the new agents in configuration order;
 *  - every offered or assigned conversation has one owner, held by that
 *    agent and no other;
 *  - every open conversation not held is in exactly one queue, its pool's;
 *  - each queue is in order (front, priority, arrival, ticket);
 *  - a failed call changed nothing (no actions);
 *  - a conversation held for its language is queued with its hold timer
 *    armed, and a declared language never changes (no `language` event);
 *  - offers pending and online capacity per pool match a recount.
 * Seeded and deterministic: a failure prints the run's seed and event.
 */
#include "test.h"
#include "core_fixture.h"
#include "../../router/core/internal.h"

static uint64_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int pick(int n)
{
    return n > 0 ? (int)(rnd() % (uint32_t)n) : 0;
}

/* Languages of the random configurations (the first 2 or 3), and one more
 * that is never configured. */
static const char *const tags[] = { "en", "es", "de", "fr" };
static const char *const texts[] = {
    "hello", "hola, necesito ayuda con mi factura por favor",
    "ich habe ein Problem mit der Rechnung und brauche Hilfe",
    "the order is late and I need help with it", "ok", "manager",
    "bonjour, je veux parler avec vous",
};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))
static char *declared;      /* per conversation number: opened with a configured language */
static size_t declared_cap;

static unsigned long run_seed;
/* Per agent index: the most it may hold per medium (its capacity, or what it
 * held above a lowered capacity, shrinking as it lets go). */
static int *allow_chat, *allow_voice;
static unsigned long seen[SB_ACT_AGENT_STATE + 1];   /* actions by kind, all runs */
static unsigned long seen_ev[SB_EV__COUNT];          /* history events by kind */
static int event_no;

#define PCHECK(expr) do { \
    if (!(expr)) { \
        fprintf(stderr, "%s:%d: property failed: %s (seed %lu, event %d)\n", \
                __FILE__, __LINE__, #expr, run_seed, event_no); \
        exit(1); \
    } } while (0)

static sb_config_t *random_config(void)
{
    sb_config_t *cfg = fx_new();
    int nlang = 2 + pick(2), nskill = 2, npool = 2 + pick(3), nagent = 2 + pick(6);

    for (int i = 0; i < nlang; i++)
        fx_language(cfg, tags[i]);
    for (int i = 0; i < nskill; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", i);
        fx_skill(cfg, id);
    }
    for (int p = 0; p < npool; p++) {
        char id[16];
        snprintf(id, sizeof(id), "p%d", p);
        fx_pool(cfg, id);
        sb_cfg_pool_t *pc = &cfg->pools[p];
        pc->tier = p == 0 && pick(3) == 0 ? 0 : 1 + pick(3);
        pc->strategy = (sb_strategy_t)pick(4);
        pc->accept = pick(2) ? SB_ACCEPT_OFFER : SB_ACCEPT_DIRECT;
        pc->offer_timeout_s = 1 + pick(20);
        if (pick(2)) {
            pc->max_wait_s = 5 + pick(100);
            pc->overflow = pick(npool);
        }
        pc->escalate_to = pick(3) ? pick(npool) : -1;
        pc->sla_first_response_s = 10 + pick(60);
        if (pick(2)) {
            fx_step(cfg, p, 5 + pick(20), 1 + pick(3));
            if (pick(2))
                fx_step(cfg, p, 30 + pick(30), 1 + pick(3));
        }
    }
    for (int t = 0; t < 3; t++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", t);
        int ti = fx_topic(cfg, id, pick(npool), pick(3) ? 0 : pick(5));
        if (pick(2))
            fx_topic_skill(cfg, ti, pick(nskill), 1 + pick(8));
    }
    cfg->default_pool = pick(npool);
    cfg->default_language = pick(nlang);
    cfg->detect_language = pick(3) != 0;
    cfg->wrap_up_s = pick(3) ? 0 : pick(20);
    cfg->agent_grace_s = pick(3) ? pick(40) : 0;
    cfg->max_missed_offers = pick(4);
    cfg->esc_max_per_conversation = pick(5);
    cfg->esc_bot_fallbacks = pick(4);
    for (int a = 0; a < nagent; a++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", a);
        int ai = fx_agent(cfg, id, NULL, pick(5) == 0 ? SB_ROLE_BOT : SB_ROLE_AGENT,
                          pick(4), pick(3) ? 0 : 1 + pick(2));
        int np = 1 + pick(2);
        for (int k = 0; k < np; k++)
            fx_agent_pool(cfg, ai, pick(npool));
        for (int l = 0; l < nlang; l++)
            if (pick(3))
                fx_agent_lang(cfg, ai, l, pick(11));
        for (int s = 0; s < nskill; s++)
            fx_agent_skill(cfg, ai, s, pick(11));
    }
    return cfg;
}

typedef struct check_queue {
    const core_qnode_t *prev;
    size_t count;
} check_queue_t;

static int check_order(core_qnode_t *n, void *ctx)
{
    check_queue_t *cq = ctx;
    if (cq->prev)
        PCHECK(core__queue_cmp(cq->prev, n) < 0);
    cq->prev = n;
    cq->count++;
    return 0;
}

static void check_invariants(sb_core_t *core)
{
    const sb_config_t *cfg = core->cfg;
    size_t queued = 0, in_queues = 0;
    int *offers = calloc(core->npools, sizeof(int));
    int *online_chat = calloc(core->npools, sizeof(int));

    for (size_t i = 0; i < core->nagents; i++) {
        agent_ext_t *a = core->agents[i];
        int chat = 0, voice = 0;
        PCHECK(a->pub.active_chat >= 0 && a->pub.active_voice >= 0);
        PCHECK(a->pub.index == (int)i && a->pub.cfg == &cfg->agents[i]);
        PCHECK(!a->removed && sb_core_agent_find(core, a->pub.cfg->id) == &a->pub);
        PCHECK(a->pub.active_chat <= allow_chat[i]);
        PCHECK(a->pub.active_voice <= allow_voice[i]);
        allow_chat[i] = a->pub.active_chat > a->pub.cfg->cap_chat ? a->pub.active_chat
                                                                   : a->pub.cfg->cap_chat;
        allow_voice[i] = a->pub.active_voice > a->pub.cfg->cap_voice ? a->pub.active_voice
                                                                      : a->pub.cfg->cap_voice;
        for (size_t k = 0; k < a->nconvs; k++) {
            sb_conv_t *c = a->convs[k];
            PCHECK(c->agent == &a->pub);
            PCHECK(c->state == SB_CONV_OFFERED || c->state == SB_CONV_ASSIGNED ||
                   c->state == SB_CONV_BOT);
            PCHECK((c->state == SB_CONV_BOT) == (a->pub.cfg->role == SB_ROLE_BOT) ||
                   c->state == SB_CONV_OFFERED);
            for (size_t j = 0; j < k; j++)
                PCHECK(a->convs[j] != c);
            if (c->media == SB_MEDIA_VOICE)
                voice++;
            else
                chat++;
        }
        for (size_t k = 0; k < a->nwraps; k++) {
            if (a->wraps[k].media == SB_MEDIA_VOICE)
                voice++;
            else
                chat++;
        }
        PCHECK(chat == a->pub.active_chat);
        PCHECK(voice == a->pub.active_voice);
        PCHECK(a->online == (a->pub.state == SB_AGENT_AVAILABLE && a->pub.connected));
        if (a->online)
            for (size_t k = 0; k < a->pub.cfg->npools; k++)
                online_chat[a->pub.cfg->pools[k]] += a->pub.cfg->cap_chat;
    }
    for (size_t i = 0; i < core->convs.cap; i++) {
        sb_map_slot_t *s = &core->convs.slots[i];
        conv_ext_t *cx;
        sb_conv_t *c;
        if (!s->key || !s->value)
            continue;
        cx = s->value;
        c = &cx->pub;
        PCHECK(c->state != SB_CONV_CLOSED);
        PCHECK(c->last_seq == c->nmsgs);
        PCHECK(cx->lang_hold == core__timer_armed(&cx->t_lang));
        if (cx->lang_hold)
            PCHECK(c->state == SB_CONV_QUEUED && cx->lang_auto && c->media == SB_MEDIA_CHAT &&
                   cfg->detect_language);
        if (declared[atoi(c->id + 1)])
            PCHECK(!fx_has_event(c, SB_EV_LANGUAGE));
        switch (c->state) {
        case SB_CONV_QUEUED:
            queued++;
            PCHECK(c->agent == NULL);
            PCHECK(cx->queued_pool == c->pool);
            PCHECK(cx->qnode.queued);
            PCHECK(core__queue_rank(&core->pools[c->pool].queue, &cx->qnode) > 0);
            PCHECK(cx->lnode.queued);
            PCHECK(core__queue_rank(&core->pools[c->pool].lqueue[CORE_LQ(c->language, c->media)],
                                    &cx->lnode) > 0);
            break;
        case SB_CONV_OFFERED:
            offers[c->pool]++;
            PCHECK(core__timer_armed(&cx->t_offer));
            /* fallthrough */
        case SB_CONV_ASSIGNED:
        case SB_CONV_BOT: {
            agent_ext_t *a = core__ax(c->agent);
            int held = 0;
            PCHECK(c->agent);
            PCHECK(cx->queued_pool < 0);
            for (size_t k = 0; k < core->nagents; k++)
                for (size_t j = 0; j < core->agents[k]->nconvs; j++)
                    if (core->agents[k]->convs[j] == c) {
                        PCHECK(core->agents[k] == a);
                        held++;
                    }
            PCHECK(held == 1);
            break;
        }
        default:
            PCHECK(0);
        }
    }
    for (size_t p = 0; p < core->npools; p++) {
        check_queue_t cq = { NULL, 0 };
        core__queue_walk(&core->pools[p].queue, check_order, &cq);
        PCHECK(cq.count == core__queue_length(&core->pools[p].queue));
        in_queues += cq.count;
        PCHECK(offers[p] == core->pools[p].offers_pending);
        /* the language queues split the pool's queue exactly, in order */
        size_t split = 0;
        for (size_t l = 0; l < cfg->nlanguages * 2; l++) {
            check_queue_t lq = { NULL, 0 };
            core__queue_walk(&core->pools[p].lqueue[l], check_order, &lq);
            PCHECK(lq.count == core__queue_length(&core->pools[p].lqueue[l]));
            split += lq.count;
        }
        PCHECK(split == cq.count);
        /* ready buckets: exactly the members online with a free slot that
         * speak the language (once per time the agent lists the pool), in
         * order of (key, agent): idle_since in longest_idle pools, else 0 */
        for (size_t l = 0; l < cfg->nlanguages; l++) {
            const core_bucket_t *b = &core->pools[p].ready[l];
            bool by_idle = cfg->pools[p].strategy == SB_STRATEGY_LONGEST_IDLE;
            size_t expect = 0;
            for (size_t i = 0; i < core->nagents; i++) {
                const agent_ext_t *a = core->agents[i];
                const sb_agent_t *pa = &a->pub;
                bool ready = pa->state == SB_AGENT_AVAILABLE && pa->connected &&
                             (pa->active_chat < pa->cfg->cap_chat ||
                              pa->active_voice < pa->cfg->cap_voice) &&
                             pa->cfg->languages[l] > 0;
                PCHECK(a->indexed == (pa->state == SB_AGENT_AVAILABLE && pa->connected &&
                                      (pa->active_chat < pa->cfg->cap_chat ||
                                       pa->active_voice < pa->cfg->cap_voice)));
                size_t listed = 0, found = 0;
                for (size_t k = 0; k < pa->cfg->npools; k++)
                    listed += pa->cfg->pools[k] == (int)p && ready;
                for (size_t j = 0; j < b->n; j++)
                    if (b->e[j].agent == (int)i) {
                        found++;
                        PCHECK(b->e[j].key == (by_idle ? pa->idle_since : 0));
                    }
                PCHECK(found == listed);
                expect += listed;
            }
            PCHECK(b->n == expect);
            for (size_t j = 1; j < b->n; j++)
                PCHECK(b->e[j - 1].key < b->e[j].key ||
                       (b->e[j - 1].key == b->e[j].key && b->e[j - 1].agent <= b->e[j].agent));
        }
        PCHECK(online_chat[p] == core->pools[p].online_chat);
    }
    PCHECK(in_queues == queued);
    for (const agent_ext_t *a = core->removed; a; a = a->next_removed)
        PCHECK(a->removed && !a->nconvs && !a->indexed && !a->online &&
               a->pub.state == SB_AGENT_OFFLINE && !a->pub.connected);
    free(offers);
    free(online_chat);
}

/* A random open conversation (by a random id ever opened), or NULL. */
static sb_conv_t *any_conv(sb_core_t *core, int opened)
{
    char id[16];
    if (!opened)
        return NULL;
    snprintf(id, sizeof(id), "c%d", pick(opened));
    return sb_core_conv_find(core, id);
}

/* A conversation held by an agent in the given state, or any. */
static sb_conv_t *held_conv(sb_core_t *core, sb_conv_state_t state)
{
    int start = pick((int)core->nagents);
    for (size_t n = 0; n < core->nagents; n++) {
        agent_ext_t *a = core->agents[(start + n) % core->nagents];
        for (size_t k = 0; k < a->nconvs; k++)
            if (a->convs[k]->state == state)
                return a->convs[k];
    }
    return NULL;
}

static void allow_reset(const sb_core_t *core)
{
    free(allow_chat);
    free(allow_voice);
    allow_chat = calloc(core->nagents + 1, sizeof(int));
    allow_voice = calloc(core->nagents + 1, sizeof(int));
    for (size_t i = 0; i < core->nagents; i++) {
        allow_chat[i] = core->agents[i]->pub.cfg->cap_chat;
        allow_voice[i] = core->agents[i]->pub.cfg->cap_voice;
    }
}

/* Switches the core to cfg and checks what a reconfiguration promises about
 * agents: kept ones are the same objects, in the new order, with no more
 * than before above their new capacity; removed ones wait for the clear. */
static int reload(sb_core_t *core, const sb_config_t *cfg, sb_ms_t now)
{
    size_t n = core->nagents;
    agent_ext_t **before = malloc((n + 1) * sizeof(*before));
    int *chat = malloc((n + 1) * sizeof(int)), *voice = malloc((n + 1) * sizeof(int));
    char **ids = malloc((n + 1) * sizeof(char *));
    int rc;

    for (size_t i = 0; i < n; i++) {
        before[i] = core->agents[i];
        chat[i] = before[i]->pub.active_chat;
        voice[i] = before[i]->pub.active_voice;
        ids[i] = strdup(before[i]->pub.cfg->id);
    }
    rc = sb_core_reconfigure(core, cfg, now);
    PCHECK(rc == SB_OK);
    PCHECK(sb_core_agent_count(core) == cfg->nagents);
    allow_reset(core);
    for (size_t i = 0; i < n; i++) {
        int j = sb_config_agent(cfg, ids[i]);
        if (j < 0) {
            bool listed = false;
            for (agent_ext_t *r = core->removed; r; r = r->next_removed)
                listed |= r == before[i];
            PCHECK(listed && before[i]->removed);
            PCHECK(sb_core_agent_find(core, ids[i]) == NULL);
            PCHECK(fx_count(core, SB_ACT_AGENT_STATE, NULL, &before[i]->pub) >= 1);
        } else {
            agent_ext_t *a = core->agents[j];
            PCHECK(a == before[i]);
            PCHECK(a->pub.active_chat <= (chat[i] > a->pub.cfg->cap_chat ? chat[i]
                                                                          : a->pub.cfg->cap_chat));
            PCHECK(a->pub.active_voice <= (voice[i] > a->pub.cfg->cap_voice
                                               ? voice[i] : a->pub.cfg->cap_voice));
            if (a->pub.active_chat > allow_chat[j])
                allow_chat[j] = a->pub.active_chat;
            if (a->pub.active_voice > allow_voice[j])
                allow_voice[j] = a->pub.active_voice;
        }
        free(ids[i]);
    }
    free(ids);
    free(before);
    free(chat);
    free(voice);
    return rc;
}

static void one_run(unsigned long seed, int events)
{
    sb_config_t *cfgs[2], *cfg;
    sb_core_t *core;
    sb_ms_t now = 1000000;
    int opened = 0;

    run_seed = seed;
    rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    cfgs[0] = random_config();
    cfgs[1] = random_config();
    cfg = cfgs[0];
    core = sb_core_new(cfg);
    allow_reset(core);
    for (event_no = 0; event_no < events; event_no++) {
        sb_agent_t *a = sb_core_agent_at(core, (size_t)pick((int)core->nagents));
        sb_conv_t *c = NULL;
        uint64_t seq;
        int rc = SB_OK, kind = pick(100);
        bool ticked = false;
        size_t before;

        sb_core_actions(core, &before);
        if (kind < 18) {
            sb_conv_spec_t spec;
            char id[16], lang[8], topic[8];
            int err;
            memset(&spec, 0, sizeof(spec));
            snprintf(id, sizeof(id), "c%d", opened++);
            snprintf(lang, sizeof(lang), "%s", tags[pick(4)]);
            snprintf(topic, sizeof(topic), "t%d", pick(4));
            spec.id = id;
            spec.language = pick(2) ? lang : NULL;
            spec.first_text = pick(3) ? NULL : texts[pick((int)NTEXTS)];
            spec.topic = pick(2) ? topic : NULL;
            spec.pool = pick(4) ? -1 : pick((int)cfg->npools);
            spec.media = pick(5) ? SB_MEDIA_CHAT : SB_MEDIA_VOICE;
            if ((size_t)opened > declared_cap) {
                declared_cap = declared_cap ? declared_cap * 2 : 256;
                declared = realloc(declared, declared_cap);
            }
            declared[opened - 1] = sb_config_language(cfg, spec.language) >= 0;
            c = sb_core_conv_open(core, &spec, now, &err);
            if (!c)
                rc = err;
        } else if (kind < 28) {
            rc = sb_core_agent_connect(core, a, now);
        } else if (kind < 40) {
            rc = sb_core_agent_status(core, a, (sb_agent_state_t)pick(3), now);
        } else if (kind < 44) {
            rc = sb_core_agent_disconnect(core, a, now);
        } else if (kind < 50) {
            c = pick(4) ? held_conv(core, SB_CONV_OFFERED) : any_conv(core, opened);
            if (c)
                rc = sb_core_agent_accept(core, pick(4) ? c->agent ? c->agent : a : a, c, now);
        } else if (kind < 53) {
            c = held_conv(core, SB_CONV_OFFERED);
            if (c)
                rc = sb_core_agent_decline(core, pick(5) ? c->agent : a, c, now);
        } else if (kind < 60) {
            c = any_conv(core, opened);
            if (c && pick(8) == 0)  /* the outbox gave up on a platform message */
                rc = sb_core_conv_record(core, c, SB_EV_DELIVERY_FAILED, "gave up", now);
            else if (c)
                rc = sb_core_customer_message(core, c, texts[pick((int)NTEXTS)], now, &seq);
        } else if (kind < 67) {
            c = pick(3) ? held_conv(core, pick(2) ? SB_CONV_ASSIGNED : SB_CONV_BOT)
                        : any_conv(core, opened);
            if (c)
                rc = sb_core_agent_message(core, pick(5) && c->agent ? c->agent : a, c, "ok",
                                           pick(2), now, &seq);
        } else if (kind < 74) {
            c = pick(3) ? held_conv(core, SB_CONV_ASSIGNED) : any_conv(core, opened);
            if (c)
                rc = sb_core_agent_close(core, pick(5) && c->agent ? c->agent : a, c, NULL, now);
        } else if (kind < 78) {
            c = any_conv(core, opened);
            if (c)
                rc = sb_core_customer_close(core, c, now);
        } else if (kind < 82) {
            c = held_conv(core, SB_CONV_ASSIGNED);
            if (c) {
                sb_skill_req_t sk[] = { { pick((int)cfg->nskills), pick(6) } };
                bool with_skills = pick(2);
                rc = sb_core_agent_transfer(core, pick(5) ? c->agent : a, c,
                                            pick(3) ? pick((int)cfg->npools) : -1,
                                            pick(3) ? NULL : a, with_skills ? sk : NULL,
                                            with_skills ? 1 : 0, "note", now);
                if (rc == SB_EINVAL)
                    PCHECK(0);
            }
        } else if (kind < 85) {
            c = held_conv(core, SB_CONV_ASSIGNED);
            if (c)
                rc = sb_core_agent_escalate(core, c->agent, c, NULL, now);
        } else if (kind < 87) {
            c = any_conv(core, opened);
            if (c)
                rc = sb_core_customer_escalate(core, c, NULL, now);
        } else if (kind < 88) {
            c = any_conv(core, opened);
            if (c)
                rc = sb_core_conv_escalate(core, c, (sb_esc_kind_t)pick(2),
                                           pick(2) ? pick((int)cfg->npools) : -1, "phrase", now);
        } else if (kind < 89) {
            /* SIGHUP: the other configuration */
            cfg = cfg == cfgs[0] ? cfgs[1] : cfgs[0];
            rc = reload(core, cfg, now);
        } else {
            /* time passes: fire what is due, sometimes past several deadlines */
            ticked = true;
            sb_ms_t next = sb_core_next_deadline(core);
            if (next != SB_NEVER && pick(2))
                now = next > now ? next : now;
            else
                now += pick(3) ? pick(3000) : pick(60000);
            sb_core_tick(core, now);
        }
        if (rc != SB_OK) {
            size_t after;
            sb_core_actions(core, &after);
            PCHECK(after == before);
        }
        PCHECK(sb_core_next_deadline(core) == SB_NEVER || sb_core_next_deadline(core) > now ||
               !ticked);
        check_invariants(core);
        {
            size_t n;
            const sb_action_t *acts = sb_core_actions(core, &n);
            for (size_t i = before < n ? before : 0; i < n; i++) {
                seen[acts[i].kind]++;
                if (acts[i].kind == SB_ACT_EVENT)
                    seen_ev[acts[i].conv->history[acts[i].index].kind]++;
            }
        }
        if (pick(4))
            sb_core_actions_clear(core);
        now += pick(300);
    }
    sb_core_free(core);
    fx_free(cfgs[0]);
    fx_free(cfgs[1]);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3000;
    unsigned long first = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;

    for (int i = 0; i < runs; i++)
        one_run(first + (unsigned long)i, 300);
    free(allow_chat);
    free(allow_voice);
    free(declared);
    /* what the runs exercised, so a generator that stops reaching a path shows */
    fprintf(stderr, "actions:");
    for (int k = 0; k <= SB_ACT_AGENT_STATE; k++)
        fprintf(stderr, " %d:%lu", k, seen[k]);
    fprintf(stderr, "\nevents:");
    for (int k = 0; k < SB_EV__COUNT; k++)
        fprintf(stderr, " %s:%lu", sb_event_name((sb_event_kind_t)k), seen_ev[k]);
    fprintf(stderr, "\n");
    for (int k = 0; k < SB_EV__COUNT; k++)
        CHECK(seen_ev[k] > 0);
    fprintf(stderr, "test_core_property: %d runs ok\n", runs);
    return 0;
}
