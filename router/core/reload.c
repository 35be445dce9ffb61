/*
 * reload.c - switching the core to a new configuration (SIGHUP) without
 * dropping anything (see sb_core_reconfigure in core.h).
 *
 * Everything the core keeps by index (pools, languages, skills, topics,
 * agents) is matched by id or name between the old configuration and the new
 * one and renumbered; what is gone is let go of in the gentlest way there is:
 *  - an agent that stays keeps its object (the hub holds pointers to it), its
 *    state, connection, held conversations, wrap-ups, timers and idle time;
 *    its cfg and index follow the new file;
 *  - a removed agent's offers are withdrawn (history `declined`, reason
 *    "agent_removed") and its conversations requeued at the front of their
 *    pools (history `requeued`, reason "agent_removed"); it gets
 *    AGENT_STATE "removed" and is freed at the next actions clear;
 *  - a conversation whose pool is gone moves to the new default_pool
 *    (history `transferred`, reason "pool_removed"; a waiting customer gets
 *    TRANSFERRING); whose language is gone takes the default language; whose
 *    topic is gone has none; a required skill that is gone is dropped.
 * Pool figures (round-robin cursor, handle times, served, SLA counts) stay
 * with pools that stay. Queues and ready indexes are rebuilt, wait timers
 * re-armed from the new pools' steps and max wait (from the start of each
 * conversation's current wait; steps already applied count), offers keep
 * their deadlines. Then every waiting conversation, best first, looks for an
 * agent (new capacity, members, languages or skills may fit it now), and
 * queue notices go out as after any event.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Old index -> new index, -1 when gone. */
typedef struct remap {
    int *pool, *language, *skill, *topic;
    size_t npool, nlanguage, nskill, ntopic;
} remap_t;

static int idx(const int *map, size_t n, int i)
{
    return i >= 0 && (size_t)i < n ? map[i] : -1;
}

static void remap_build(remap_t *m, const sb_config_t *old, const sb_config_t *cfg)
{
    m->npool = old->npools;
    m->nlanguage = old->nlanguages;
    m->nskill = old->nskills;
    m->ntopic = old->ntopics;
    m->pool = sb_calloc(m->npool + 1, sizeof(int));
    m->language = sb_calloc(m->nlanguage + 1, sizeof(int));
    m->skill = sb_calloc(m->nskill + 1, sizeof(int));
    m->topic = sb_calloc(m->ntopic + 1, sizeof(int));
    for (size_t i = 0; i < m->npool; i++)
        m->pool[i] = sb_config_pool(cfg, old->pools[i].id);
    for (size_t i = 0; i < m->nlanguage; i++)
        m->language[i] = sb_config_language(cfg, old->languages[i]);
    for (size_t i = 0; i < m->nskill; i++)
        m->skill[i] = sb_config_skill(cfg, old->skills[i]);
    for (size_t i = 0; i < m->ntopic; i++)
        m->topic[i] = sb_config_topic(cfg, old->topics[i].id);
}

static void remap_free(remap_t *m)
{
    free(m->pool);
    free(m->language);
    free(m->skill);
    free(m->topic);
}

/*
 * Renumbers conv (and its history) for the new configuration. A pool that
 * is gone becomes the default pool (*pool_gone set; the caller records the
 * move), a language that is gone the default language, a topic that is gone
 * none, a skill that is gone is dropped. Returns true when something the
 * store keeps changed (not only an index).
 */
static bool remap_conv(const remap_t *m, const sb_config_t *cfg, sb_conv_t *c,
                       bool *pool_gone)
{
    conv_ext_t *cx = core__cx(c);
    bool changed = false;
    int v;
    size_t n = 0;

    v = idx(m->pool, m->npool, c->pool);
    *pool_gone = v < 0;
    c->pool = v < 0 ? cfg->default_pool : v;
    v = idx(m->language, m->nlanguage, c->language);
    if (v < 0) {
        v = cfg->default_language;
        changed = true;
    }
    c->language = v;
    if (c->topic >= 0) {
        c->topic = idx(m->topic, m->ntopic, c->topic);
        changed |= c->topic < 0;
    }
    for (size_t i = 0; i < c->nskills; i++) {
        v = idx(m->skill, m->nskill, c->skills[i].skill);
        if (v < 0) {
            changed = true;
            continue;
        }
        c->skills[n].skill = v;
        c->skills[n++].level = c->skills[i].level;
    }
    c->nskills = n;
    if (!n) {
        free(c->skills);
        c->skills = NULL;
    }
    for (size_t i = 0; i < c->nhistory; i++) {
        c->history[i].pool = idx(m->pool, m->npool, c->history[i].pool);
        c->history[i].from_pool = idx(m->pool, m->npool, c->history[i].from_pool);
    }
    cx->notified_pool = idx(m->pool, m->npool, cx->notified_pool);
    return changed;
}

