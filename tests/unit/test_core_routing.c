/*
 * test_core_routing.c - the routing engine beyond phase 1: strategies,
 * offers, wrap-up, disconnect grace, steps, overflow, queue estimates, bots,
 * transfers and escalations, supervisor stats, and races under a fake clock.
 */
#include "test.h"
#include "core_world.h"
#include "../../router/core/internal.h"   /* CORE_NOTICE_BATCH */

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
        char id[16];
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


/* --- offers ----------------------------------------------------------------- */

static world_t offer_world(int nagents, int cap)
{
    world_t w = world();
    w.cfg->pools[w.frontline].accept = SB_ACCEPT_OFFER;
    w.cfg->pools[w.frontline].offer_timeout_s = 15;
    for (int i = 0; i < nagents; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        agent(&w, id, NULL, cap);
    }
    return w;
}

static void test_offer_accept(void)
{
    world_t w = offer_world(2, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);
    const sb_action_t *act;

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_core_actions_clear(core);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 100);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    CHECK(c->agent == a0);
    CHECK_EQ_INT(a0->active_chat, 1);          /* the offer holds the slot */
    act = fx_last(core, SB_ACT_OFFER, c, NULL);
    CHECK(act && act->agent == a0);
    CHECK_EQ_INT(act->expires_in_ms, 15000);
    CHECK_EQ_INT(fx_count(core, SB_ACT_OFFER, NULL, NULL), 1);  /* one agent at a time */
    CHECK_EQ_INT(fx_count(core, SB_ACT_AGENT_JOINED, NULL, NULL), 0);
    CHECK_EQ_INT(sb_core_next_deadline(core), 15100);
    CHECK_EQ_INT(fx_last_event(c), SB_EV_OFFERED);
    CHECK_EQ_INT(sb_core_queue_position(core, c), 0);
    /* only the offered agent may answer; nobody may act on it yet */
    CHECK_EQ_INT(sb_core_agent_accept(core, a1, c, 200), SB_EFORBIDDEN);
    CHECK_EQ_INT(sb_core_agent_message(core, a0, c, "hi", false, 200, NULL), SB_EFORBIDDEN);
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c, 5000), SB_OK);
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    CHECK_EQ_INT(a0->active_chat, 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, c, a0), 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_AGENT_JOINED, c, NULL), 1);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c, 5001), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_message(core, a0, c, "hi", false, 5002, NULL), SB_OK);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_offer_decline_moves_on(void)
{
    world_t w = offer_world(2, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 100);
    CHECK(c->agent == a0);
    sb_core_actions_clear(core);
    CHECK_EQ_INT(sb_core_agent_decline(core, a0, c, 200), SB_OK);
    CHECK(c->agent == a1);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    CHECK_EQ_INT(a0->active_chat, 0);
    CHECK_EQ_INT(a1->active_chat, 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);  /* the agent asked */
    CHECK(fx_has_event(c, SB_EV_DECLINED));
    CHECK_EQ_STR(c->history[c->nhistory - 2].agent_id, "a0");
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c, 300), SB_ECONFLICT);
    sb_core_actions_clear(core);

    /* a1 declines too: back to a0, who did not just decline */
    CHECK_EQ_INT(sb_core_agent_decline(core, a1, c, 400), SB_OK);
    CHECK(c->agent == a0);
    /* a1 leaves; a0 declines: nobody else fits, so it is queued, and a0's
     * free slot does not take it straight back */
    sb_core_agent_status(core, a1, SB_AGENT_AWAY, 450);
    sb_core_actions_clear(core);
    CHECK_EQ_INT(sb_core_agent_decline(core, a0, c, 460), SB_OK);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK(c->agent == NULL);
    CHECK_EQ_INT(a0->active_chat, 0);
    CHECK_EQ_INT(sb_core_queue_position(core, c), 1);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, c, NULL)->position, 1);
    /* a later change (a0 frees or becomes available again) offers it anew */
    sb_core_agent_status(core, a0, SB_AGENT_AWAY, 500);
    fx_online(core, a0, 600);
    CHECK(c->agent == a0);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_offer_expiry_and_missed_offers(void)
{
    world_t w = offer_world(2, 1);
    w.cfg->max_missed_offers = 2;
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);
    const sb_action_t *act;

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 1000);
    CHECK(c1->agent == a0);
    sb_core_actions_clear(core);
    sb_core_tick(core, 15999);
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);
    sb_core_tick(core, 16000);
    act = fx_last(core, SB_ACT_RELEASED, c1, a0);
    CHECK(act);
    CHECK_EQ_STR(act->reason, "offer_expired");
    CHECK(fx_has_event(c1, SB_EV_OFFER_EXPIRED));
    CHECK(c1->agent == a1);
    CHECK_EQ_INT(fx_last(core, SB_ACT_OFFER, c1, a1)->expires_in_ms, 15000);
    CHECK_EQ_INT(a0->missed_offers, 1);
    CHECK_EQ_INT(a0->state, SB_AGENT_AVAILABLE);
    /* the accept that arrives after the expiry */
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c1, 16001), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_accept(core, a1, c1, 16002), SB_OK);
    sb_core_actions_clear(core);

    /* a second miss in a row: a0 is set away */
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 20000);
    CHECK(c2->agent == a0);
    sb_core_tick(core, 35000);
    CHECK_EQ_INT(a0->missed_offers, 2);
    CHECK_EQ_INT(a0->state, SB_AGENT_AWAY);
    act = fx_last(core, SB_ACT_AGENT_STATE, NULL, a0);
    CHECK(act);
    CHECK_EQ_STR(act->reason, "missed_offers");
    CHECK_EQ_INT(c2->state, SB_CONV_QUEUED);   /* a1 is full */
    CHECK_EQ_INT(a0->active_chat, 0);
    /* an accept exactly at the deadline, before the tick ran, is late too */
    sb_core_actions_clear(core);
    fx_online(core, a0, 40000);
    CHECK(c2->agent == a0);
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c2, 55000), SB_ECONFLICT);
    CHECK_EQ_INT(c2->state, SB_CONV_OFFERED);
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c2, 54999), SB_OK);
    CHECK_EQ_INT(a0->missed_offers, 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- wrap-up -------------------------------------------------------------------- */

static void test_wrap_up(void)
{
    world_t w = world();
    w.cfg->wrap_up_s = 30;
    agent(&w, "alice", "Alice", 2);
    sb_core_t *core = new_core(&w);
    sb_agent_t *alice = ag(core, 0);

    fx_online(core, alice, 0);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 10);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 20);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 30);
    CHECK_EQ_INT(c3->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_agent_close(core, alice, c1, NULL, 1000), SB_OK);
    CHECK_EQ_INT(alice->active_chat, 2);       /* wrapping up c1 */
    CHECK_EQ_INT(c3->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_customer_close(core, c2, 2000), SB_OK);
    CHECK_EQ_INT(alice->active_chat, 2);
    CHECK_EQ_INT(sb_core_next_deadline(core), 31000);
    sb_core_actions_clear(core);
    sb_core_tick(core, 30999);
    CHECK_EQ_INT(c3->state, SB_CONV_QUEUED);
    sb_core_tick(core, 31000);
    CHECK(c3->agent == alice);
    CHECK_EQ_INT(alice->active_chat, 2);       /* c2's wrap-up and c3 */
    CHECK_EQ_INT(sb_core_next_deadline(core), 32000);
    sb_core_tick(core, 32000);
    CHECK_EQ_INT(alice->active_chat, 1);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- disconnect ------------------------------------------------------------------- */

