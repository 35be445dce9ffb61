/*
 * route.c - matching conversations and agents, offers, queues, queue notices
 * and the timers that drive them.
 *
 * Matching runs in two directions:
 *  - a conversation that arrives (or moves, or relaxes) looks for the best
 *    fitting agent of its pool by the pool's strategy (core__select), else
 *    waits in the pool's queue;
 *  - an agent that becomes available or frees a slot takes the best waiting
 *    conversation it fits across all its pools (core__match_agent): requeued
 *    first, then priority, then arrival, repeatedly while it has room.
 * Because both directions run at every change, a queued conversation never
 * has a fitting agent with room at rest.
 *
 * Queue estimate (the QUEUE action's eta_s and the {eta} text):
 *
 *     eta_s = ceil(position * handle_s / max(1, online capacity))
 *
 * where online capacity is the summed chat (or voice) capacity of the pool's
 * members that are available and connected, and handle_s is the pool's
 * measured handle time: an exponential moving average (newest sample weighted
 * 1/5) of assignment -> close durations of conversations served in the pool;
 * routing.default_handle_s while the pool has served none.
 */
#include "internal.h"
#include "template.h"

#include <stdio.h>
#include <string.h>

/* --- fit and selection ------------------------------------------------------ */

static int capacity(const sb_agent_t *a, sb_media_t media)
{
    return media == SB_MEDIA_VOICE ? a->cfg->cap_voice : a->cfg->cap_chat;
}

static int active(const sb_agent_t *a, sb_media_t media)
{
    return media == SB_MEDIA_VOICE ? a->active_voice : a->active_chat;
}

static bool member(const sb_agent_t *a, int pool)
{
    for (size_t k = 0; k < a->cfg->npools; k++)
        if (a->cfg->pools[k] == pool)
            return true;
    return false;
}

/* The agent may take conv in pool now: available and connected, a member,
 * speaks the language, has every required skill at its (relaxed) level and a
 * free slot for the medium. */
bool core__fits(const sb_core_t *core, const sb_agent_t *a, const sb_conv_t *conv, int pool)
{
    if (a->state != SB_AGENT_AVAILABLE || !a->connected)
        return false;
    if (active(a, conv->media) >= capacity(a, conv->media))
        return false;
    if (conv->language < 0 || (size_t)conv->language >= core->cfg->nlanguages ||
        a->cfg->languages[conv->language] == 0)
        return false;
    for (size_t i = 0; i < conv->nskills; i++) {
        int need = conv->skills[i].level - conv->relaxed;
        int s = conv->skills[i].skill;
        if (need <= 0)
            continue;
        if (s < 0 || (size_t)s >= core->cfg->nskills || a->cfg->skills[s] < need)
            return false;
    }
    return member(a, pool);
}

static int skill_sum(const sb_agent_t *a, const sb_conv_t *conv)
{
    int sum = 0;
    for (size_t i = 0; i < conv->nskills; i++)
        sum += a->cfg->skills[conv->skills[i].skill];
    return sum;
}

/* True when a ranks before b (both fit) under the pool's strategy. Every
 * strategy ends in a total order (agent index), so a choice is
 * deterministic. */
static bool better(const sb_core_t *core, int pool, const sb_conv_t *conv,
                   const sb_agent_t *a, const sb_agent_t *b)
{
    const pool_state_t *ps = &core->pools[pool];

    switch (core->cfg->pools[pool].strategy) {
    case SB_STRATEGY_LEAST_BUSY: {
        /* active/capacity, compared without division */
        long long la = (long long)active(a, conv->media) * capacity(b, conv->media);
        long long lb = (long long)active(b, conv->media) * capacity(a, conv->media);
        if (la != lb)
            return la < lb;
        break;
    }
    case SB_STRATEGY_ROUND_ROBIN: {
        /* the next index after the pool's cursor, wrapping */
        long long n = (long long)core->nagents;
        long long da = ((long long)a->index - ps->rr_cursor - 1 + n) % n;
        long long db = ((long long)b->index - ps->rr_cursor - 1 + n) % n;
        return da < db;
    }
    case SB_STRATEGY_BEST_SKILL: {
        int sa = skill_sum(a, conv), sb = skill_sum(b, conv);
        if (sa != sb)
            return sa > sb;
        if (a->cfg->languages[conv->language] != b->cfg->languages[conv->language])
            return a->cfg->languages[conv->language] > b->cfg->languages[conv->language];
        break;
    }
    case SB_STRATEGY_LONGEST_IDLE:
    default:
        break;
    }
    if (a->idle_since != b->idle_since)
        return a->idle_since < b->idle_since;
    return a->index < b->index;
}