/* Queue order (queue.h) of two conversations, from their fields. */
static int cmp_queue(const void *pa, const void *pb)
{
    const conv_ext_t *a = *(conv_ext_t *const *)pa, *b = *(conv_ext_t *const *)pb;

    if (a->qnode.front != b->qnode.front)
        return a->qnode.front > b->qnode.front ? -1 : 1;
    if (a->pub.priority != b->pub.priority)
        return a->pub.priority > b->pub.priority ? -1 : 1;
    if (a->pub.arrival != b->pub.arrival)
        return a->pub.arrival < b->pub.arrival ? -1 : 1;
    return a->ticket < b->ticket ? -1 : a->ticket > b->ticket;
}

static int cmp_ticket(const void *pa, const void *pb)
{
    const conv_ext_t *a = *(conv_ext_t *const *)pa, *b = *(conv_ext_t *const *)pb;
    return a->ticket < b->ticket ? -1 : a->ticket > b->ticket;
}

/* The open conversations, oldest first (new array, *n set). */
static conv_ext_t **open_convs(sb_core_t *core, size_t *n)
{
    conv_ext_t **v = sb_malloc((core->convs.count + 1) * sizeof(*v));

    *n = 0;
    for (size_t i = 0; i < core->convs.cap; i++) {
        sb_map_slot_t *s = &core->convs.slots[i];
        if (s->key && s->value)
            v[(*n)++] = s->value;
    }
    qsort(v, *n, sizeof(*v), cmp_ticket);
    return v;
}

/* The new index of the round-robin cursor `cursor` (an old agent index):
 * that agent's, or, when it was removed, the nearest kept agent before it
 * in the old order; -1 when none. */
static int cursor_remap(agent_ext_t *const *old_agents, int cursor)
{
    for (int i = cursor; i >= 0; i--)
        if (!old_agents[i]->removed)
            return old_agents[i]->pub.index;
    return -1;
}

/* conv, whose pool is gone, is now in the default pool: it waits there from
 * now (history `transferred`, reason "pool_removed"; TRANSFERRING to a
 * customer still waiting). An assigned conversation stays with its agent. */
static void pool_removed(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    core_tpl_var_t vars[] = { { "pool", core->cfg->pools[conv->pool].id } };
    sb_action_t *act;

    conv->entered_pool_at = now;
    core__event(core, conv, SB_EV_TRANSFERRED, -1, NULL, "functional", "pool_removed", NULL,
                now);
    if (conv->state != SB_CONV_QUEUED && conv->state != SB_CONV_OFFERED)
        return;
    conv->relaxed = 0;
    conv->bot_fallbacks = 0;
    cx->wait_since = now;
    cx->next_step = 0;
    cx->qnode.front = 0;
    act = core__act(core, SB_ACT_TRANSFERRING, conv, NULL);
    act->esc_kind = "functional";
    act->text = core__text(core, conv, SB_TPL_TRANSFERRING, vars, 1);
}

/* A removed agent lets go of everything: AGENT_STATE "removed", offers
 * withdrawn (`declined`), assigned conversations requeued at the front
 * (`requeued`), both with reason "agent_removed". The conversations are left
 * out of every queue, listed in fresh to be routed like arrivals. */
static void agent_removed(sb_core_t *core, agent_ext_t *a, conv_ext_t **fresh,
                          size_t *nfresh, sb_ms_t now)
{
    core__timer_cancel(&core->timers, &a->t_grace);
    core__timer_cancel(&core->timers, &a->t_wrap);
    a->pub.state = SB_AGENT_OFFLINE;
    a->pub.connected = false;
    a->online = false;
    a->indexed = false;
    a->removed = true;
    a->nwraps = 0;
    core__act(core, SB_ACT_AGENT_STATE, NULL, &a->pub)->reason = "removed";
    while (a->nconvs) {
        sb_conv_t *c = a->convs[0];
        conv_ext_t *cx = core__cx(c);
        if (c->state == SB_CONV_OFFERED) {
            core__timer_cancel(&core->timers, &cx->t_offer);
            core__agent_unhold(a, c);
            c->agent = NULL;
            c->state = SB_CONV_QUEUED;
            core__event(core, c, SB_EV_DECLINED, -1, a->pub.cfg->id, NULL, "agent_removed",
                        NULL, now);
        } else {
            core__requeue_detach(core, c, a, "agent_removed", now);
        }
        fresh[(*nfresh)++] = cx;
    }
    a->pub.active_chat = a->pub.active_voice = 0;
    a->next_removed = core->removed;
    core->removed = a;
}