static void test_disconnect_grace_and_requeue_front(void)
{
    world_t w = world();
    agent(&w, "a0", "Ann", 1);
    agent(&w, "a1", "Ben", 1);
    fx_template(w.cfg, w.en, SB_TPL_REQUEUED, "Back in line for {pool}.");
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);
    const sb_action_t *act;

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 100);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 200);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 300);
    CHECK(c1->agent == a0 && c2->agent == a1);
    CHECK_EQ_INT(c3->state, SB_CONV_QUEUED);
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_agent_disconnect(core, a0, 1000), SB_OK);
    CHECK(!a0->connected);
    CHECK(c1->agent == a0);                     /* within grace it stays */
    CHECK_EQ_INT(c1->state, SB_CONV_ASSIGNED);
    /* c3's estimate changed (one agent fewer online): told within a second */
    sb_core_tick(core, 2000);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, c3, NULL)->eta_s, 180);
    CHECK_EQ_INT(sb_core_next_deadline(core), 31000);
    sb_core_actions_clear(core);
    sb_core_tick(core, 31000);
    CHECK_EQ_INT(a0->state, SB_AGENT_OFFLINE);
    CHECK_EQ_STR(fx_last(core, SB_ACT_AGENT_STATE, NULL, a0)->reason, "disconnected");
    CHECK_EQ_INT(c1->state, SB_CONV_QUEUED);
    CHECK(c1->agent == NULL);
    CHECK_EQ_INT(a0->active_chat, 0);
    CHECK(fx_has_event(c1, SB_EV_REQUEUED));
    /* at the front of the pool, ahead of c3 which arrived later anyway and
     * ahead of any newcomer */
    CHECK_EQ_INT(sb_core_queue_position(core, c1), 1);
    CHECK_EQ_INT(sb_core_queue_position(core, c3), 2);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, c1, NULL)->position, 1);
    act = fx_last(core, SB_ACT_MESSAGE, c1, NULL);
    CHECK(act);
    CHECK_EQ_INT(c1->msgs[act->index].from, SB_FROM_SYSTEM);
    CHECK_EQ_STR(c1->msgs[act->index].text, "Back in line for frontline.");
    sb_conv_t *vip = fx_open(core, "vip", NULL, "vip", 32000);
    CHECK_EQ_INT(sb_core_queue_position(core, vip), 2);
    sb_core_actions_clear(core);
    /* the next free slot takes the requeued one first */
    CHECK_EQ_INT(sb_core_agent_close(core, a1, c2, NULL, 40000), SB_OK);
    CHECK(c1->agent == a1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_reconnect_within_grace(void)
{
    world_t w = world();
    agent(&w, "a0", NULL, 2);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0);

    fx_online(core, a0, 0);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 100);
    sb_core_agent_disconnect(core, a0, 1000);
    /* no new work while disconnected */
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 2000);
    CHECK_EQ_INT(c2->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_agent_connect(core, a0, 20000), SB_OK);
    CHECK_EQ_INT(a0->state, SB_AGENT_AVAILABLE);
    CHECK(c2->agent == a0);                     /* back with room: matched */
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_tick(core, 40000);
    CHECK(c1->agent == a0);
    CHECK_EQ_INT(c1->state, SB_CONV_ASSIGNED);
    CHECK(!fx_has_event(c1, SB_EV_REQUEUED));
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_disconnect_moves_offers_at_once(void)
{
    world_t w = offer_world(2, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 100);
    CHECK(c->agent == a0);
    sb_core_actions_clear(core);
    sb_core_agent_disconnect(core, a0, 200);
    CHECK(c->agent == a1);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    CHECK_EQ_INT(a0->active_chat, 0);
    CHECK_EQ_INT(a0->missed_offers, 0);
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c, 300), SB_ECONFLICT);
    /* going away moves offers on too; the conversation waits for a slot */
    sb_core_agent_status(core, a1, SB_AGENT_AWAY, 400);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(a1->active_chat, 0);
    /* offline is refused while holding a conversation */
    fx_online(core, a1, 500);
    CHECK_EQ_INT(sb_core_agent_accept(core, a1, c, 600), SB_OK);
    CHECK_EQ_INT(sb_core_agent_status(core, a1, SB_AGENT_OFFLINE, 700), SB_ECONFLICT);
    CHECK_EQ_INT(a1->state, SB_AGENT_AVAILABLE);
    sb_core_agent_close(core, a1, c, NULL, 800);
    CHECK_EQ_INT(sb_core_agent_status(core, a1, SB_AGENT_OFFLINE, 900), SB_OK);
    CHECK_EQ_INT(a1->state, SB_AGENT_OFFLINE);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- steps and overflow --------------------------------------------------------- */

