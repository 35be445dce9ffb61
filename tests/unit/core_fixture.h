/*
 * core_fixture.h - builds an sb_config_t in memory for the core's tests (and
 * the routing benchmark), without the configuration loader, plus small
 * helpers over the core's action list.
 *
 * Add languages and skills first (agents size their level arrays by them),
 * then pools, topics and agents; create the core last (it borrows the
 * agents). fx_free() frees what the fixture allocated.
 */
#ifndef SB_CORE_FIXTURE_H
#define SB_CORE_FIXTURE_H

#include "switchboard/config.h"
#include "switchboard/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline sb_config_t *fx_new(void)
{
    sb_config_t *cfg = sb_calloc(1, sizeof(*cfg));
    cfg->default_language = 0;
    cfg->detect_language = false;
    cfg->wrap_up_s = 0;
    cfg->agent_grace_s = 30;
    cfg->max_missed_offers = 3;
    cfg->default_handle_s = 180;
    cfg->transcript_limit = 200;
    cfg->default_pool = 0;
    cfg->esc_max_per_conversation = 5;
    cfg->esc_bot_fallbacks = 2;
    return cfg;
}

static inline int fx_language(sb_config_t *cfg, const char *id)
{
    cfg->languages = sb_realloc(cfg->languages, (cfg->nlanguages + 1) * sizeof(char *));
    cfg->languages[cfg->nlanguages] = sb_strdup(id);
    if (cfg->templates) {
        cfg->templates = sb_realloc(cfg->templates,
                                    (cfg->nlanguages + 1) * sizeof(*cfg->templates));
        memset(cfg->templates[cfg->nlanguages], 0, sizeof(*cfg->templates));
    }
    return (int)cfg->nlanguages++;
}

static inline int fx_skill(sb_config_t *cfg, const char *id)
{
    cfg->skills = sb_realloc(cfg->skills, (cfg->nskills + 1) * sizeof(char *));
    cfg->skills[cfg->nskills] = sb_strdup(id);
    return (int)cfg->nskills++;
}

/* A pool with the configuration's defaults; adjust cfg->pools[i] after. */
static inline int fx_pool(sb_config_t *cfg, const char *id)
{
    sb_cfg_pool_t *p;
    cfg->pools = sb_realloc(cfg->pools, (cfg->npools + 1) * sizeof(*cfg->pools));
    p = &cfg->pools[cfg->npools];
    memset(p, 0, sizeof(*p));
    p->id = sb_strdup(id);
    p->tier = 1;
    p->strategy = SB_STRATEGY_LONGEST_IDLE;
    p->accept = SB_ACCEPT_DIRECT;
    p->offer_timeout_s = 15;
    p->max_wait_s = 0;
    p->overflow = -1;
    p->escalate_to = -1;
    p->sla_first_response_s = 60;
    return (int)cfg->npools++;
}

static inline void fx_step(sb_config_t *cfg, int pool, int after_s, int relax)
{
    sb_cfg_pool_t *p = &cfg->pools[pool];
    p->steps = sb_realloc(p->steps, (p->nsteps + 1) * sizeof(*p->steps));
    p->steps[p->nsteps].after_s = after_s;
    p->steps[p->nsteps].relax_skill_levels = relax;
    p->nsteps++;
}

static inline int fx_topic(sb_config_t *cfg, const char *id, int pool, int priority)
{
    sb_cfg_topic_t *t;
    cfg->topics = sb_realloc(cfg->topics, (cfg->ntopics + 1) * sizeof(*cfg->topics));
    t = &cfg->topics[cfg->ntopics];
    memset(t, 0, sizeof(*t));
    t->id = sb_strdup(id);
    t->pool = pool;
    t->priority = priority;
    return (int)cfg->ntopics++;
}

static inline void fx_topic_skill(sb_config_t *cfg, int topic, int skill, int level)
{
    sb_cfg_topic_t *t = &cfg->topics[topic];
    t->skills = sb_realloc(t->skills, (t->nskills + 1) * sizeof(*t->skills));
    t->skills[t->nskills].skill = skill;
    t->skills[t->nskills].level = level;
    t->nskills++;
}

/* An agent speaking no language, with no skills and no pools yet. */
static inline int fx_agent(sb_config_t *cfg, const char *id, const char *name,
                           sb_role_t role, int cap_chat, int cap_voice)
{
    sb_cfg_agent_t *a;
    cfg->agents = sb_realloc(cfg->agents, (cfg->nagents + 1) * sizeof(*cfg->agents));
    a = &cfg->agents[cfg->nagents];
    memset(a, 0, sizeof(*a));
    a->id = sb_strdup(id);
    a->name = sb_strdup(name ? name : id);
    a->role = role;
    a->languages = sb_calloc(cfg->nlanguages ? cfg->nlanguages : 1, 1);
    a->skills = sb_calloc(cfg->nskills ? cfg->nskills : 1, 1);
    a->cap_chat = cap_chat;
    a->cap_voice = cap_voice;
    return (int)cfg->nagents++;
}

