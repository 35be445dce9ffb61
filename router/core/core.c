/*
 * core.c - the routing core's lifecycle, lookups, actions and the customer
 * and agent events (see core.h). Matching, queues, offers and notices are in
 * route.c.
 *
 * Every entry point follows the same shape: check the request against the
 * conversation's state and ownership (returning an SB_E* code with nothing
 * changed), apply it, route what it freed or queued, then flush coalesced
 * queue notices. Nothing here reads a clock or does I/O.
 */
#include "internal.h"
#include "switchboard/langdetect.h"
#include "switchboard/phrase.h"
#include "template.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- construction -------------------------------------------------------- */

/* Initializes pool state p of core->cfg: empty queues and ready buckets,
 * no members. Cannot fail. */
void core__pool_init(sb_core_t *core, pool_state_t *ps, size_t p)
{
    size_t nl = core->cfg->nlanguages;

    memset(ps, 0, sizeof(*ps));
    core__queue_init(&ps->queue, 0x5eed0000ULL + p * 7919);
    ps->lqueue = sb_calloc(nl ? nl * 2 : 1, sizeof(*ps->lqueue));
    ps->ready = sb_calloc(nl ? nl : 1, sizeof(*ps->ready));
    for (size_t l = 0; l < nl * 2; l++)
        core__queue_init(&ps->lqueue[l], 0x1a9900000ULL + p * 7919 + l * 104729);
    ps->rr_cursor = -1;
    ps->last_walk = INT64_MIN / 2;
    ps->dirty_from = SIZE_MAX;
    core__timer_init(&ps->t_notice, CORE_T_NOTICE, (void *)(intptr_t)p);
}

/* Frees what core__pool_init and core__members_build allocated; nlanguages
 * of the configuration the pool was built for. The notice timer must be
 * disarmed. */
void core__pool_free(pool_state_t *ps, size_t nlanguages)
{
    free(ps->members);
    if (ps->ready)
        for (size_t l = 0; l < nlanguages; l++)
            free(ps->ready[l].e);
    free(ps->ready);
    free(ps->lqueue);
}

/* Lists every agent of core->agents in the members of its pools (agent
 * indexes, ascending). The pools' member lists must be empty. */
void core__members_build(sb_core_t *core)
{
    for (size_t i = 0; i < core->nagents; i++) {
        const sb_cfg_agent_t *ac = core->agents[i]->pub.cfg;
        for (size_t k = 0; k < ac->npools; k++) {
            int p = ac->pools[k];
            if (p < 0 || (size_t)p >= core->npools)
                continue;
            pool_state_t *ps = &core->pools[p];
            ps->members = sb_realloc(ps->members, (ps->nmembers + 1) * sizeof(int));
            ps->members[ps->nmembers++] = (int)i;
        }
    }
}

/* Points a at its configuration entry ac (of core->cfg) at index. */
void core__agent_set_cfg(sb_core_t *core, agent_ext_t *a, const sb_cfg_agent_t *ac, int index)
{
    a->pub.cfg = ac;
    a->pub.index = index;
    a->has[0] = a->has[1] = 0;
    for (size_t s = 0; s < core->cfg->nskills; s++)
        if (ac->skills[s])
            a->has[(s / 64) & 1] |= 1ULL << (s % 64);
}

/* A new agent for ac at index of core->cfg: offline, holding nothing.
 * Cannot fail. */
agent_ext_t *core__agent_new(sb_core_t *core, const sb_cfg_agent_t *ac, int index)
{
    agent_ext_t *a = sb_calloc(1, sizeof(*a));

    core__agent_set_cfg(core, a, ac, index);
    a->pub.state = SB_AGENT_OFFLINE;
    a->pub.core_private = a;
    core__timer_init(&a->t_grace, CORE_T_GRACE, a);
    core__timer_init(&a->t_wrap, CORE_T_WRAP, a);
    return a;
}

/* Frees an agent whose timers are disarmed; accepts NULL. */
void core__agent_free(agent_ext_t *a)
{
    if (!a)
        return;
    free(a->convs);
    free(a->wraps);
    free(a);
}

/* (Re)builds the topic id index of core->cfg: an arrival looks its topic up
 * in O(1), not by comparing every topic id. Cannot fail. */
void core__topics_index(sb_core_t *core)
{
    sb_map_free(&core->topic_ids);
    for (size_t t = 0; t < core->cfg->ntopics; t++)
        sb_map_put(&core->topic_ids, core->cfg->topics[t].id, (void *)(intptr_t)(t + 1));
}

/* The index of topic id, or -1. */
static int topic_index(const sb_core_t *core, const char *id)
{
    return (int)(intptr_t)sb_map_get(&core->topic_ids, id) - 1;
}

