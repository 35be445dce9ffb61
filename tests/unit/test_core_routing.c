/*
 * test_core_routing.c - the routing engine beyond phase 1: strategies,
 * offers, wrap-up, disconnect grace, steps, overflow, queue estimates, bots,
 * transfers and escalations, supervisor stats, and races under a fake clock.
 */
#include "test.h"
#include "core_world.h"

static sb_core_t *new_core(world_t *w)
{
    return sb_core_new(w->cfg);
}

static sb_agent_t *ag(sb_core_t *core, int i)
{
    return sb_core_agent_at(core, (size_t)i);
}

/* --- strategies ------------------------------------------------------------ */

static void test_round_robin_fair_across_reconnects(void)
{
    world_t w = world();
    w.cfg->pools[w.frontline].strategy = SB_STRATEGY_ROUND_ROBIN;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "a%d", i);
        agent(&w, id, NULL, 10);
    }
    sb_core_t *core = new_core(&w);
    sb_ms_t now = 0;
    char id[8];
    int expect[] = { 0, 1, 2, 0, 1, 2, 0 };

    /* come online in reverse, so longest-idle would pick a2 first */
    for (int i = 2; i >= 0; i--)
        fx_online(core, ag(core, i), now += 10);
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        sb_conv_t *c = fx_open(core, id, NULL, NULL, now += 10);
        CHECK(c->agent == ag(core, expect[i]));
        if (i == 1) {
            /* a1 drops and comes back: it does not jump the rotation */
            sb_core_agent_disconnect(core, ag(core, 1), now += 10);
            fx_online(core, ag(core, 1), now += 10);
        }
    }
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_least_busy(void)
{
    world_t w = world();
    w.cfg->pools[w.frontline].strategy = SB_STRATEGY_LEAST_BUSY;
    agent(&w, "big", NULL, 4);
    agent(&w, "small", NULL, 2);
    sb_core_t *core = new_core(&w);
    sb_agent_t *big = ag(core, 0), *small = ag(core, 1);

    fx_online(core, small, 0);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 10);   /* only small online */
    CHECK(c1->agent == small);
    fx_online(core, big, 20);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 30);   /* big 0/4 < small 1/2 */
    CHECK(c2->agent == big);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 40);   /* big 1/4 < small 1/2 */
    CHECK(c3->agent == big);
    sb_conv_t *c4 = fx_open(core, "c4", NULL, NULL, 50);   /* 2/4 = 1/2: longest idle, small */
    CHECK(c4->agent == small);
    sb_conv_t *c5 = fx_open(core, "c5", NULL, NULL, 60);   /* small full */
    CHECK(c5->agent == big);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_best_skill(void)
{
    world_t w = world();
    w.cfg->pools[w.frontline].strategy = SB_STRATEGY_BEST_SKILL;
    int a0 = agent(&w, "a0", NULL, 5);
    int a1 = agent(&w, "a1", NULL, 5);
    int a2 = agent(&w, "a2", NULL, 5);
    fx_agent_skill(w.cfg, a0, w.billing, 5);
    fx_agent_skill(w.cfg, a1, w.billing, 9);
    fx_agent_skill(w.cfg, a2, w.billing, 9);
    fx_agent_lang(w.cfg, a1, w.en, 6);
    fx_agent_skill(w.cfg, a0, w.technical, 10);
    sb_core_t *core = new_core(&w);

    for (int i = 0; i < 3; i++)
        fx_online(core, ag(core, i), 10 * i);
    /* a1 and a2 tie on skill; a2 speaks English better */
    sb_conv_t *c1 = fx_open(core, "c1", "en", "billing", 100);
    CHECK(c1->agent == ag(core, a2));
    sb_conv_t *c2 = fx_open(core, "c2", "en", "tech", 110);
    CHECK(c2->agent == ag(core, a0));
    /* no skills asked: all tie at 0, then language level, then longest idle */
    sb_conv_t *c3 = fx_open(core, "c3", "en", NULL, 120);
    CHECK(c3->agent == ag(core, a2));   /* a2 idle since 100, a0 since 110 */
    sb_core_free(core);
    fx_free(w.cfg);
}

int main(void)
{
    RUN(test_round_robin_fair_across_reconnects);
    RUN(test_least_busy);
    RUN(test_best_skill);
    fprintf(stderr, "test_core_routing: ok\n");
    return 0;
}