/* What conv needs of an agent now: each required skill at its level minus
 * the relaxation, those still above 0. */
typedef struct needs {
    const sb_conv_t *conv;
    int media;                  /* 0 chat, 1 voice */
    size_t n;
    bool impossible;            /* a skill this configuration does not have */
    sb_skill_req_t req[8];
    const sb_skill_req_t *more; /* more than 8: conv->skills, checked as in core__fits */
} needs_t;

static void needs_of(const sb_core_t *core, const sb_conv_t *conv, needs_t *nd)
{
    nd->conv = conv;
    nd->media = conv->media == SB_MEDIA_VOICE;
    nd->n = 0;
    nd->impossible = false;
    nd->more = NULL;
    for (size_t i = 0; i < conv->nskills; i++) {
        int need = conv->skills[i].level - conv->relaxed;
        int s = conv->skills[i].skill;
        if (need <= 0)
            continue;
        if (s < 0 || (size_t)s >= core->cfg->nskills) {
            nd->impossible = true;
            return;
        }
        if (nd->n == 8) {
            nd->more = conv->skills;    /* every skill is valid: checked in full */
            continue;
        }
        nd->req[nd->n].skill = s;
        nd->req[nd->n++].level = need;
    }
}

/* Whether the agent of e, from the ready bucket of conv's pool and language
 * (so available, connected, a member, speaking the language), fits: every
 * required skill at its relaxed level and a free slot for the medium. The
 * skills are checked first, from the entry, since most agents fail there. */
static inline bool ready_fits(const core_ready_t *e, const needs_t *nd)
{
    const sb_agent_t *a;

    if (nd->impossible)
        return false;
    if (nd->more) {
        for (size_t i = 0; i < nd->conv->nskills; i++) {
            int need = nd->conv->skills[i].level - nd->conv->relaxed;
            if (need > 0 && e->skills[nd->conv->skills[i].skill] < need)
                return false;
        }
    } else {
        for (size_t i = 0; i < nd->n; i++) {
            int s = nd->req[i].skill;
            if (!(e->has[(s / 64) & 1] & (1ULL << (s % 64))) ||
                e->skills[s] < nd->req[i].level)
                return false;
        }
    }
    a = &e->ax->pub;
    return (nd->media ? a->active_voice : a->active_chat) < e->cap[nd->media];
}