sb_core_t *sb_core_new(const sb_config_t *cfg)
{
    sb_core_t *core;

    if (!cfg)
        return NULL;
    core = sb_calloc(1, sizeof(*core));
    core->cfg = cfg;
    core->epoch = 1;
    sb_map_init(&core->convs);
    sb_map_init(&core->agent_ids);
    sb_map_init(&core->topic_ids);
    core__heap_init(&core->timers);
    core__topics_index(core);
    core__tpls_reset(core, 0);

    core->npools = cfg->npools;
    core->pools = sb_calloc(cfg->npools ? cfg->npools : 1, sizeof(*core->pools));
    core->dirty = sb_calloc(cfg->npools ? cfg->npools : 1, sizeof(*core->dirty));
    for (size_t p = 0; p < cfg->npools; p++)
        core__pool_init(core, &core->pools[p], p);

    core->nagents = cfg->nagents;
    core->agents = sb_calloc(cfg->nagents ? cfg->nagents : 1, sizeof(*core->agents));
    for (size_t i = 0; i < cfg->nagents; i++) {
        core->agents[i] = core__agent_new(core, &cfg->agents[i], (int)i);
        sb_map_put(&core->agent_ids, cfg->agents[i].id, core->agents[i]);
    }
    core__members_build(core);
    return core;
}

static void conv_free(conv_ext_t *cx)
{
    sb_conv_t *c;

    if (!cx)
        return;
    c = &cx->pub;
    free(c->customer_name);
    free(c->customer_email);
    free(c->customer_contact);
    free(c->skills);
    if (c->attributes)
        json_decref(c->attributes);
    for (size_t i = 0; i < c->nmsgs; i++) {
        free(c->msgs[i].name);
        free(c->msgs[i].agent_id);
        free(c->msgs[i].text);
    }
    free(c->msgs);
    for (size_t i = 0; i < c->nnotes; i++) {
        free(c->notes[i].agent_id);
        free(c->notes[i].text);
    }
    free(c->notes);
    for (size_t i = 0; i < c->nhistory; i++) {
        free(c->history[i].agent_id);
        free(c->history[i].esc_kind);
        free(c->history[i].reason);
        free(c->history[i].note);
    }
    free(c->history);
    free(cx);
}

static void free_actions(sb_core_t *core)
{
    for (size_t i = 0; i < core->nactions; i++)
        free(core->actions[i].text);
    core->nactions = 0;
}

static void free_closed(sb_core_t *core)
{
    while (core->closed) {
        conv_ext_t *next = core->closed->next_closed;
        conv_free(core->closed);
        core->closed = next;
    }
    while (core->removed) {
        agent_ext_t *next = core->removed->next_removed;
        core__agent_free(core->removed);
        core->removed = next;
    }
}

void sb_core_free(sb_core_t *core)
{
    if (!core)
        return;
    core__heap_free(&core->timers);     /* first: it clears its timers' slots */
    free_actions(core);
    free(core->actions);
    free_closed(core);
    for (size_t i = 0; i < core->convs.cap; i++) {
        sb_map_slot_t *s = &core->convs.slots[i];
        if (s->key && s->value)
            conv_free(s->value);
    }
    sb_map_free(&core->convs);
    sb_map_free(&core->agent_ids);
    sb_map_free(&core->topic_ids);
    for (size_t i = 0; i < core->cfg->nlanguages * SB_TPL__COUNT; i++)
        core__tpl_free(&core->tpls[i]);
    free(core->tpls);
    for (size_t i = 0; i < core->nagents; i++)
        core__agent_free(core->agents[i]);
    free(core->agents);
    for (size_t p = 0; p < core->npools; p++)
        core__pool_free(&core->pools[p], core->cfg->nlanguages);
    free(core->pools);
    free(core->dirty);
    free(core);
}

/* --- lookups -------------------------------------------------------------- */

sb_conv_t *sb_core_conv_find(sb_core_t *core, const char *id)
{
    conv_ext_t *cx = core && id ? sb_map_get(&core->convs, id) : NULL;
    return cx ? &cx->pub : NULL;
}

sb_agent_t *sb_core_agent_find(sb_core_t *core, const char *id)
{
    agent_ext_t *a = core && id ? sb_map_get(&core->agent_ids, id) : NULL;
    return a ? &a->pub : NULL;
}

size_t sb_core_agent_count(const sb_core_t *core)
{
    return core ? core->nagents : 0;
}

sb_agent_t *sb_core_agent_at(sb_core_t *core, size_t i)
{
    return core && i < core->nagents ? &core->agents[i]->pub : NULL;
}

size_t sb_core_conv_count(const sb_core_t *core)
{
    return core ? core->convs.count : 0;
}

size_t sb_core_queue_length(const sb_core_t *core, int pool)
{
    if (!core || pool < 0 || (size_t)pool >= core->npools)
        return 0;
    return core__queue_length(&core->pools[pool].queue);
}

int sb_core_queue_position(const sb_core_t *core, const sb_conv_t *conv)
{
    const conv_ext_t *cx = (const conv_ext_t *)conv;

    if (!core || !conv || cx->queued_pool < 0)
        return 0;
    return (int)core__queue_rank(&core->pools[cx->queued_pool].queue, &cx->qnode);
}

/* --- actions, history, texts --------------------------------------------- */

void core__enter(sb_core_t *core)
{
    core->epoch++;
}