static void test_steps_relax(void)
{
    world_t w = world();
    fx_step(w.cfg, w.frontline, 30, 1);
    fx_step(w.cfg, w.frontline, 60, 1);
    int a = agent(&w, "junior", NULL, 1);
    fx_agent_skill(w.cfg, a, w.billing, 1);      /* topic asks billing 3 */
    sb_core_t *core = new_core(&w);
    sb_agent_t *junior = ag(core, 0);

    fx_online(core, junior, 0);
    sb_conv_t *c = fx_open(core, "c1", NULL, "billing", 1000);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_next_deadline(core), 31000);
    sb_core_tick(core, 31000);
    CHECK_EQ_INT(c->relaxed, 1);
    CHECK_EQ_INT(fx_last_event(c), SB_EV_RELAXED);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);      /* needs 2 now, junior has 1 */
    CHECK_EQ_INT(c->skills[0].level, 3);        /* as asked */
    sb_core_tick(core, 61000);
    CHECK_EQ_INT(c->relaxed, 2);
    CHECK(c->agent == junior);
    CHECK(fx_has_event(c, SB_EV_ASSIGNED));
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_overflow(void)
{
    world_t w = world();
    w.cfg->pools[w.frontline].max_wait_s = 120;
    w.cfg->pools[w.frontline].overflow = w.experts;
    fx_template(w.cfg, w.en, SB_TPL_TRANSFERRING, "To {pool}.");
    agent(&w, "front", NULL, 1);
    int e = fx_agent(w.cfg, "expert", "Eve", SB_ROLE_AGENT, 1, 0);
    fx_agent_pool(w.cfg, e, w.experts);
    fx_agent_lang(w.cfg, e, w.en, 9);
    sb_core_t *core = new_core(&w);
    sb_agent_t *front = ag(core, 0), *expert = ag(core, 1);
    const sb_action_t *act;

    fx_online(core, front, 0);
    fx_online(core, expert, 0);
    sb_conv_t *busy = fx_open(core, "busy", NULL, NULL, 500);
    CHECK(busy->agent == front);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 1000);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 2000);
    CHECK_EQ_INT(c1->state, SB_CONV_QUEUED);
    sb_core_actions_clear(core);
    sb_core_tick(core, 121000);
    CHECK_EQ_INT(c1->pool, w.experts);
    CHECK(c1->agent == expert);
    CHECK(fx_has_event(c1, SB_EV_OVERFLOW));
    const sb_event_t *ov = NULL;
    for (size_t i = 0; i < c1->nhistory; i++)
        if (c1->history[i].kind == SB_EV_OVERFLOW)
            ov = &c1->history[i];
    CHECK_EQ_INT(ov->from_pool, w.frontline);
    CHECK_EQ_INT(ov->pool, w.experts);
    CHECK_EQ_STR(ov->esc_kind, "functional");
    act = fx_last(core, SB_ACT_TRANSFERRING, c1, NULL);
    CHECK(act);
    CHECK_EQ_INT(act->pool, w.experts);
    CHECK_EQ_STR(act->esc_kind, "functional");
    CHECK_EQ_STR(act->text, "To experts.");
    CHECK_EQ_INT(c1->arrival, 1000);            /* keeps its place in line */
    CHECK_EQ_INT(c1->entered_pool_at, 121000);
    CHECK_EQ_INT(sb_core_queue_position(core, c2), 1);
    /* c2 overflows too, and waits in experts ahead of later arrivals there */
    sb_core_tick(core, 122000);
    CHECK_EQ_INT(c2->pool, w.experts);
    CHECK_EQ_INT(c2->state, SB_CONV_QUEUED);
    sb_conv_spec_t spec = { .id = "late", .pool = w.experts };
    int err;
    sb_conv_t *late = sb_core_conv_open(core, &spec, 123000, &err);
    CHECK_EQ_INT(sb_core_queue_position(core, late), 2);
    CHECK_EQ_INT(sb_core_queue_position(core, c2), 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_overflow_waits_for_an_open_offer(void)
{
    world_t w = offer_world(1, 1);
    w.cfg->pools[w.frontline].max_wait_s = 10;
    w.cfg->pools[w.frontline].overflow = w.experts;
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0);

    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 0);
    fx_online(core, a0, 5000);
    CHECK(c->agent == a0);                       /* offered at 5 s, expires at 20 s */
    sb_core_tick(core, 10000);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    CHECK_EQ_INT(c->pool, w.frontline);
    sb_core_tick(core, 20000);                   /* expired, nobody else: overflow */
    CHECK_EQ_INT(c->pool, w.experts);
    CHECK(fx_has_event(c, SB_EV_OFFER_EXPIRED));
    CHECK(fx_has_event(c, SB_EV_OVERFLOW));
    CHECK_EQ_INT(a0->active_chat, 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- notices and estimates ------------------------------------------------------ */

static void test_eta_from_measured_handle_times(void)
{
    world_t w = world();
    agent(&w, "a0", NULL, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0);
    sb_ms_t now = 0;

    fx_online(core, a0, now);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, now);
    sb_conv_t *q = fx_open(core, "q", NULL, NULL, now + 1);
    /* no history: default_handle_s (180) over one online slot */
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q, NULL)->eta_s, 180);
    sb_core_customer_close(core, q, now + 2);
    sb_core_actions_clear(core);
    sb_core_agent_close(core, a0, c1, NULL, now += 60000);   /* handled in 60 s */
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, now);
    sb_conv_t *q2 = fx_open(core, "q2", NULL, NULL, now);
    CHECK(c2->agent == a0);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q2, NULL)->eta_s, 60);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, q2, NULL)->text,
                 "You are number 1 in line (about 1 min).");
    sb_core_actions_clear(core);
    /* 120 s: the average moves a fifth of the way: 72 s */
    sb_core_agent_close(core, a0, c2, NULL, now += 120000);
    CHECK(q2->agent == a0);
    sb_conv_t *q3 = fx_open(core, "q3", NULL, NULL, now);
    sb_conv_t *q4 = fx_open(core, "q4", NULL, NULL, now);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q3, NULL)->eta_s, 72);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q4, NULL)->eta_s, 144);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, q4, NULL)->text,
                 "You are number 2 in line (about 3 min).");
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_notices_coalesce(void)
{
    world_t w = world();
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        agent(&w, id, NULL, 1);
    }
    sb_core_t *core = new_core(&w);
    sb_conv_t *busy[3], *q[6];
    char id[16];
    sb_ms_t now = 0;

    for (int i = 0; i < 3; i++)
        fx_online(core, ag(core, i), now);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "b%d", i);
        busy[i] = fx_open(core, id, NULL, NULL, ++now);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "q%d", i);
        q[i] = fx_open(core, id, NULL, NULL, ++now);
    }
    now = 10000;
    sb_core_actions_clear(core);
    /* three closes within a second: each moves the queue up by one */
    for (int i = 0; i < 3; i++)
        sb_core_agent_close(core, busy[i]->agent, busy[i], NULL, now + 100 * i);
    CHECK(q[0]->agent && q[1]->agent && q[2]->agent);
    for (int i = 3; i < 6; i++) {
        CHECK(fx_count(core, SB_ACT_QUEUE, q[i], NULL) <= 1);
        CHECK_EQ_INT(sb_core_queue_position(core, q[i]), i - 2);
    }
    /* the first close was told at once (position i - 1), the rest wait */
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[3], NULL)->position, 3);
    CHECK_EQ_INT(sb_core_next_deadline(core), 11000);
    sb_core_actions_clear(core);
    sb_core_tick(core, 11000);
    for (int i = 3; i < 6; i++) {
        CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, q[i], NULL), 1);
        CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[i], NULL)->position, i - 2);
    }
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- transfers and escalations --------------------------------------------------- */

