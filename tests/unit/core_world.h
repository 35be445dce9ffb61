/*
 * core_world.h - the small world most core tests start from.
 */
#ifndef SB_CORE_WORLD_H
#define SB_CORE_WORLD_H

#include "core_fixture.h"

/* en, es, de; billing, technical; frontline (0), experts (1); topics billing
 * (billing 3), tech (technical 3), vip (priority 5). No agents. */
typedef struct world {
    sb_config_t *cfg;
    int en, es, de, billing, technical, frontline, experts;
} world_t;

static inline world_t world(void)
{
    world_t w;
    int t;

    w.cfg = fx_new();
    w.en = fx_language(w.cfg, "en");
    w.es = fx_language(w.cfg, "es");
    w.de = fx_language(w.cfg, "de");
    w.billing = fx_skill(w.cfg, "billing");
    w.technical = fx_skill(w.cfg, "technical");
    w.frontline = fx_pool(w.cfg, "frontline");
    w.experts = fx_pool(w.cfg, "experts");
    t = fx_topic(w.cfg, "billing", w.frontline, 0);
    fx_topic_skill(w.cfg, t, w.billing, 3);
    t = fx_topic(w.cfg, "tech", w.frontline, 0);
    fx_topic_skill(w.cfg, t, w.technical, 3);
    fx_topic(w.cfg, "vip", w.frontline, 5);
    return w;
}

/* An agent in frontline speaking en (10), with chat capacity cap. */
static inline int agent(world_t *w, const char *id, const char *name, int cap)
{
    int a = fx_agent(w->cfg, id, name, SB_ROLE_AGENT, cap, 0);
    fx_agent_pool(w->cfg, a, w->frontline);
    fx_agent_lang(w->cfg, a, w->en, 10);
    return a;
}

#endif