sb_action_t *core__act(sb_core_t *core, sb_action_kind_t kind, sb_conv_t *conv,
                       sb_agent_t *agent)
{
    sb_action_t *a;

    if (core->nactions == core->actions_cap) {
        core->actions_cap = core->actions_cap ? core->actions_cap * 2 : 32;
        core->actions = sb_realloc(core->actions, core->actions_cap * sizeof(*core->actions));
    }
    a = &core->actions[core->nactions++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->conv = conv;
    a->agent = agent;
    a->pool = conv ? conv->pool : -1;
    return a;
}

/* One CONV_SAVE per conversation per entry point: the hub reads the row's
 * final state when it carries the actions out. */
void core__save(sb_core_t *core, sb_conv_t *conv)
{
    conv_ext_t *cx = core__cx(conv);

    if (cx->save_epoch == core->epoch)
        return;
    cx->save_epoch = core->epoch;
    core__act(core, SB_ACT_CONV_SAVE, conv, NULL);
}

/* Appends a history event (pool = the conversation's pool now) and its EVENT
 * action, after the conversation's CONV_SAVE. Cannot fail. */
void core__event(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind, int from_pool,
                 const char *agent_id, const char *esc_kind, const char *reason,
                 const char *note, sb_ms_t now)
{
    sb_event_t *ev;

    core__save(core, conv);
    if (conv->nhistory == conv->history_cap) {
        /* from 2: a waiting conversation has created + queued, and an idle
         * connection's memory is mostly its conversation (bench/idle) */
        conv->history_cap = conv->history_cap ? conv->history_cap * 2 : 2;
        conv->history = sb_realloc(conv->history, conv->history_cap * sizeof(*conv->history));
    }
    ev = &conv->history[conv->nhistory];
    ev->kind = kind;
    ev->ts = now;
    ev->pool = conv->pool;
    ev->from_pool = from_pool;
    ev->agent_id = sb_strdup(agent_id);
    ev->esc_kind = sb_strdup(esc_kind);
    ev->reason = sb_strdup(reason);
    ev->note = sb_strdup(note);
    core__act(core, SB_ACT_EVENT, conv, NULL)->index = conv->nhistory++;
}

/* Template key in language compiled for names (core->tpls: each language's
 * template is parsed once, as notices are rendered often), or NULL when the
 * language has no slot (then render with core__render). */
core_tpl_t *core__tpl(sb_core_t *core, int language, sb_tpl_key_t key,
                      const char *const *names, size_t nnames)
{
    const char *src = sb_config_template(core->cfg, language, key);
    core_tpl_t *t;

    if (language < 0 || (size_t)language >= core->cfg->nlanguages || (int)key < 0 ||
        key >= SB_TPL__COUNT || nnames > CORE_TPL_MAX_VARS)
        return NULL;
    t = &core->tpls[(size_t)language * SB_TPL__COUNT + key];
    if (!core__tpl_matches(t, src, names, nnames))
        core__tpl_compile(t, src, names, nnames);
    return t;
}

/* The rendered template key in the conversation's language (falling back to
 * the default language, then built-in English). New string. */
char *core__text(sb_core_t *core, const sb_conv_t *conv, sb_tpl_key_t key,
                 const core_tpl_var_t *vars, size_t nvars)
{
    const char *names[CORE_TPL_MAX_VARS];
    core_tpl_t *t = NULL;

    if (nvars <= CORE_TPL_MAX_VARS) {
        for (size_t i = 0; i < nvars; i++)
            names[i] = vars[i].name;
        t = core__tpl(core, conv->language, key, names, nvars);
    }
    if (!t)
        return core__render(sb_config_template(core->cfg, conv->language, key), vars, nvars);
    return core__tpl_render(t, vars);
}

/* Forgets the compiled templates (of a configuration with old_nlanguages)
 * and makes room for core->cfg's. */
void core__tpls_reset(sb_core_t *core, size_t old_nlanguages)
{
    if (core->tpls)
        for (size_t i = 0; i < old_nlanguages * SB_TPL__COUNT; i++)
            core__tpl_free(&core->tpls[i]);
    free(core->tpls);
    core->tpls = sb_calloc(core->cfg->nlanguages * SB_TPL__COUNT + 1, sizeof(*core->tpls));
}

static sb_message_t *append_message(sb_conv_t *conv, sb_from_t from, const char *name,
                                    const char *agent_id, const char *text, sb_ms_t now)
{
    sb_message_t *m;

    if (conv->nmsgs == conv->msgs_cap) {
        conv->msgs_cap = conv->msgs_cap ? conv->msgs_cap * 2 : 8;
        conv->msgs = sb_realloc(conv->msgs, conv->msgs_cap * sizeof(*conv->msgs));
    }
    m = &conv->msgs[conv->nmsgs++];
    m->seq = ++conv->last_seq;
    m->from = from;
    m->name = sb_strdup(name);
    m->agent_id = sb_strdup(agent_id);
    m->text = sb_strdup(text);
    m->ts = now;
    return m;
}

/* A router notice in the transcript (from "system"); returns its index. */
size_t core__system_message(sb_core_t *core, sb_conv_t *conv, const char *text, sb_ms_t now)
{
    append_message(conv, SB_FROM_SYSTEM, NULL, NULL, text, now);
    core__act(core, SB_ACT_MESSAGE, conv, NULL)->index = conv->nmsgs - 1;
    return conv->nmsgs - 1;
}

/* --- agents' held conversations ------------------------------------------ */

int *core__active(sb_agent_t *a, sb_media_t media)
{
    return media == SB_MEDIA_VOICE ? &a->active_voice : &a->active_chat;
}

void core__agent_hold(agent_ext_t *a, sb_conv_t *conv)
{
    if (a->nconvs == a->convs_cap) {
        a->convs_cap = a->convs_cap ? a->convs_cap * 2 : 4;
        a->convs = sb_realloc(a->convs, a->convs_cap * sizeof(*a->convs));
    }
    a->convs[a->nconvs++] = conv;
}

void core__agent_unhold(agent_ext_t *a, sb_conv_t *conv)
{
    for (size_t i = 0; i < a->nconvs; i++)
        if (a->convs[i] == conv) {
            memmove(&a->convs[i], &a->convs[i + 1], (a->nconvs - i - 1) * sizeof(*a->convs));
            a->nconvs--;
            return;
        }
}

/* Keeps the pools' online capacity (used by the queue estimate) in step with
 * the agent's state; marks their queues for a notice when it changes. */
void core__agent_refresh(sb_core_t *core, agent_ext_t *a)
{
    bool online = a->pub.state == SB_AGENT_AVAILABLE && a->pub.connected;
    int sign;

    if (online == a->online)
        return;
    a->online = online;
    core__agent_reindex(core, a);
    sign = online ? 1 : -1;
    for (size_t k = 0; k < a->pub.cfg->npools; k++) {
        int p = a->pub.cfg->pools[k];
        if (p < 0 || (size_t)p >= core->npools)
            continue;
        core->pools[p].online_chat += sign * a->pub.cfg->cap_chat;
        core->pools[p].online_voice += sign * a->pub.cfg->cap_voice;
        if (core__queue_length(&core->pools[p].queue))
            core__mark_dirty(core, p);
    }
}

/* --- customer events ------------------------------------------------------ */

/* History `language` for the language conv has now, reason "detected: <tag>". */
static void language_event(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    char reason[64];

    snprintf(reason, sizeof(reason), "detected: %s", core->cfg->languages[conv->language]);
    core__event(core, conv, SB_EV_LANGUAGE, -1, NULL, NULL, reason, NULL, now);
}

/* Sets conv's language (it may be queued) and records it. */
void core__set_language(sb_core_t *core, sb_conv_t *conv, int language, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);

    if (cx->queued_pool >= 0) {
        pool_state_t *ps = &core->pools[cx->queued_pool];
        core__queue_remove(&ps->lqueue[CORE_LQ(conv->language, conv->media)], &cx->lnode);
        conv->language = language;
        core__queue_insert(&ps->lqueue[CORE_LQ(conv->language, conv->media)], &cx->lnode);
        /* the next notice walk tells it again, in its language */
        cx->notified_pos = -1;
        core__mark_dirty_from(core, cx->queued_pool,
                              core__queue_rank(&ps->queue, &cx->qnode));
    } else {
        conv->language = language;
    }
    language_event(core, conv, now);
}