/* frontline: a0 (en), a1 (en); experts: ex_en (en), ex_es (es);
 * supervisors: boss (en, es). frontline escalates to supervisors. */
static world_t esc_world(void)
{
    world_t w = world();
    int sup = fx_pool(w.cfg, "supervisors");
    w.cfg->pools[w.frontline].escalate_to = sup;
    agent(&w, "a0", "Ann", 2);
    agent(&w, "a1", "Ben", 2);
    int e = fx_agent(w.cfg, "ex_en", "Eve", SB_ROLE_AGENT, 2, 0);
    fx_agent_pool(w.cfg, e, w.experts);
    fx_agent_lang(w.cfg, e, w.en, 10);
    fx_agent_skill(w.cfg, e, w.technical, 9);
    e = fx_agent(w.cfg, "ex_es", "Eva", SB_ROLE_AGENT, 2, 0);
    fx_agent_pool(w.cfg, e, w.experts);
    fx_agent_lang(w.cfg, e, w.es, 10);
    fx_agent_skill(w.cfg, e, w.technical, 9);
    e = fx_agent(w.cfg, "boss", "Bo", SB_ROLE_SUPERVISOR, 5, 0);
    fx_agent_pool(w.cfg, e, sup);
    fx_agent_lang(w.cfg, e, w.en, 10);
    fx_agent_lang(w.cfg, e, w.es, 10);
    fx_agent_lang(w.cfg, 0, w.es, 5);
    return w;
}