static inline void fx_agent_pool(sb_config_t *cfg, int agent, int pool)
{
    sb_cfg_agent_t *a = &cfg->agents[agent];
    a->pools = sb_realloc(a->pools, (a->npools + 1) * sizeof(int));
    a->pools[a->npools++] = pool;
}

static inline void fx_agent_lang(sb_config_t *cfg, int agent, int language, int level)
{
    cfg->agents[agent].languages[language] = (uint8_t)level;
}

static inline void fx_agent_skill(sb_config_t *cfg, int agent, int skill, int level)
{
    cfg->agents[agent].skills[skill] = (uint8_t)level;
}

static inline void fx_template(sb_config_t *cfg, int language, sb_tpl_key_t key,
                               const char *text)
{
    if (!cfg->templates)
        cfg->templates = sb_calloc(cfg->nlanguages, sizeof(*cfg->templates));
    free(cfg->templates[language][key]);
    cfg->templates[language][key] = sb_strdup(text);
}

static inline void fx_free(sb_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nlanguages; i++) {
        if (cfg->templates)
            for (int k = 0; k < SB_TPL__COUNT; k++)
                free(cfg->templates[i][k]);
        free(cfg->languages[i]);
    }
    free(cfg->templates);
    free(cfg->languages);
    for (size_t i = 0; i < cfg->nskills; i++)
        free(cfg->skills[i]);
    free(cfg->skills);
    for (size_t i = 0; i < cfg->npools; i++) {
        free(cfg->pools[i].id);
        free(cfg->pools[i].steps);
    }
    free(cfg->pools);
    for (size_t i = 0; i < cfg->ntopics; i++) {
        free(cfg->topics[i].id);
        free(cfg->topics[i].skills);
    }
    free(cfg->topics);
    for (size_t i = 0; i < cfg->nagents; i++) {
        free(cfg->agents[i].id);
        free(cfg->agents[i].name);
        free(cfg->agents[i].pools);
        free(cfg->agents[i].languages);
        free(cfg->agents[i].skills);
    }
    free(cfg->agents);
    free(cfg);
}

/* --- action helpers ------------------------------------------------------- */

/* How many actions of kind (for conv and agent when not NULL) are pending. */
static inline int fx_count(sb_core_t *core, sb_action_kind_t kind, const sb_conv_t *conv,
                           const sb_agent_t *agent)
{
    size_t n;
    const sb_action_t *a = sb_core_actions(core, &n);
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].kind == kind && (!conv || a[i].conv == conv) &&
            (!agent || a[i].agent == agent))
            count++;
    return count;
}

/* The last pending action of kind for conv/agent (NULL = any), or NULL. */
static inline const sb_action_t *fx_last(sb_core_t *core, sb_action_kind_t kind,
                                         const sb_conv_t *conv, const sb_agent_t *agent)
{
    size_t n;
    const sb_action_t *a = sb_core_actions(core, &n);
    for (size_t i = n; i > 0; i--)
        if (a[i - 1].kind == kind && (!conv || a[i - 1].conv == conv) &&
            (!agent || a[i - 1].agent == agent))
            return &a[i - 1];
    return NULL;
}

/* Opens a chat conversation; language and topic may be NULL. */
static inline sb_conv_t *fx_open(sb_core_t *core, const char *id, const char *language,
                                 const char *topic, sb_ms_t now)
{
    sb_conv_spec_t spec;
    int err = 0;
    memset(&spec, 0, sizeof(spec));
    spec.id = id;
    spec.name = "Customer";
    spec.language = language;
    spec.topic = topic;
    spec.pool = -1;
    return sb_core_conv_open(core, &spec, now, &err);
}

/* Connects the agent and makes it available. */
static inline void fx_online(sb_core_t *core, sb_agent_t *a, sb_ms_t now)
{
    sb_core_agent_connect(core, a, now);
    sb_core_agent_status(core, a, SB_AGENT_AVAILABLE, now);
}

/* The last history event's kind, or -1. */
static inline int fx_last_event(const sb_conv_t *c)
{
    return c->nhistory ? (int)c->history[c->nhistory - 1].kind : -1;
}

/* Whether the history holds an event of kind. */
static inline int fx_has_event(const sb_conv_t *c, sb_event_kind_t kind)
{
    for (size_t i = 0; i < c->nhistory; i++)
        if (c->history[i].kind == kind)
            return 1;
    return 0;
}

#endif