/*
 * A customer message in a conversation whose language is guessed: while it
 * waits unassigned, each of its first SB_CORE_DETECT_MESSAGES messages is
 * guessed and a confident guess that differs switches the language; the
 * first one ends a hold. Returns true when the conversation should look for
 * an agent now (hold over or language changed).
 */
static bool detect_language(sb_core_t *core, sb_conv_t *conv, const char *text, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    bool route;
    int language;

    if (!cx->lang_auto || conv->state != SB_CONV_QUEUED ||
        cx->lang_msgs >= SB_CORE_DETECT_MESSAGES)
        return false;
    cx->lang_msgs++;
    route = cx->lang_hold;
    cx->lang_hold = false;
    core__timer_cancel(&core->timers, &cx->t_lang);
    language = sb_langdetect(core->cfg, text);
    if (language >= 0 && language != conv->language) {
        core__set_language(core, conv, language, now);
        route = true;
    }
    return route;
}

sb_conv_t *sb_core_conv_open(sb_core_t *core, const sb_conv_spec_t *spec,
                             sb_ms_t now, int *err)
{
    const sb_config_t *cfg;
    const char *channel;
    conv_ext_t *cx;
    sb_conv_t *c;
    int language, detected = -1, topic = -1, pool, priority = 0, e = SB_EINVAL;
    bool detect, hold = false;
    const sb_cfg_topic_t *t = NULL;

    if (!core || !spec || !spec->id || !*spec->id || strlen(spec->id) >= sizeof(c->id))
        goto fail;
    cfg = core->cfg;
    channel = spec->channel ? spec->channel : "webchat";
    if (strlen(channel) >= sizeof(c->channel))
        goto fail;
    if (spec->media != SB_MEDIA_CHAT && spec->media != SB_MEDIA_VOICE)
        goto fail;
    if (sb_map_get(&core->convs, spec->id)) {
        e = SB_ECONFLICT;
        goto fail;
    }
    language = sb_config_language(cfg, spec->language);
    detect = language < 0 && cfg->detect_language && spec->media == SB_MEDIA_CHAT;
    if (language < 0)
        language = cfg->default_language;
    pool = cfg->default_pool;
    if (spec->topic && *spec->topic) {
        topic = topic_index(core, spec->topic);
        if (topic < 0)
            goto fail;
        t = &cfg->topics[topic];
        pool = t->pool;
        priority = t->priority;
    }
    if (spec->pool >= 0)
        pool = spec->pool;
    if (pool < 0 || (size_t)pool >= core->npools)
        goto fail;

    if (detect && spec->first_text && *spec->first_text) {
        detected = sb_langdetect(cfg, spec->first_text);
        if (detected >= 0)
            language = detected;
    } else if (detect) {
        hold = true;
    }

    core__enter(core);
    cx = sb_calloc(1, sizeof(*cx));
    c = &cx->pub;
    c->core_private = cx;
    strcpy(c->id, spec->id);
    strcpy(c->channel, channel);
    c->media = spec->media;
    c->state = SB_CONV_QUEUED;
    c->customer_name = sb_strdup(spec->name);
    c->customer_email = sb_strdup(spec->email);
    c->customer_contact = sb_strdup(spec->contact);
    c->language = language;
    c->topic = topic;
    c->pool = pool;
    if (t && t->nskills) {
        c->skills = sb_malloc(t->nskills * sizeof(*c->skills));
        memcpy(c->skills, t->skills, t->nskills * sizeof(*c->skills));
        c->nskills = t->nskills;
    }
    c->priority = priority;
    if (spec->attributes)
        c->attributes = json_incref(spec->attributes);
    c->created_at = c->arrival = c->entered_pool_at = now;

    cx->ticket = core->next_ticket++;
    cx->queued_pool = -1;
    cx->wait_since = now;
    cx->notified_pos = cx->notified_eta = cx->notified_pool = -1;
    cx->last_notice_at = INT64_MIN / 2;
    cx->qnode.owner = cx->lnode.owner = cx;
    core__timer_init(&cx->t_offer, CORE_T_OFFER, cx);
    core__timer_init(&cx->t_step, CORE_T_STEP, cx);
    core__timer_init(&cx->t_maxwait, CORE_T_MAXWAIT, cx);
    core__timer_init(&cx->t_lang, CORE_T_LANG, cx);
    cx->lang_auto = detect;
    cx->lang_hold = hold;
    sb_map_put(&core->convs, c->id, cx);

    core__event(core, c, SB_EV_CREATED, -1, NULL, NULL, NULL, NULL, now);
    if (detected >= 0 && detected != cfg->default_language)
        language_event(core, c, now);
    if (hold)
        core__timer_arm(&core->timers, &cx->t_lang, now + SB_CORE_DETECT_HOLD_MS);
    core__arm_wait_timers(core, c);
    core__route(core, c, NULL, now);
    core__flush_notices(core, now);
    if (err)
        *err = SB_OK;
    return c;
fail:
    if (err)
        *err = e;
    return NULL;
}