static const sb_event_t *last_of(const sb_conv_t *c, sb_event_kind_t kind)
{
    for (size_t i = c->nhistory; i > 0; i--)
        if (c->history[i - 1].kind == kind)
            return &c->history[i - 1];
    return NULL;
}

static void test_transfer_to_pool(void)
{
    world_t w = esc_world();
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *ex_en = ag(core, 2), *ex_es = ag(core, 3);
    const sb_action_t *act;
    uint64_t seq;

    for (int i = 0; i < 5; i++)
        fx_online(core, ag(core, i), i);
    sb_conv_t *c = fx_open(core, "c1", "es", NULL, 100);
    CHECK(c->agent == a0);                       /* the only Spanish speaker */
    sb_core_customer_message(core, c, "hola", 110, &seq);
    sb_core_agent_message(core, a0, c, "un momento", false, 120, &seq);
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, w.frontline, NULL, NULL, 0, NULL, 200),
                 SB_ECONFLICT);                  /* same pool, same skills */
    CHECK_EQ_INT(sb_core_agent_transfer(core, ag(core, 1), c, w.experts, NULL, NULL, 0, NULL,
                                        200), SB_EFORBIDDEN);
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, w.experts, NULL, NULL, 0, "needs tech",
                                        300), SB_OK);
    CHECK_EQ_INT(c->pool, w.experts);
    CHECK(c->agent == ex_es);                    /* matched in its language */
    CHECK(c->agent != ex_en);
    CHECK_EQ_INT(a0->active_chat, 0);
    act = fx_last(core, SB_ACT_RELEASED, c, a0);
    CHECK(act);
    CHECK_EQ_STR(act->reason, "transferred");
    act = fx_last(core, SB_ACT_TRANSFERRING, c, NULL);
    CHECK(act);
    CHECK_EQ_STR(act->esc_kind, "functional");
    CHECK_EQ_INT(act->pool, w.experts);
    CHECK_EQ_STR(act->text, "Connecting you with experts. Your conversation comes with you.");
    const sb_event_t *ev = last_of(c, SB_EV_TRANSFERRED);
    CHECK(ev);
    CHECK_EQ_INT(ev->from_pool, w.frontline);
    CHECK_EQ_INT(ev->pool, w.experts);
    CHECK_EQ_STR(ev->agent_id, "a0");
    CHECK_EQ_STR(ev->esc_kind, "functional");
    CHECK_EQ_STR(ev->note, "needs tech");
    CHECK_EQ_INT(c->escalations, 1);
    CHECK_EQ_INT(c->nmsgs, 2);                   /* the context travels */
    CHECK_EQ_INT(c->arrival, 100);
    CHECK_EQ_INT(sb_core_agent_message(core, a0, c, "x", false, 310, &seq), SB_EFORBIDDEN);
    CHECK_EQ_INT(sb_core_agent_message(core, ex_es, c, "hola", false, 320, &seq), SB_OK);
    CHECK_EQ_INT(seq, 3);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_transfer_to_agent_and_skills(void)
{
    world_t w = esc_world();
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1), *ex_en = ag(core, 2),
               *ex_es = ag(core, 3);
    sb_skill_req_t tech[] = { { w.technical, 5 } };

    for (int i = 0; i < 5; i++)
        fx_online(core, ag(core, i), i);
    sb_conv_t *c = fx_open(core, "c1", "en", NULL, 100);
    CHECK(c->agent == a0);
    /* a named agent who does not fit (language) is a conflict: nothing moves */
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, w.experts, ex_es, NULL, 0, NULL, 200),
                 SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, -1, a0, NULL, 0, NULL, 200), SB_ECONFLICT);
    CHECK(c->agent == a0);
    CHECK_EQ_INT(c->escalations, 0);
    /* a colleague in the same pool */
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, -1, a1, NULL, 0, "over to you", 300), SB_OK);
    CHECK(c->agent == a1);
    CHECK_EQ_INT(c->pool, w.frontline);
    /* new skills in the same pool: nobody in frontline has technical 5 */
    CHECK_EQ_INT(sb_core_agent_transfer(core, a1, c, -1, NULL, tech, 1, NULL, 400), SB_OK);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(c->nskills, 1);
    CHECK_EQ_INT(c->skills[0].level, 5);
    CHECK_EQ_INT(a1->active_chat, 0);
    CHECK_EQ_INT(sb_core_agent_transfer(core, a1, c, w.experts, NULL, NULL, 0, NULL, 500),
                 SB_EFORBIDDEN);
    sb_core_free(core);
    core = new_core(&w);
    for (int i = 0; i < 5; i++)
        fx_online(core, ag(core, i), i);
    a0 = ag(core, 0);
    ex_en = ag(core, 2);
    c = fx_open(core, "c2", "en", NULL, 100);
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, w.experts, ex_en, tech, 1, NULL, 200),
                 SB_OK);
    CHECK(c->agent == ex_en);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_escalate_and_limits(void)
{
    world_t w = esc_world();
    w.cfg->esc_max_per_conversation = 2;
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1), *ex_en = ag(core, 2),
               *boss = ag(core, 4);
    const sb_action_t *act;

    for (int i = 0; i < 5; i++)
        fx_online(core, ag(core, i), i);
    sb_conv_t *c = fx_open(core, "c1", "en", NULL, 100);
    CHECK(c->agent == a0);
    CHECK_EQ_INT(sb_core_agent_transfer(core, a0, c, w.experts, NULL, NULL, 0, NULL, 200), SB_OK);
    CHECK(c->agent == ex_en);
    /* experts has no escalate_to */
    CHECK_EQ_INT(sb_core_agent_escalate(core, ex_en, c, NULL, 300), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_transfer(core, ex_en, c, w.frontline, NULL, NULL, 0, NULL, 400),
                 SB_OK);
    CHECK(c->agent == a1 || c->agent == a0);
    sb_agent_t *holder = c->agent;
    CHECK_EQ_INT(c->escalations, 2);
    sb_core_actions_clear(core);
    /* the limit is reached: nothing changes */
    CHECK_EQ_INT(sb_core_agent_escalate(core, holder, c, "angry", 500), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_customer_escalate(core, c, NULL, 500), SB_ECONFLICT);
    CHECK(c->agent == holder);
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);
    sb_core_free(core);

    w.cfg->esc_max_per_conversation = 5;
    core = new_core(&w);
    for (int i = 0; i < 5; i++)
        fx_online(core, ag(core, i), i);
    a0 = ag(core, 0);
    boss = ag(core, 4);
    c = fx_open(core, "c1", "en", NULL, 100);
    sb_core_actions_clear(core);
    CHECK_EQ_INT(sb_core_agent_escalate(core, a0, c, "wants a manager", 200), SB_OK);
    CHECK(c->agent == boss);
    act = fx_last(core, SB_ACT_RELEASED, c, a0);
    CHECK_EQ_STR(act->reason, "escalated");
    act = fx_last(core, SB_ACT_TRANSFERRING, c, NULL);
    CHECK_EQ_STR(act->esc_kind, "hierarchical");
    CHECK_EQ_STR(last_of(c, SB_EV_ESCALATED)->note, "wants a manager");
    CHECK_EQ_STR(last_of(c, SB_EV_ESCALATED)->esc_kind, "hierarchical");
    /* the supervisor pool has nowhere further */
    CHECK_EQ_INT(sb_core_customer_escalate(core, c, NULL, 300), SB_ECONFLICT);

    /* the customer asks while waiting */
    sb_core_agent_status(core, a0, SB_AGENT_AWAY, 400);
    sb_core_agent_status(core, ag(core, 1), SB_AGENT_AWAY, 400);
    sb_conv_t *q = fx_open(core, "q", "en", NULL, 500);
    CHECK_EQ_INT(q->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_customer_escalate(core, q, "now please", 600), SB_OK);
    CHECK(q->agent == boss);
    CHECK_EQ_STR(last_of(q, SB_EV_ESCALATED)->reason, "now please");
    CHECK_EQ_INT(sb_core_queue_length(core, w.frontline), 0);
    /* the phrase-trigger entry */
    sb_conv_t *p = fx_open(core, "p", "en", NULL, 700);
    CHECK_EQ_INT(sb_core_conv_escalate(core, p, SB_ESC_FUNCTIONAL, -1, "lawyer", 800), SB_EINVAL);
    CHECK_EQ_INT(sb_core_conv_escalate(core, p, SB_ESC_FUNCTIONAL, w.experts, "lawyer", 800),
                 SB_OK);
    CHECK_EQ_INT(p->pool, w.experts);
    CHECK_EQ_STR(last_of(p, SB_EV_ESCALATED)->reason, "lawyer");
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- bots ---------------------------------------------------------------------- */