/* The first entry of b whose agent index is above `after`. */
static size_t ready_after(const core_bucket_t *b, int after)
{
    size_t lo = 0, hi = b->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->e[mid].agent <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The best fitting agent for conv in its pool, never `exclude`; NULL when
 * none fits or it is held for its language (lang_hold). Looks only at the
 * pool's ready agents speaking the language: longest_idle and round_robin
 * walk them in the strategy's order and stop at the first that fits;
 * least_busy and best_skill compare every one. */
agent_ext_t *core__select(sb_core_t *core, sb_conv_t *conv, const sb_agent_t *exclude)
{
    const core_bucket_t *b;
    agent_ext_t *best = NULL;
    needs_t nd;

    if (conv->language < 0 || (size_t)conv->language >= core->cfg->nlanguages ||
        core__cx(conv)->lang_hold)
        return NULL;
    b = &core->pools[conv->pool].ready[conv->language];
    if (!b->n)
        return NULL;
    needs_of(core, conv, &nd);
    switch (core->cfg->pools[conv->pool].strategy) {
    case SB_STRATEGY_LONGEST_IDLE:
        for (size_t i = 0; i < b->n; i++)
            if (ready_fits(&b->e[i], &nd) && &b->e[i].ax->pub != exclude)
                return b->e[i].ax;
        return NULL;
    case SB_STRATEGY_ROUND_ROBIN: {
        size_t start = ready_after(b, core->pools[conv->pool].rr_cursor);
        for (size_t n = 0; n < b->n; n++) {
            size_t i = start + n < b->n ? start + n : start + n - b->n;
            if (ready_fits(&b->e[i], &nd) && &b->e[i].ax->pub != exclude)
                return b->e[i].ax;
        }
        return NULL;
    }
    default:
        for (size_t i = 0; i < b->n; i++) {
            agent_ext_t *a = b->e[i].ax;
            if (!ready_fits(&b->e[i], &nd) || &a->pub == exclude)
                continue;
            if (!best || better(core, conv->pool, conv, &a->pub, &best->pub))
                best = a;
        }
        return best;
    }
}

/* --- assignment and offers -------------------------------------------------- */

/* Makes a the owner of conv, whose slot a already holds (an accepted offer or
 * a direct assignment): history `assigned`, ASSIGNED to the agent,
 * AGENT_JOINED to the customer. */
void core__assign(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    const char *name = a->pub.cfg->name ? a->pub.cfg->name : a->pub.cfg->id;
    core_tpl_var_t vars[] = {
        { "agent", name },
        { "pool", core->cfg->pools[conv->pool].id },
    };
    sb_action_t *act;

    conv->state = a->pub.cfg->role == SB_ROLE_BOT ? SB_CONV_BOT : SB_CONV_ASSIGNED;
    conv->agent = &a->pub;
    a->pub.idle_since = now;
    core__agent_rekey(core, a);
    cx->assigned_at = now;
    cx->ever_assigned = true;
    cx->qnode.front = 0;
    core__timer_cancel(&core->timers, &cx->t_step);
    core__timer_cancel(&core->timers, &cx->t_maxwait);
    core__event(core, conv, SB_EV_ASSIGNED, -1, a->pub.cfg->id, NULL, NULL, NULL, now);
    core__act(core, SB_ACT_ASSIGNED, conv, &a->pub);
    act = core__act(core, SB_ACT_AGENT_JOINED, conv, NULL);
    act->text = core__text(core, conv, SB_TPL_AGENT_JOINED, vars, 2);
}

/* Gives conv (in no queue) to a, which fits it: a takes a slot, then the
 * pool's accept mode decides between a direct assignment and an offer. */
void core__give(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    const sb_cfg_pool_t *pc = &core->cfg->pools[conv->pool];
    pool_state_t *ps = &core->pools[conv->pool];

    core__slot_take(core, a, conv->media);
    core__agent_hold(a, conv);
    ps->rr_cursor = a->pub.index;
    cx->lang_auto = false;      /* an agent has it in this language now */
    if (pc->accept == SB_ACCEPT_OFFER) {
        sb_ms_t ms = (sb_ms_t)pc->offer_timeout_s * 1000;
        conv->state = SB_CONV_OFFERED;
        conv->agent = &a->pub;
        ps->offers_pending++;
        core__event(core, conv, SB_EV_OFFERED, -1, a->pub.cfg->id, NULL, NULL, NULL, now);
        core__act(core, SB_ACT_OFFER, conv, &a->pub)->expires_in_ms = ms;
        core__timer_arm(&core->timers, &cx->t_offer, now + ms);
    } else {
        core__assign(core, conv, a, now);
    }
}

/* Frees the slot a held for conv: at once, or after routing.wrap_up_s when
 * wrap_up (a closed assignment). Does not re-run matching. */
void core__release_slot(sb_core_t *core, agent_ext_t *a, sb_conv_t *conv, bool wrap_up,
                        sb_ms_t now)
{
    core__agent_unhold(a, conv);
    if (wrap_up && core->cfg->wrap_up_s > 0) {
        sb_ms_t at = now + (sb_ms_t)core->cfg->wrap_up_s * 1000;
        size_t i;
        if (a->nwraps == a->wraps_cap) {
            a->wraps_cap = a->wraps_cap ? a->wraps_cap * 2 : 4;
            a->wraps = sb_realloc(a->wraps, a->wraps_cap * sizeof(*a->wraps));
        }
        for (i = a->nwraps; i > 0 && a->wraps[i - 1].at > at; i--)
            a->wraps[i] = a->wraps[i - 1];
        a->wraps[i].at = at;
        a->wraps[i].media = conv->media;
        a->nwraps++;
        core__timer_arm(&core->timers, &a->t_wrap, a->wraps[0].at);
        return;
    }
    core__slot_free(core, a, conv->media);
}

/* An offer that ended without acceptance (declined, expired, withdrawn):
 * history `kind` with reason, RELEASED "offer_expired" to the agent when
 * released, a missed offer counted on expiry (max_missed_offers in a row:
 * the agent is set away), then the conversation goes to another fitting agent
 * or back to its place in the queue, and the agent's freed slot is matched
 * with anything else. */
void core__offer_failed(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind,
                        const char *reason, bool released, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    agent_ext_t *a = core__ax(conv->agent);

    core__timer_cancel(&core->timers, &cx->t_offer);
    core->pools[conv->pool].offers_pending--;
    core__release_slot(core, a, conv, false, now);
    conv->agent = NULL;
    conv->state = SB_CONV_QUEUED;
    core__event(core, conv, kind, -1, a->pub.cfg->id, NULL, reason, NULL, now);
    if (released)
        core__act(core, SB_ACT_RELEASED, conv, &a->pub)->reason = "offer_expired";
    if (kind == SB_EV_OFFER_EXPIRED) {
        a->pub.missed_offers++;
        if (core->cfg->max_missed_offers > 0 &&
            a->pub.missed_offers >= core->cfg->max_missed_offers &&
            a->pub.state == SB_AGENT_AVAILABLE) {
            a->pub.state = SB_AGENT_AWAY;
            core__agent_refresh(core, a);
            core__act(core, SB_ACT_AGENT_STATE, NULL, &a->pub)->reason = "missed_offers";
        }
    }
    core__route(core, conv, &a->pub, now);
    core__match_agent(core, a, conv, now);
}

/* --- routing ------------------------------------------------------------------ */

void core__route(sb_core_t *core, sb_conv_t *conv, const sb_agent_t *exclude, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    agent_ext_t *a = core__select(core, conv, exclude);

    if (a) {
        if (cx->queued_pool >= 0)
            core__dequeue(core, conv);
        core__give(core, conv, a, now);
    } else if (cx->queued_pool < 0) {
        core__enqueue(core, conv, now);
    }
}

typedef struct first_fit {
    const sb_core_t *core;
    const sb_agent_t *agent;
    const sb_conv_t *skip;
    int pool;
    conv_ext_t *found;
} first_fit_t;

static int first_fit_fn(core_qnode_t *n, void *ctx)
{
    first_fit_t *ff = ctx;
    conv_ext_t *cx = n->owner;

    if (&cx->pub == ff->skip || cx->lang_hold ||
        !core__fits(ff->core, ff->agent, &cx->pub, ff->pool))
        return 0;
    ff->found = cx;
    return 1;
}

/* Takes for agent a, while it has room, the best waiting conversation it fits
 * across its pools: each pool's queue of every language it speaks and medium
 * it has room for is walked in order up to its first fit (skills decide),
 * and the best of those wins. */
void core__match_agent(sb_core_t *core, agent_ext_t *a, const sb_conv_t *skip, sb_ms_t now)
{
    const sb_config_t *cfg = core->cfg;

    for (;;) {
        conv_ext_t *best = NULL;

        if (!a->indexed)
            return;
        for (size_t k = 0; k < a->pub.cfg->npools; k++) {
            int p = a->pub.cfg->pools[k];
            if (p < 0 || (size_t)p >= core->npools || !core__queue_length(&core->pools[p].queue))
                continue;
            for (size_t l = 0; l < cfg->nlanguages; l++) {
                if (!a->pub.cfg->languages[l])
                    continue;
                for (int m = 0; m < 2; m++) {
                    sb_media_t media = m ? SB_MEDIA_VOICE : SB_MEDIA_CHAT;
                    first_fit_t ff = { core, &a->pub, skip, p, NULL };
                    const core_queue_t *q = &core->pools[p].lqueue[CORE_LQ(l, media)];
                    /* no room for the medium, or nothing there can beat the best */
                    if (!core__queue_length(q) ||
                        active(&a->pub, media) >= capacity(&a->pub, media) ||
                        (best && core__queue_cmp(core__queue_first(q), &best->lnode) > 0))
                        continue;
                    core__queue_walk(q, first_fit_fn, &ff);
                    if (ff.found &&
                        (!best || core__queue_cmp(&ff.found->lnode, &best->lnode) < 0))
                        best = ff.found;
                }
            }
        }
        if (!best)
            return;
        core__dequeue(core, &best->pub);
        core__give(core, &best->pub, a, now);
    }
}

/* --- the ready index ---------------------------------------------------------- */

static bool has_room(const sb_agent_t *a)
{
    return a->active_chat < a->cfg->cap_chat || a->active_voice < a->cfg->cap_voice;
}

/* The position of (key, agent) in b: where it is, or where it goes. */
static size_t ready_find(const core_bucket_t *b, sb_ms_t key, int agent)
{
    size_t lo = 0, hi = b->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const core_ready_t *e = &b->e[mid];
        if (e->key < key || (e->key == key && e->agent < agent))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void ready_insert(core_bucket_t *b, sb_ms_t key, agent_ext_t *a)
{
    int agent = a->pub.index;
    size_t i = ready_find(b, key, agent);

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->e = sb_realloc(b->e, b->cap * sizeof(*b->e));
    }
    memmove(&b->e[i + 1], &b->e[i], (b->n - i) * sizeof(*b->e));
    b->e[i].key = key;
    b->e[i].has[0] = a->has[0];
    b->e[i].has[1] = a->has[1];
    b->e[i].ax = a;
    b->e[i].skills = a->pub.cfg->skills;
    b->e[i].agent = agent;
    b->e[i].cap[0] = a->pub.cfg->cap_chat;
    b->e[i].cap[1] = a->pub.cfg->cap_voice;
    b->n++;
}

static void ready_remove(core_bucket_t *b, sb_ms_t key, int agent)
{
    size_t i = ready_find(b, key, agent);

    if (i < b->n && b->e[i].key == key && b->e[i].agent == agent) {
        memmove(&b->e[i], &b->e[i + 1], (b->n - i - 1) * sizeof(*b->e));
        b->n--;
    }
}

/* The key of agent a in pool p's buckets. */
static sb_ms_t ready_key(const sb_core_t *core, const agent_ext_t *a, int p)
{
    return core->cfg->pools[p].strategy == SB_STRATEGY_LONGEST_IDLE ? a->ready_key : 0;
}

/* Puts the agent into (or takes it out of) the ready buckets of its pools,
 * one per language it speaks, as its state and free slots say. Cannot fail. */
void core__agent_reindex(sb_core_t *core, agent_ext_t *a)
{
    const sb_cfg_agent_t *ac = a->pub.cfg;
    size_t nl = core->cfg->nlanguages;
    bool want = a->online && has_room(&a->pub);

    if (want == a->indexed)
        return;
    if (want)
        a->ready_key = a->pub.idle_since;
    for (size_t k = 0; k < ac->npools; k++) {
        int p = ac->pools[k];
        if (p < 0 || (size_t)p >= core->npools)
            continue;
        sb_ms_t key = ready_key(core, a, p);
        for (size_t l = 0; l < nl; l++) {
            if (!ac->languages[l])
                continue;
            if (want)
                ready_insert(&core->pools[p].ready[l], key, a);
            else
                ready_remove(&core->pools[p].ready[l], key, a->pub.index);
        }
    }
    a->indexed = want;
}

/* The agent's idle_since changed: it moves to its new place in the ready
 * buckets of its longest_idle pools. */
void core__agent_rekey(sb_core_t *core, agent_ext_t *a)
{
    const sb_cfg_agent_t *ac = a->pub.cfg;
    size_t nl = core->cfg->nlanguages;

    if (!a->indexed || a->ready_key == a->pub.idle_since) {
        a->ready_key = a->pub.idle_since;
        return;
    }
    for (size_t k = 0; k < ac->npools; k++) {
        int p = ac->pools[k];
        if (p < 0 || (size_t)p >= core->npools ||
            core->cfg->pools[p].strategy != SB_STRATEGY_LONGEST_IDLE)
            continue;
        for (size_t l = 0; l < nl; l++) {
            if (!ac->languages[l])
                continue;
            ready_remove(&core->pools[p].ready[l], a->ready_key, a->pub.index);
            ready_insert(&core->pools[p].ready[l], a->pub.idle_since, a);
        }
    }
    a->ready_key = a->pub.idle_since;
}

void core__slot_take(sb_core_t *core, agent_ext_t *a, sb_media_t media)
{
    (*core__active(&a->pub, media))++;
    core__agent_reindex(core, a);
}

void core__slot_free(sb_core_t *core, agent_ext_t *a, sb_media_t media)
{
    (*core__active(&a->pub, media))--;
    core__agent_reindex(core, a);
}

/* --- queues and notices --------------------------------------------------------- */

int core__eta_s(const sb_core_t *core, int pool, sb_media_t media, size_t position)
{
    const pool_state_t *ps = &core->pools[pool];
    double handle_ms = ps->handle_samples ? ps->handle_ema_ms
                                          : (double)core->cfg->default_handle_s * 1000.0;
    int cap = media == SB_MEDIA_VOICE ? ps->online_voice : ps->online_chat;
    double ms;
    long long s;

    if (cap < 1)
        cap = 1;
    ms = (double)position * (handle_ms / cap);   /* as the notice walk computes it */
    s = (long long)(ms / 1000.0);
    if ((double)s * 1000.0 < ms)
        s++;
    return s > INT32_MAX ? INT32_MAX : (int)s;
}

/* A QUEUE to the customer: position, estimate and the `queued` text with
 * {position} {eta} {eta_s} {pool}. Only what the text uses is formatted:
 * a notice goes to every waiting customer whose place changed. */
static void emit_queue(sb_core_t *core, sb_conv_t *conv, int position, int eta_s, sb_ms_t now)
{
    static const char *const names[] = { "position", "eta", "eta_s", "pool" };
    conv_ext_t *cx = core__cx(conv);
    char pos[24], eta[32], etas[24];
    const char *pool = core->cfg->pools[conv->pool].id;
    const char *values[] = { pos, eta, etas, pool };
    size_t lens[4] = { 0, 0, 0, 0 };
    core_tpl_t *t = core__tpl(core, conv->language, SB_TPL_QUEUED, names, 4);
    unsigned uses = t ? t->uses : ~0u;
    sb_action_t *act;

    if (uses & 1)
        lens[0] = core__utoa((unsigned long long)(position > 0 ? position : 0), pos);
    if (uses & 2)
        lens[1] = core__eta_text(eta_s, eta, sizeof(eta));
    if (uses & 4) {
        core__itoa(eta_s, etas);
        lens[2] = strlen(etas);
    }
    if (uses & 8)
        lens[3] = strlen(pool);
    act = core__act(core, SB_ACT_QUEUE, conv, NULL);
    act->position = position;
    act->eta_s = eta_s;
    if (t) {
        act->text = core__tpl_render_n(t, values, lens);
    } else {
        core_tpl_var_t vars[] = {
            { names[0], pos }, { names[1], eta }, { names[2], etas }, { names[3], pool },
        };
        act->text = core__render(sb_config_template(core->cfg, conv->language, SB_TPL_QUEUED),
                                 vars, 4);
    }
    cx->notified_pos = position;
    cx->notified_eta = eta_s;
    cx->notified_pool = conv->pool;
    cx->last_notice_at = now;
}

/* Puts conv (in no queue, held by no agent) into its pool's queue at its
 * place: history `queued` and an immediate QUEUE to the customer; the
 * conversations behind it get theirs through the coalesced notices. */
void core__enqueue(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    pool_state_t *ps = &core->pools[conv->pool];
    size_t pos;

    conv->state = SB_CONV_QUEUED;
    conv->agent = NULL;
    core__queue_put(core, conv);
    core__event(core, conv, SB_EV_QUEUED, -1, NULL, NULL, NULL, NULL, now);
    pos = core__queue_rank(&ps->queue, &cx->qnode);
    emit_queue(core, conv, (int)pos, core__eta_s(core, conv->pool, conv->media, pos), now);
    if (pos < core__queue_length(&ps->queue))
        core__mark_dirty_from(core, conv->pool, pos + 1);
}

/* Inserts conv into its pool's queue and its language's, keyed by front,
 * priority, arrival and ticket. No history, no notice: see core__enqueue. */
void core__queue_put(sb_core_t *core, sb_conv_t *conv)
{
    conv_ext_t *cx = core__cx(conv);
    pool_state_t *ps = &core->pools[conv->pool];

    cx->qnode.owner = cx->lnode.owner = cx;
    cx->qnode.priority = conv->priority;
    cx->qnode.arrival = conv->arrival;
    cx->qnode.ticket = cx->ticket;
    cx->lnode.front = cx->qnode.front;
    cx->lnode.priority = cx->qnode.priority;
    cx->lnode.arrival = cx->qnode.arrival;
    cx->lnode.ticket = cx->qnode.ticket;
    core__queue_insert(&ps->queue, &cx->qnode);
    core__queue_insert(&ps->lqueue[CORE_LQ(conv->language, conv->media)], &cx->lnode);
    cx->queued_pool = conv->pool;
}

void core__dequeue(sb_core_t *core, sb_conv_t *conv)
{
    conv_ext_t *cx = core__cx(conv);
    int p = cx->queued_pool;
    size_t rank;

    if (p < 0)
        return;
    rank = core__queue_rank(&core->pools[p].queue, &cx->qnode);
    core__queue_remove(&core->pools[p].queue, &cx->qnode);
    core__queue_remove(&core->pools[p].lqueue[CORE_LQ(conv->language, conv->media)],
                       &cx->lnode);
    cx->queued_pool = -1;
    if (rank <= core__queue_length(&core->pools[p].queue))
        core__mark_dirty_from(core, p, rank);
}

/* Every queued conversation of the pool may need a new notice (its estimate
 * changed: online capacity or handle time). */
void core__mark_dirty(sb_core_t *core, int pool)
{
    core__mark_dirty_from(core, pool, 1);
}

/* Positions from `position` on changed (something left or cut in there). */
void core__mark_dirty_from(sb_core_t *core, int pool, size_t position)
{
    pool_state_t *ps = &core->pools[pool];

    if (position < ps->dirty_from)
        ps->dirty_from = position;
    if (ps->dirty)
        return;
    ps->dirty = true;
    core->dirty[core->ndirty++] = pool;
}

/* Arms the pool's next walk: not sooner than CORE_NOTICE_MS after the last
 * one started, nor in the past. */
static void arm_next_walk(sb_core_t *core, pool_state_t *ps, sb_ms_t now)
{
    sb_ms_t at = ps->last_walk + CORE_NOTICE_MS;
    core__timer_arm(&core->timers, &ps->t_notice, at > now ? at : now + 1);
}

/* Walks the pools whose queues changed: a pool not walked within the last
 * CORE_NOTICE_MS is walked now, the others when their notice timer fires. A
 * change during a walk in progress is left for a walk after it. */
void core__flush_notices(sb_core_t *core, sb_ms_t now)
{
    size_t n = core->ndirty;

    core->ndirty = 0;
    for (size_t i = 0; i < n; i++) {
        int p = core->dirty[i];
        pool_state_t *ps = &core->pools[p];
        ps->dirty = false;
        if (ps->walking)
            continue;
        if (now >= ps->last_walk + CORE_NOTICE_MS)
            core__walk_notices(core, p, now);
        else if (!core__timer_armed(&ps->t_notice))
            arm_next_walk(core, ps, now);
    }
}

typedef struct walk_ctx {
    sb_core_t *core;
    pool_state_t *ps;
    int pool;
    sb_ms_t now;
    size_t position;
    size_t budget;
    double per_position_ms[2];  /* estimate per place in line: chat, voice */
} walk_ctx_t;

static int walk_fn(core_qnode_t *n, void *ctx)
{
    walk_ctx_t *w = ctx;
    conv_ext_t *cx = n->owner;
    double ms;
    int eta;

    if (!w->budget)
        return 1;
    w->budget--;
    w->position++;
    ms = (double)w->position * w->per_position_ms[cx->pub.media == SB_MEDIA_VOICE];
    eta = (int)(ms / 1000.0);
    if ((double)eta * 1000.0 < ms)
        eta++;
    if ((int)w->position == cx->notified_pos && eta == cx->notified_eta &&
        cx->notified_pool == w->pool)
        return 0;
    if (w->now - cx->last_notice_at >= CORE_NOTICE_MS)
        emit_queue(w->core, &cx->pub, (int)w->position, eta, w->now);
    else if (w->position < w->ps->dirty_from)
        w->ps->dirty_from = w->position;   /* told too recently: next walk */
    return 0;
}

/* One step of a notice walk over the pool's queue, from the first position
 * that may be stale: a QUEUE to each of the next CORE_NOTICE_BATCH
 * conversations whose position or estimate changed since its last one,
 * unless it had one within CORE_NOTICE_MS (left to the next walk). A longer
 * queue is finished by the notice timer 1 ms later, so no event pays for a
 * whole long queue; the next walk starts no sooner than CORE_NOTICE_MS after
 * this one started. */
void core__walk_notices(sb_core_t *core, int pool, sb_ms_t now)
{
    pool_state_t *ps = &core->pools[pool];
    const sb_config_t *cfg = core->cfg;
    double handle_ms = ps->handle_samples ? ps->handle_ema_ms
                                          : (double)cfg->default_handle_s * 1000.0;
    walk_ctx_t w = { core, ps, pool, now, 0, CORE_NOTICE_BATCH,
                     { handle_ms / (ps->online_chat > 1 ? ps->online_chat : 1),
                       handle_ms / (ps->online_voice > 1 ? ps->online_voice : 1) } };

    core__timer_cancel(&core->timers, &ps->t_notice);
    if (!ps->walking) {
        if (ps->dirty_from == SIZE_MAX)
            return;
        ps->walking = true;
        ps->walk_pos = ps->dirty_from - 1;
        ps->dirty_from = SIZE_MAX;
        ps->last_walk = now;
    }
    w.position = ps->walk_pos;
    core__queue_walk_from(&ps->queue, ps->walk_pos, walk_fn, &w);
    if (w.budget == 0 && w.position < core__queue_length(&ps->queue)) {
        ps->walk_pos = w.position;
        core__timer_arm(&core->timers, &ps->t_notice, now + 1);
        return;
    }
    ps->walking = false;
    if (ps->dirty_from != SIZE_MAX)
        arm_next_walk(core, ps, now);
}

/* --- wait timers ------------------------------------------------------------------ */

/* The number of the pool's steps already applied for a relaxation of
 * `relaxed` (the index of the next step to apply). */
int core__steps_applied(const sb_cfg_pool_t *pc, int relaxed)
{
    int sum = 0;
    size_t i;

    for (i = 0; i < pc->nsteps && sum < relaxed; i++)
        sum += pc->steps[i].relax_skill_levels;
    return (int)i;
}

/* Arms the conversation's relaxation step and max-wait timers for its
 * current pool, counted from the start of its current wait. */
void core__arm_wait_timers(sb_core_t *core, sb_conv_t *conv)
{
    conv_ext_t *cx = core__cx(conv);
    const sb_cfg_pool_t *pc = &core->cfg->pools[conv->pool];

    core__timer_cancel(&core->timers, &cx->t_step);
    core__timer_cancel(&core->timers, &cx->t_maxwait);
    if (conv->nskills && (size_t)cx->next_step < pc->nsteps)
        core__timer_arm(&core->timers, &cx->t_step,
                        cx->wait_since + (sb_ms_t)pc->steps[cx->next_step].after_s * 1000);
    if (pc->max_wait_s > 0 && pc->overflow >= 0)
        core__timer_arm(&core->timers, &cx->t_maxwait,
                        cx->wait_since + (sb_ms_t)pc->max_wait_s * 1000);
}

/* A relaxation step is due: every required level drops by the step's
 * relax_skill_levels (on top of earlier steps), history `relaxed`, and a
 * waiting conversation looks for an agent again. */
static void apply_step(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    const sb_cfg_pool_t *pc = &core->cfg->pools[conv->pool];

    while ((size_t)cx->next_step < pc->nsteps &&
           cx->wait_since + (sb_ms_t)pc->steps[cx->next_step].after_s * 1000 <= now)
        conv->relaxed += pc->steps[cx->next_step++].relax_skill_levels;
    core__event(core, conv, SB_EV_RELAXED, -1, NULL, NULL, NULL, NULL, now);
    if ((size_t)cx->next_step < pc->nsteps)
        core__timer_arm(&core->timers, &cx->t_step,
                        cx->wait_since + (sb_ms_t)pc->steps[cx->next_step].after_s * 1000);
    if (conv->state == SB_CONV_QUEUED)
        core__route(core, conv, NULL, now);
}

void core__on_timer(sb_core_t *core, core_timer_t *t, sb_ms_t now)
{
    switch (t->kind) {
    case CORE_T_OFFER: {
        conv_ext_t *cx = t->owner;
        core__offer_failed(core, &cx->pub, SB_EV_OFFER_EXPIRED, NULL, true, now);
        break;
    }
    case CORE_T_STEP:
        apply_step(core, &((conv_ext_t *)t->owner)->pub, now);
        break;
    case CORE_T_MAXWAIT:
        core__max_wait(core, &((conv_ext_t *)t->owner)->pub, now);
        break;
    case CORE_T_GRACE:
        core__grace_expired(core, t->owner, now);
        break;
    case CORE_T_LANG: {
        /* no first message in time: routed in the language it has */
        conv_ext_t *cx = t->owner;
        cx->lang_hold = false;
        if (cx->pub.state == SB_CONV_QUEUED)
            core__route(core, &cx->pub, NULL, now);
        break;
    }
    case CORE_T_NOTICE:
        core__walk_notices(core, (int)(intptr_t)t->owner, now);
        break;
    case CORE_T_WRAP: {
        agent_ext_t *a = t->owner;
        while (a->nwraps && a->wraps[0].at <= now) {
            core__slot_free(core, a, a->wraps[0].media);
            memmove(&a->wraps[0], &a->wraps[1], (a->nwraps - 1) * sizeof(*a->wraps));
            a->nwraps--;
        }
        if (a->nwraps)
            core__timer_arm(&core->timers, &a->t_wrap, a->wraps[0].at);
        core__match_agent(core, a, NULL, now);
        break;
    }
    default:
        break;
    }
}