/*
 * A configured phrase in a customer message (escalation.phrases, in the
 * conversation's language) escalates it: hierarchical to the pool's
 * escalate_to, functional to the rule's pool. The message that triggered it
 * is already in the transcript the next agent receives. Nothing happens when
 * there is nowhere to go or the escalation limit is reached.
 */
static void phrase_escalation(sb_core_t *core, sb_conv_t *conv, const char *text, sb_ms_t now)
{
    const char *matched = NULL;
    char reason[160];
    int r = sb_phrase_find(core->cfg, conv->language, text, &matched);
    const sb_cfg_phrase_rule_t *rule;

    if (r < 0)
        return;
    rule = &core->cfg->phrases[r];
    snprintf(reason, sizeof(reason), "phrase: %s", matched);
    sb_core_conv_escalate(core, conv, rule->kind,
                          rule->kind == SB_ESC_FUNCTIONAL ? rule->to : -1, reason, now);
}

int sb_core_customer_message(sb_core_t *core, sb_conv_t *conv, const char *text,
                             sb_ms_t now, uint64_t *seq)
{
    bool route;

    if (!core || !conv || !text)
        return SB_EINVAL;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    core__enter(core);
    append_message(conv, SB_FROM_CUSTOMER, conv->customer_name, NULL, text, now);
    core__act(core, SB_ACT_MESSAGE, conv, NULL)->index = conv->nmsgs - 1;
    if (seq)
        *seq = conv->last_seq;
    route = detect_language(core, conv, text, now);
    phrase_escalation(core, conv, text, now);
    if (route && conv->state == SB_CONV_QUEUED)
        core__route(core, conv, NULL, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* Counts the conversation in its pool's first-response SLA once: met when the
 * first agent answer came within sla_first_response_s of arrival. A
 * conversation that closes unanswered counts as missed once it waited past
 * the target (earlier than that the customer left before the SLA could fail). */
static void sla_count(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    pool_state_t *ps = &core->pools[conv->pool];
    sb_ms_t target = (sb_ms_t)core->cfg->pools[conv->pool].sla_first_response_s * 1000;

    if (cx->sla_done)
        return;
    if (conv->first_response_at) {
        cx->sla_done = true;
        ps->sla_total++;
        if (conv->first_response_at - conv->arrival <= target)
            ps->sla_met++;
    } else if (now - conv->arrival > target) {
        cx->sla_done = true;
        ps->sla_total++;
    }
}

/*
 * Closes conv: out of its queue, timers off, the agent (offered or assigned)
 * released with `released` (the slot frees after wrap-up when it was
 * assigned), history `closed`, CLOSED to the customer with `closed`. The
 * conversation leaves the id map and is freed at the next actions clear.
 * Returns the agent that held it (to re-run matching for), or NULL.
 */
static agent_ext_t *close_conv(sb_core_t *core, sb_conv_t *conv, const char *released,
                               const char *closed, const char *resolution, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    agent_ext_t *a = conv->agent ? core__ax(conv->agent) : NULL;
    bool was_assigned = conv->state == SB_CONV_ASSIGNED || conv->state == SB_CONV_BOT;
    char *text;

    if (cx->queued_pool >= 0)
        core__dequeue(core, conv);
    core__timer_cancel(&core->timers, &cx->t_offer);
    core__timer_cancel(&core->timers, &cx->t_step);
    core__timer_cancel(&core->timers, &cx->t_maxwait);
    core__timer_cancel(&core->timers, &cx->t_lang);
    cx->lang_hold = false;
    sla_count(core, conv, now);
    if (a) {
        if (conv->state == SB_CONV_OFFERED) {
            core->pools[conv->pool].offers_pending--;
            core__release_slot(core, a, conv, false, now);
        } else if (was_assigned) {
            pool_state_t *ps = &core->pools[conv->pool];
            double sample = (double)(now - cx->assigned_at);
            /* exponential moving average, weight 1/5 for the newest sample */
            ps->handle_ema_ms = ps->handle_samples ? ps->handle_ema_ms * 0.8 + sample * 0.2
                                                   : sample;
            ps->handle_samples++;
            ps->served++;
            if (core__queue_length(&ps->queue))
                core__mark_dirty(core, conv->pool);     /* every estimate moved */
            core__release_slot(core, a, conv, true, now);
        }
    }
    conv->state = SB_CONV_CLOSED;
    core__event(core, conv, SB_EV_CLOSED, -1, a ? a->pub.cfg->id : NULL, NULL, resolution,
                NULL, now);
    if (a)
        core__act(core, SB_ACT_RELEASED, conv, &a->pub)->reason = released;
    text = core__text(core, conv, SB_TPL_CLOSED, NULL, 0);
    sb_action_t *act = core__act(core, SB_ACT_CLOSED, conv, NULL);
    act->reason = closed;
    act->text = text;

    sb_map_del(&core->convs, conv->id);
    cx->next_closed = core->closed;
    core->closed = cx;
    return a;
}

int sb_core_customer_close(sb_core_t *core, sb_conv_t *conv, sb_ms_t now)
{
    agent_ext_t *a;

    if (!core || !conv)
        return SB_EINVAL;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    core__enter(core);
    a = close_conv(core, conv, "customer_left", "customer", "customer", now);
    if (a)
        core__match_agent(core, a, NULL, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* --- agent events --------------------------------------------------------- */

/* The agent holds conv as its assigned (or bot) owner. */
static bool owns(const sb_agent_t *agent, const sb_conv_t *conv)
{
    return conv->agent == agent &&
           (conv->state == SB_CONV_ASSIGNED || conv->state == SB_CONV_BOT);
}

int sb_core_agent_connect(sb_core_t *core, sb_agent_t *agent, sb_ms_t now)
{
    agent_ext_t *a;

    if (!core || !agent)
        return SB_EINVAL;
    a = core__ax(agent);
    if (a->removed)
        return SB_ECONFLICT;
    core__enter(core);
    agent->connected = true;
    core__timer_cancel(&core->timers, &a->t_grace);
    if (agent->state == SB_AGENT_OFFLINE)
        agent->state = SB_AGENT_AWAY;
    core__agent_refresh(core, a);
    if (agent->state == SB_AGENT_AVAILABLE)
        core__match_agent(core, a, NULL, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* Moves every offer the agent holds on to other agents (or back to the
 * queue), recording `declined` with reason: the agent left or went away. */
static void withdraw_offers(sb_core_t *core, agent_ext_t *a, const char *reason, sb_ms_t now)
{
    for (;;) {
        sb_conv_t *offered = NULL;
        for (size_t i = 0; i < a->nconvs && !offered; i++)
            if (a->convs[i]->state == SB_CONV_OFFERED)
                offered = a->convs[i];
        if (!offered)
            return;
        core__offer_failed(core, offered, SB_EV_DECLINED, reason, false, now);
    }
}

/* Takes conv from a, which holds it, and makes it a requeued conversation
 * that waits again from now at the front of its pool: history `requeued`
 * with reason and a system message from the `requeued` template. It is in no
 * queue yet and its wait timers are not armed: see requeue(). */
void core__requeue_detach(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a,
                          const char *reason, sb_ms_t now)
{
    conv_ext_t *cx = core__cx(conv);
    core_tpl_var_t vars[] = { { "pool", core->cfg->pools[conv->pool].id } };
    char *text;

    core__release_slot(core, a, conv, false, now);
    conv->agent = NULL;
    conv->state = SB_CONV_QUEUED;
    conv->relaxed = 0;
    cx->next_step = 0;
    cx->wait_since = now;
    cx->qnode.front = 1;
    core__event(core, conv, SB_EV_REQUEUED, -1, a->pub.cfg->id, NULL, reason, NULL, now);
    text = core__text(core, conv, SB_TPL_REQUEUED, vars, 1);
    core__system_message(core, conv, text, now);
    free(text);
}

/* Puts conv, held by a, back at the front of its pool (core__requeue_detach),
 * then routes it like an arrival (to another agent that fits, else QUEUE at
 * the front). */
static void requeue(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a, const char *reason,
                    sb_ms_t now)
{
    core__requeue_detach(core, conv, a, reason, now);
    core__arm_wait_timers(core, conv);
    core__route(core, conv, &a->pub, now);
}

/* The disconnected agent's grace is over: it goes offline and what it held
 * is requeued at the front of its pools. */
void core__grace_expired(sb_core_t *core, agent_ext_t *a, sb_ms_t now)
{
    a->pub.state = SB_AGENT_OFFLINE;
    core__agent_refresh(core, a);
    core__act(core, SB_ACT_AGENT_STATE, NULL, &a->pub)->reason = "disconnected";
    withdraw_offers(core, a, "agent_disconnected", now);
    while (a->nconvs)
        requeue(core, a->convs[0], a, "agent_disconnected", now);
}

int sb_core_agent_disconnect(sb_core_t *core, sb_agent_t *agent, sb_ms_t now)
{
    agent_ext_t *a;

    if (!core || !agent)
        return SB_EINVAL;
    if (!agent->connected)
        return SB_OK;
    core__enter(core);
    a = core__ax(agent);
    agent->connected = false;
    core__agent_refresh(core, a);
    withdraw_offers(core, a, "agent_disconnected", now);
    if (core->cfg->agent_grace_s > 0 && agent->state != SB_AGENT_OFFLINE)
        core__timer_arm(&core->timers, &a->t_grace,
                        now + (sb_ms_t)core->cfg->agent_grace_s * 1000);
    else
        core__grace_expired(core, a, now);
    core__flush_notices(core, now);
    return SB_OK;
}

int sb_core_agent_status(sb_core_t *core, sb_agent_t *agent, sb_agent_state_t state,
                         sb_ms_t now)
{
    agent_ext_t *a;

    if (!core || !agent)
        return SB_EINVAL;
    if (state != SB_AGENT_AVAILABLE && state != SB_AGENT_AWAY && state != SB_AGENT_OFFLINE)
        return SB_EINVAL;
    if (!agent->connected)
        return SB_ECONFLICT;
    a = core__ax(agent);
    if (state == SB_AGENT_OFFLINE) {
        /* offline with conversations would strand their customers */
        for (size_t i = 0; i < a->nconvs; i++)
            if (a->convs[i]->state != SB_CONV_OFFERED)
                return SB_ECONFLICT;
    }
    core__enter(core);
    if (state == SB_AGENT_AVAILABLE) {
        if (agent->state != SB_AGENT_AVAILABLE) {
            agent->idle_since = now;
            agent->state = SB_AGENT_AVAILABLE;
            core__agent_rekey(core, a);
        }
        agent->missed_offers = 0;
        core__agent_refresh(core, a);
        core__match_agent(core, a, NULL, now);
    } else {
        agent->state = state;
        core__agent_refresh(core, a);
        withdraw_offers(core, a, state == SB_AGENT_AWAY ? "agent_away" : "agent_offline", now);
    }
    core__flush_notices(core, now);
    return SB_OK;
}

/* Checks an agent request on conv: SB_ECONFLICT when closed, SB_EFORBIDDEN
 * unless the agent holds it. */
int core__check_owner(const sb_agent_t *agent, const sb_conv_t *conv)
{
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    if (!owns(agent, conv))
        return SB_EFORBIDDEN;
    return SB_OK;
}

int sb_core_agent_message(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                          const char *text, bool fallback, sb_ms_t now, uint64_t *seq)
{
    int rc;

    if (!core || !agent || !conv || !text)
        return SB_EINVAL;
    if ((rc = core__check_owner(agent, conv)) != SB_OK)
        return rc;
    core__enter(core);
    append_message(conv, agent->cfg->role == SB_ROLE_BOT ? SB_FROM_BOT : SB_FROM_AGENT,
                   agent->cfg->name ? agent->cfg->name : agent->cfg->id, agent->cfg->id,
                   text, now);
    core__act(core, SB_ACT_MESSAGE, conv, NULL)->index = conv->nmsgs - 1;
    if (seq)
        *seq = conv->last_seq;
    if (!conv->first_response_at) {
        conv->first_response_at = now;
        core__save(core, conv);
        sla_count(core, conv, now);
    }
    if (agent->cfg->role == SB_ROLE_BOT)
        core__bot_answered(core, conv, fallback, now);
    core__flush_notices(core, now);
    return SB_OK;
}

int sb_core_agent_note(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                       const char *text, sb_ms_t now)
{
    sb_note_t *n;
    int rc;

    if (!core || !agent || !conv || !text)
        return SB_EINVAL;
    if ((rc = core__check_owner(agent, conv)) != SB_OK)
        return rc;
    core__enter(core);
    if (conv->nnotes == conv->notes_cap) {
        conv->notes_cap = conv->notes_cap ? conv->notes_cap * 2 : 4;
        conv->notes = sb_realloc(conv->notes, conv->notes_cap * sizeof(*conv->notes));
    }
    n = &conv->notes[conv->nnotes];
    n->agent_id = sb_strdup(agent->cfg->id);
    n->text = sb_strdup(text);
    n->ts = now;
    core__act(core, SB_ACT_NOTE, conv, agent)->index = conv->nnotes++;
    return SB_OK;
}

int sb_core_agent_close(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                        const char *resolution, sb_ms_t now)
{
    agent_ext_t *a;
    int rc;

    if (!core || !agent || !conv)
        return SB_EINVAL;
    if ((rc = core__check_owner(agent, conv)) != SB_OK)
        return rc;
    core__enter(core);
    a = close_conv(core, conv, "closed", "agent", resolution, now);
    if (a)
        core__match_agent(core, a, NULL, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* Checks an answer to an offer: SB_OK when conv is offered to agent right
 * now, SB_ECONFLICT when it was offered to it once but no longer is (expired,
 * declined, withdrawn, closed) or the offer's deadline has passed, else
 * SB_EFORBIDDEN. */
static int check_offer(const sb_agent_t *agent, const sb_conv_t *conv, sb_ms_t now)
{
    const conv_ext_t *cx = (const conv_ext_t *)conv;

    if (conv->state == SB_CONV_OFFERED && conv->agent == agent)
        return now < cx->t_offer.at ? SB_OK : SB_ECONFLICT;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    for (size_t i = 0; i < conv->nhistory; i++)
        if (conv->history[i].kind == SB_EV_OFFERED && conv->history[i].agent_id &&
            strcmp(conv->history[i].agent_id, agent->cfg->id) == 0)
            return SB_ECONFLICT;
    return SB_EFORBIDDEN;
}

int sb_core_agent_accept(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv, sb_ms_t now)
{
    conv_ext_t *cx;
    int rc;

    if (!core || !agent || !conv)
        return SB_EINVAL;
    if ((rc = check_offer(agent, conv, now)) != SB_OK)
        return rc;
    core__enter(core);
    cx = core__cx(conv);
    core__timer_cancel(&core->timers, &cx->t_offer);
    core->pools[conv->pool].offers_pending--;
    agent->missed_offers = 0;
    core__assign(core, conv, core__ax(agent), now);
    core__flush_notices(core, now);
    return SB_OK;
}

int sb_core_agent_decline(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv, sb_ms_t now)
{
    int rc;

    if (!core || !agent || !conv)
        return SB_EINVAL;
    if ((rc = check_offer(agent, conv, now)) != SB_OK)
        return rc;
    core__enter(core);
    agent->missed_offers = 0;
    core__offer_failed(core, conv, SB_EV_DECLINED, NULL, false, now);
    core__flush_notices(core, now);
    return SB_OK;
}

/* --- time ------------------------------------------------------------------ */

void sb_core_tick(sb_core_t *core, sb_ms_t now)
{
    core_timer_t *t;

    if (!core)
        return;
    core__enter(core);
    while ((t = core__heap_top(&core->timers)) && t->at <= now) {
        core__timer_cancel(&core->timers, t);
        core__on_timer(core, t, now);
    }
    core__flush_notices(core, now);
}

sb_ms_t sb_core_next_deadline(const sb_core_t *core)
{
    core_timer_t *t = core ? core__heap_top(&core->timers) : NULL;
    return t ? t->at : SB_NEVER;
}

/* --- actions ---------------------------------------------------------------- */

const sb_action_t *sb_core_actions(const sb_core_t *core, size_t *count)
{
    if (count)
        *count = core ? core->nactions : 0;
    return core ? core->actions : NULL;
}

void sb_core_actions_clear(sb_core_t *core)
{
    if (!core)
        return;
    free_actions(core);
    free_closed(core);
    core->epoch++;
}