static void test_bot_fallbacks_escalate(void)
{
    world_t w = world();
    int bots = fx_pool(w.cfg, "bots");
    w.cfg->pools[bots].tier = 0;
    w.cfg->pools[bots].escalate_to = w.frontline;
    w.cfg->default_pool = bots;
    w.cfg->esc_bot_fallbacks = 2;
    int b = fx_agent(w.cfg, "helper", "Helper", SB_ROLE_BOT, 100, 0);
    fx_agent_pool(w.cfg, b, bots);
    fx_agent_lang(w.cfg, b, w.en, 10);
    agent(&w, "human", "Hank", 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *bot = ag(core, 0), *human = ag(core, 1);
    uint64_t seq;

    fx_online(core, bot, 0);
    fx_online(core, human, 0);
    sb_conv_t *c = fx_open(core, "c1", "en", NULL, 100);
    CHECK(c->agent == bot);
    CHECK_EQ_INT(c->state, SB_CONV_BOT);
    CHECK_EQ_INT(sb_core_agent_message(core, bot, c, "Hi! Ask me.", false, 110, &seq), SB_OK);
    CHECK_EQ_INT(c->msgs[0].from, SB_FROM_BOT);
    sb_core_customer_message(core, c, "blah", 120, &seq);
    sb_core_agent_message(core, bot, c, "Sorry?", true, 130, &seq);
    CHECK_EQ_INT(c->bot_fallbacks, 1);
    sb_core_agent_message(core, bot, c, "Let me see.", false, 140, &seq);
    CHECK_EQ_INT(c->bot_fallbacks, 0);        /* consecutive only */
    sb_core_agent_message(core, bot, c, "Sorry?", true, 150, &seq);
    sb_core_actions_clear(core);
    sb_core_agent_message(core, bot, c, "Sorry??", true, 160, &seq);
    CHECK(c->agent == human);
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    CHECK_EQ_INT(c->pool, w.frontline);
    CHECK_EQ_STR(fx_last(core, SB_ACT_RELEASED, c, bot)->reason, "escalated");
    CHECK_EQ_STR(last_of(c, SB_EV_ESCALATED)->reason, "bot_fallbacks");
    CHECK_EQ_INT(c->nmsgs, 6);
    CHECK_EQ_INT(bot->active_chat, 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- supervisor stats ---------------------------------------------------------- */

static void test_pool_stats(void)
{
    world_t w = offer_world(4, 1);
    w.cfg->pools[w.frontline].sla_first_response_s = 60;
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1), *a2 = ag(core, 2);
    sb_pool_stats_t st;
    uint64_t seq;

    CHECK_EQ_INT(sb_core_pool_stats(core, 99, 0, &st), SB_EINVAL);
    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_core_agent_connect(core, a2, 20);        /* away */
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 1000);    /* offered to a0 */
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 2000);    /* offered to a1 */
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 3000);    /* queued */
    sb_conv_t *c4 = fx_open(core, "c4", NULL, "vip", 4000);   /* queued first */
    CHECK_EQ_INT(sb_core_pool_stats(core, w.frontline, 10000, &st), SB_OK);
    CHECK_EQ_INT(st.queue_length, 2);
    CHECK_EQ_INT(st.longest_wait_ms, 7000);     /* c3, though c4 is ahead of it */
    CHECK_EQ_INT(st.offers_pending, 2);
    CHECK_EQ_INT(st.agents_busy, 2);
    CHECK_EQ_INT(st.agents_away, 1);
    CHECK_EQ_INT(st.agents_offline, 1);
    CHECK_EQ_INT(st.agents_available, 0);
    CHECK_EQ_INT(st.sla_total, 0);
    CHECK(st.sla_attainment == 1.0);
    CHECK_EQ_INT(st.handle_s, 180);

    sb_core_agent_accept(core, a0, c1, 5000);
    sb_core_agent_accept(core, a1, c2, 5000);
    sb_core_agent_message(core, a0, c1, "hi", false, 30000, &seq);   /* 29 s: met */
    sb_core_agent_message(core, a1, c2, "hi", false, 90000, &seq);   /* 88 s: missed */
    sb_core_agent_message(core, a0, c1, "again", false, 95000, &seq);
    sb_core_agent_close(core, a0, c1, NULL, 100000);
    CHECK(c4->agent == a0);                      /* offered */
    CHECK_EQ_INT(sb_core_pool_stats(core, w.frontline, 100000, &st), SB_OK);
    CHECK_EQ_INT(st.served, 1);
    CHECK_EQ_INT(st.sla_total, 2);
    CHECK_EQ_INT(st.sla_met, 1);
    CHECK(st.sla_attainment == 0.5);
    CHECK_EQ_INT(st.handle_s, 95);
    CHECK_EQ_INT(st.queue_length, 1);
    CHECK_EQ_INT(st.offers_pending, 1);
    /* unanswered and waited past the target: a miss */
    sb_core_customer_close(core, c3, 200000);
    CHECK_EQ_INT(sb_core_pool_stats(core, w.frontline, 200000, &st), SB_OK);
    CHECK_EQ_INT(st.sla_total, 3);
    CHECK_EQ_INT(st.queue_length, 0);
    CHECK_EQ_INT(st.longest_wait_ms, 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

/* --- races ------------------------------------------------------------------------ */

static void test_race_two_agents_free_in_one_turn(void)
{
    world_t w = world();
    agent(&w, "a0", NULL, 1);
    agent(&w, "a1", NULL, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);

    fx_online(core, a0, 0);
    fx_online(core, a1, 0);
    sb_conv_t *c0 = fx_open(core, "c0", NULL, NULL, 10);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 20);
    sb_conv_t *q0 = fx_open(core, "q0", NULL, NULL, 30);
    sb_conv_t *q1 = fx_open(core, "q1", NULL, NULL, 40);
    sb_conv_t *q2 = fx_open(core, "q2", NULL, NULL, 50);
    sb_core_actions_clear(core);
    /* both close at the same instant, before the hub carries anything out */
    CHECK_EQ_INT(sb_core_agent_close(core, a1, c1, NULL, 5000), SB_OK);
    CHECK_EQ_INT(sb_core_agent_close(core, a0, c0, NULL, 5000), SB_OK);
    CHECK(q0->agent == a1);
    CHECK(q1->agent == a0);
    CHECK_EQ_INT(q2->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(a0->active_chat, 1);
    CHECK_EQ_INT(a1->active_chat, 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, q0, NULL), 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, q1, NULL), 1);
    /* q2 moved up twice in one instant: told at once, then within a second */
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, q2, NULL), 1);
    sb_core_tick(core, 6000);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q2, NULL)->position, 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_race_accept_and_expiry_same_turn(void)
{
    world_t w = offer_world(2, 1);
    sb_core_t *core = new_core(&w);
    sb_agent_t *a0 = ag(core, 0), *a1 = ag(core, 1);

    fx_online(core, a0, 0);
    fx_online(core, a1, 10);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 1000);
    CHECK(c->agent == a0);
    /* the hub's loop turn: the timer fires first, the accept comes after */
    sb_core_tick(core, 16000);
    CHECK(c->agent == a1);
    CHECK_EQ_INT(sb_core_agent_accept(core, a0, c, 16000), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_decline(core, a0, c, 16000), SB_ECONFLICT);
    CHECK_EQ_INT(c->state, SB_CONV_OFFERED);
    CHECK_EQ_INT(a0->active_chat, 0);
    CHECK_EQ_INT(a1->active_chat, 1);
    /* the customer leaves while a1's offer is out */
    sb_core_actions_clear(core);
    CHECK_EQ_INT(sb_core_customer_close(core, c, 17000), SB_OK);
    CHECK_EQ_STR(fx_last(core, SB_ACT_RELEASED, c, a1)->reason, "customer_left");
    CHECK_EQ_INT(a1->active_chat, 0);           /* an offer has no wrap-up */
    CHECK_EQ_INT(sb_core_agent_accept(core, a1, c, 17001), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_notice_walks_are_chunked(void)
{
    world_t w = world();
    agent(&w, "a0", NULL, 1);
    sb_core_t *core = new_core(&w);
    enum { N = 600, B = CORE_NOTICE_BATCH };
    static sb_conv_t *q[N];
    char id[16];
    sb_ms_t now = 0;
    int steps = 0;

    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "q%d", i);
        q[i] = fx_open(core, id, NULL, NULL, now);
    }
    sb_core_actions_clear(core);
    now = 5000;
    fx_online(core, ag(core, 0), now);          /* takes q0: everyone moves up */
    CHECK(q[0]->agent == ag(core, 0));
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, NULL, NULL), B);
    /* the rest, a batch per millisecond */
    while (sb_core_next_deadline(core) == now + 1) {
        sb_core_tick(core, ++now);
        steps++;
        CHECK(fx_count(core, SB_ACT_QUEUE, NULL, NULL) <= B * (steps + 1));
    }
    CHECK_EQ_INT(steps, (N - 1 + B - 1) / B - 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, NULL, NULL), N - 1);
    for (int i = 1; i < N; i++) {
        CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, q[i], NULL), 1);
        CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[i], NULL)->position, i);
    }
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);

    /* a change behind the walk's start, during the walk, is caught by the
     * walk after it; the one after starts where things changed */
    sb_core_actions_clear(core);
    now = 10000;
    sb_core_agent_close(core, ag(core, 0), q[0], NULL, now);     /* q1 leaves the queue */
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, NULL, NULL), B);
    sb_core_customer_close(core, q[2], now);                     /* q2 leaves, mid-walk */
    while (sb_core_next_deadline(core) == now + 1)
        sb_core_tick(core, ++now);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[599], NULL)->position, 597);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[3], NULL)->position, 2);   /* stale */
    CHECK_EQ_INT(sb_core_next_deadline(core), 11000);
    sb_core_actions_clear(core);
    now = 11000;
    sb_core_tick(core, now);
    while (sb_core_next_deadline(core) == now + 1)
        sb_core_tick(core, ++now);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, q[3], NULL)->position, 1);
    /* only what went stale was told again */
    CHECK(fx_count(core, SB_ACT_QUEUE, NULL, NULL) <= B);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, q[599], NULL), 0);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(w.cfg);
}

int main(void)
{
    RUN(test_round_robin_fair_across_reconnects);
    RUN(test_least_busy);
    RUN(test_best_skill);
    RUN(test_offer_accept);
    RUN(test_offer_decline_moves_on);
    RUN(test_offer_expiry_and_missed_offers);
    RUN(test_wrap_up);
    RUN(test_disconnect_grace_and_requeue_front);
    RUN(test_reconnect_within_grace);
    RUN(test_disconnect_moves_offers_at_once);
    RUN(test_steps_relax);
    RUN(test_overflow);
    RUN(test_overflow_waits_for_an_open_offer);
    RUN(test_eta_from_measured_handle_times);
    RUN(test_notices_coalesce);
    RUN(test_notice_walks_are_chunked);
    RUN(test_transfer_to_pool);
    RUN(test_transfer_to_agent_and_skills);
    RUN(test_escalate_and_limits);
    RUN(test_bot_fallbacks_escalate);
    RUN(test_pool_stats);
    RUN(test_race_two_agents_free_in_one_turn);
    RUN(test_race_accept_and_expiry_same_turn);
    fprintf(stderr, "test_core_routing: ok\n");
    return 0;
}