int sb_core_reconfigure(sb_core_t *core, const sb_config_t *cfg, sb_ms_t now)
{
    const sb_config_t *old;
    remap_t m;
    agent_ext_t **agents, **old_agents;
    size_t nold_agents, nconvs, nfresh = 0, nwait = 0;
    sb_map_t ids;
    pool_state_t *pools;
    conv_ext_t **convs, **fresh, **wait;

    if (!core || !cfg)
        return SB_EINVAL;
    old = core->cfg;
    core__enter(core);
    remap_build(&m, old, cfg);

    /* 1. Out of the old indexes: every queue is rebuilt, wait timers re-armed. */
    convs = open_convs(core, &nconvs);
    for (size_t i = 0; i < nconvs; i++) {
        conv_ext_t *cx = convs[i];
        cx->queued_pool = -1;
        cx->qnode.queued = cx->lnode.queued = 0;
        core__timer_cancel(&core->timers, &cx->t_step);
        core__timer_cancel(&core->timers, &cx->t_maxwait);
    }
    for (size_t p = 0; p < core->npools; p++)
        core__timer_cancel(&core->timers, &core->pools[p].t_notice);

    /* 2. Agents, matched by id. */
    agents = sb_calloc(cfg->nagents ? cfg->nagents : 1, sizeof(*agents));
    sb_map_init(&ids);
    core->cfg = cfg;        /* from here on: agents and pools follow cfg */
    for (size_t i = 0; i < cfg->nagents; i++) {
        agent_ext_t *a = sb_map_get(&core->agent_ids, cfg->agents[i].id);
        if (a)
            core__agent_set_cfg(core, a, &cfg->agents[i], (int)i);
        else
            a = core__agent_new(core, &cfg->agents[i], (int)i);
        agents[i] = a;
        sb_map_put(&ids, cfg->agents[i].id, a);
    }
    old_agents = core->agents;
    nold_agents = core->nagents;
    for (size_t i = 0; i < nold_agents; i++) {
        agent_ext_t *a = old_agents[i];
        /* a kept agent's cfg is already the new one, whose id is in ids */
        a->removed = sb_map_get(&ids, a->pub.cfg->id) != a;
    }
    for (size_t i = 0; i < cfg->nagents; i++) {
        agent_ext_t *a = agents[i];
        a->online = a->indexed = false;     /* the buckets are new */
    }

    /* 3. Pools, matched by id: their figures stay. */
    pools = sb_calloc(cfg->npools ? cfg->npools : 1, sizeof(*pools));
    for (size_t p = 0; p < cfg->npools; p++) {
        int op = sb_config_pool(old, cfg->pools[p].id);
        core__pool_init(core, &pools[p], p);
        if (op >= 0) {
            const pool_state_t *o = &core->pools[op];
            pools[p].rr_cursor = o->rr_cursor >= 0 && (size_t)o->rr_cursor < nold_agents
                                     ? cursor_remap(old_agents, o->rr_cursor) : -1;
            pools[p].served = o->served;
            pools[p].sla_total = o->sla_total;
            pools[p].sla_met = o->sla_met;
            pools[p].handle_ema_ms = o->handle_ema_ms;
            pools[p].handle_samples = o->handle_samples;
            pools[p].last_walk = o->last_walk;
        }
    }
    for (size_t p = 0; p < core->npools; p++)
        core__pool_free(&core->pools[p], old->nlanguages);
    free(core->pools);
    core->pools = pools;
    core->npools = cfg->npools;
    free(core->dirty);
    core->dirty = sb_calloc(cfg->npools ? cfg->npools : 1, sizeof(*core->dirty));
    core->ndirty = 0;
    core->agents = agents;
    core->nagents = cfg->nagents;
    sb_map_free(&core->agent_ids);
    core->agent_ids = ids;
    core__topics_index(core);
    core__tpls_reset(core, old->nlanguages);
    core__members_build(core);

    /* 4. Conversations renumbered; those whose pool is gone move. */
    for (size_t i = 0; i < core->nactions; i++)
        core->actions[i].pool = idx(m.pool, m.npool, core->actions[i].pool);
    for (conv_ext_t *cx = core->closed; cx; cx = cx->next_closed) {
        bool gone;
        remap_conv(&m, cfg, &cx->pub, &gone);
    }
    fresh = sb_malloc((nconvs + 1) * sizeof(*fresh));
    for (size_t i = 0; i < nconvs; i++) {
        sb_conv_t *c = &convs[i]->pub;
        bool gone;
        if (remap_conv(&m, cfg, c, &gone))
            core__save(core, c);
        if (!cfg->detect_language) {
            /* detection turned off: nothing waits for a first message */
            convs[i]->lang_auto = convs[i]->lang_hold = false;
            core__timer_cancel(&core->timers, &convs[i]->t_lang);
        }
        if (gone) {
            pool_removed(core, c, now);
            if (c->state == SB_CONV_QUEUED)
                fresh[nfresh++] = convs[i];
        } else if (c->state == SB_CONV_QUEUED || c->state == SB_CONV_OFFERED) {
            convs[i]->next_step = core__steps_applied(&cfg->pools[c->pool], c->relaxed);
        }
    }

    /* 5. Agents in the new indexes (online capacity, ready buckets); a
     * conversation held by an agent whose role changed follows it (bot). */
    for (size_t i = 0; i < core->nagents; i++) {
        agent_ext_t *a = core->agents[i];
        sb_conv_state_t held = a->pub.cfg->role == SB_ROLE_BOT ? SB_CONV_BOT : SB_CONV_ASSIGNED;
        for (size_t k = 0; k < a->nconvs; k++) {
            sb_conv_t *c = a->convs[k];
            if (c->state != SB_CONV_OFFERED && c->state != held) {
                c->state = held;
                core__save(core, c);
            }
        }
        core__agent_refresh(core, a);
    }

    /* 6. Removed agents let go of what they held. */
    for (size_t i = 0; i < nold_agents; i++)
        if (old_agents[i]->removed)
            agent_removed(core, old_agents[i], fresh, &nfresh, now);
    free(old_agents);

    /* 7. Back in line: waiting conversations into the new queues (those that
     * moved or were let go are routed like arrivals below), wait timers. */
    wait = sb_malloc((nconvs + 1) * sizeof(*wait));
    for (size_t i = 0; i < nconvs; i++) {
        sb_conv_t *c = &convs[i]->pub;
        if (c->state == SB_CONV_OFFERED)
            core->pools[c->pool].offers_pending++;
        if (c->state != SB_CONV_QUEUED && c->state != SB_CONV_OFFERED)
            continue;
        core__arm_wait_timers(core, c);
        if (c->state != SB_CONV_QUEUED)
            continue;
        wait[nwait++] = convs[i];
    }
    for (size_t i = 0; i < nfresh; i++)
        fresh[i]->queued_pool = -2;     /* mark: not put back silently */
    for (size_t i = 0; i < nwait; i++)
        if (wait[i]->queued_pool == -1)
            core__queue_put(core, &wait[i]->pub);
    for (size_t i = 0; i < nfresh; i++)
        fresh[i]->queued_pool = -1;

    /* 8. Matching, best waiting first: new capacity, members, languages or
     * skills may fit some now. */
    qsort(wait, nwait, sizeof(*wait), cmp_queue);
    for (size_t i = 0; i < nwait; i++) {
        sb_conv_t *c = &wait[i]->pub;
        agent_ext_t *a;
        if (wait[i]->queued_pool < 0) {
            core__route(core, c, NULL, now);
            continue;
        }
        if (!core->pools[c->pool].ready[c->language].n || !(a = core__select(core, c, NULL)))
            continue;
        core__dequeue(core, c);
        core__give(core, c, a, now);
    }

    /* 9. Queue notices, as after any event. */
    for (size_t p = 0; p < core->npools; p++)
        if (core__queue_length(&core->pools[p].queue))
            core__mark_dirty(core, (int)p);
    core__flush_notices(core, now);

    free(wait);
    free(fresh);
    free(convs);
    remap_free(&m);
    return SB_OK;
}
