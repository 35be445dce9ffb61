/*
 * test_core_reload.c - sb_core_reconfigure (SIGHUP): agents added, removed
 * and changed, pools, languages, skills and topics that go away, templates,
 * and what must survive (agent objects, state, held conversations, pool
 * figures, offer deadlines). A fake clock drives everything; each test
 * builds the old and the new configuration from the same small world.
 */
#include "test.h"
#include "core_world.h"

static sb_agent_t *find(sb_core_t *core, const char *id)
{
    return sb_core_agent_find(core, id);
}

/* The index of the first pending history event of kind for conv, or -1. */
static int event_at(const sb_conv_t *c, sb_event_kind_t kind, const char *reason)
{
    for (size_t i = 0; i < c->nhistory; i++)
        if (c->history[i].kind == kind &&
            (!reason || (c->history[i].reason && strcmp(c->history[i].reason, reason) == 0)))
            return (int)i;
    return -1;
}

static void test_null_config(void)
{
    world_t w = world();
    sb_core_t *core = sb_core_new(w.cfg);

    CHECK_EQ_INT(sb_core_reconfigure(core, NULL, 0), SB_EINVAL);
    CHECK_EQ_INT(sb_core_reconfigure(NULL, w.cfg, 0), SB_EINVAL);
    /* the same configuration again changes nothing visible */
    CHECK_EQ_INT(sb_core_reconfigure(core, w.cfg, 0), SB_OK);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_agent_added_then_routed(void)
{
    world_t w1 = world(), w2 = world();
    agent(&w1, "alice", "Alice", 1);
    agent(&w2, "alice", "Alice", 1);
    agent(&w2, "bruno", "Bruno", 2);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_ms_t now = 1000;
    sb_agent_t *alice = find(core, "alice");

    fx_online(core, alice, now);
    sb_conv_t *c1 = fx_open(core, "c1", "en", NULL, now += 10);
    sb_conv_t *c2 = fx_open(core, "c2", "en", NULL, now += 10);
    CHECK(c1->agent == alice);
    CHECK_EQ_INT(c2->state, SB_CONV_QUEUED);
    CHECK(find(core, "bruno") == NULL);
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_reconfigure(core, w2.cfg, now += 10), SB_OK);
    CHECK_EQ_INT(sb_core_agent_count(core), 2);
    sb_agent_t *bruno = find(core, "bruno");
    CHECK(bruno && sb_core_agent_at(core, 1) == bruno);
    CHECK_EQ_INT(bruno->index, 1);
    CHECK(bruno->cfg == &w2.cfg->agents[1]);
    CHECK_EQ_INT(bruno->state, SB_AGENT_OFFLINE);     /* new agents start offline */
    CHECK(!bruno->connected);
    CHECK(sb_core_agent_at(core, 0) == alice);
    CHECK(alice->cfg == &w2.cfg->agents[0]);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);    /* the caller frees the old one after the clear */

    fx_online(core, bruno, now += 10);
    CHECK(c2->agent == bruno);
    CHECK_EQ_INT(c2->state, SB_CONV_ASSIGNED);
    sb_conv_t *c3 = fx_open(core, "c3", "en", NULL, now += 10);
    CHECK(c3->agent == bruno);
    sb_core_free(core);
    fx_free(w2.cfg);
}

/* bruno holds two assigned conversations and an offered one; the new file
 * has no bruno. */
static void test_agent_removed_holding_and_offered(void)
{
    world_t w1 = world(), w2 = world();
    w1.cfg->pools[w1.experts].accept = SB_ACCEPT_OFFER;
    w2.cfg->pools[w2.experts].accept = SB_ACCEPT_OFFER;
    int b = agent(&w1, "bruno", "Bruno", 3);
    fx_agent_pool(w1.cfg, b, w1.experts);
    agent(&w1, "alice", "Alice", 1);
    agent(&w2, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_ms_t now = 1000;
    sb_agent_t *bruno = find(core, "bruno"), *alice = find(core, "alice");
    sb_conv_spec_t spec = { .id = "offered", .language = "en", .pool = w1.experts };
    int err;

    fx_online(core, bruno, now);
    sb_conv_t *held = fx_open(core, "held", "en", NULL, now += 10);
    sb_conv_t *q2 = fx_open(core, "q2", "en", NULL, now += 10);
    sb_conv_t *offered = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK(held->agent == bruno && held->state == SB_CONV_ASSIGNED);
    CHECK(q2->agent == bruno && q2->state == SB_CONV_ASSIGNED);
    CHECK(offered && offered->state == SB_CONV_OFFERED && offered->agent == bruno);
    CHECK_EQ_INT(bruno->active_chat, 3);
    sb_conv_t *wait1 = fx_open(core, "wait1", "en", NULL, now += 10);
    CHECK_EQ_INT(wait1->state, SB_CONV_QUEUED);
    sb_core_actions_clear(core);

    void *user_marker = &user_marker;
    bruno->user = user_marker;
    CHECK_EQ_INT(sb_core_reconfigure(core, w2.cfg, now += 10), SB_OK);

    /* gone from the lookups at once, still readable until the clear */
    CHECK(find(core, "bruno") == NULL);
    CHECK_EQ_INT(sb_core_agent_count(core), 1);
    CHECK(sb_core_agent_at(core, 0) == alice);
    CHECK(alice->index == 0);
    CHECK_EQ_STR(bruno->cfg->id, "bruno");
    CHECK(bruno->user == user_marker);
    CHECK_EQ_INT(bruno->state, SB_AGENT_OFFLINE);
    const sb_action_t *st = fx_last(core, SB_ACT_AGENT_STATE, NULL, bruno);
    CHECK(st);
    CHECK_EQ_STR(st->reason, "removed");
    CHECK_EQ_INT(fx_count(core, SB_ACT_AGENT_STATE, NULL, bruno), 1);
    CHECK_EQ_INT(sb_core_agent_connect(core, bruno, now), SB_ECONFLICT);

    /* the assigned ones requeued at the front, before wait1 */
    CHECK_EQ_INT(held->state, SB_CONV_QUEUED);
    CHECK(held->agent == NULL);
    int ev = event_at(held, SB_EV_REQUEUED, "agent_removed");
    CHECK(ev >= 0);
    CHECK_EQ_STR(held->history[ev].agent_id, "bruno");
    CHECK_EQ_INT(held->msgs[held->nmsgs - 1].from, SB_FROM_SYSTEM);
    CHECK_EQ_INT(q2->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_queue_position(core, held), 1);
    CHECK_EQ_INT(sb_core_queue_position(core, q2), 2);
    CHECK_EQ_INT(sb_core_queue_position(core, wait1), 3);
    CHECK(fx_last(core, SB_ACT_QUEUE, held, NULL));
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, held, NULL)->position, 1);
    /* the offer withdrawn: back in its queue (experts) */
    CHECK_EQ_INT(offered->state, SB_CONV_QUEUED);
    CHECK(offered->agent == NULL);
    CHECK(event_at(offered, SB_EV_DECLINED, "agent_removed") >= 0);
    CHECK_EQ_INT(sb_core_queue_position(core, offered), 1);
    sb_pool_stats_t ps;
    sb_core_pool_stats(core, w2.experts, now, &ps);
    CHECK_EQ_INT(ps.offers_pending, 0);
    CHECK_EQ_INT(ps.queue_length, 1);
    /* no released to a removed agent: the hub closes its session */
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, bruno), 0);
    CHECK_EQ_INT(sb_core_agent_accept(core, bruno, offered, now), SB_ECONFLICT);

    sb_core_actions_clear(core);     /* bruno is freed here (ASan) */
    fx_free(w1.cfg);
    /* alice serves the front of the line */
    fx_online(core, alice, now += 10);
    CHECK(held->agent == alice);
    CHECK_EQ_INT(sb_core_next_deadline(core) == SB_NEVER ||
                 sb_core_next_deadline(core) > now, 1);
    sb_core_tick(core, now + 3600 * 1000);
    sb_core_free(core);
    fx_free(w2.cfg);
}

/* Removed before the hub drained: sb_core_free frees it too. */
static void test_agent_removed_freed_with_core(void)
{
    world_t w1 = world(), w2 = world();
    agent(&w1, "alice", "Alice", 1);
    agent(&w1, "bruno", "Bruno", 1);
    agent(&w2, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *bruno = find(core, "bruno");

    fx_online(core, bruno, 0);
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, 10);
    CHECK(c->agent == bruno);
    sb_core_agent_disconnect(core, bruno, 20);      /* grace timer armed */
    CHECK_EQ_INT(sb_core_reconfigure(core, w2.cfg, 30), SB_OK);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    /* the grace timer went with it */
    sb_core_tick(core, 1000000);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK(fx_count(core, SB_ACT_AGENT_STATE, NULL, bruno) == 1);
    sb_core_free(core);
    fx_free(w1.cfg);
    fx_free(w2.cfg);
}

static void test_kept_agents_keep_everything(void)
{
    world_t w1 = world(), w2 = world();
    agent(&w1, "alice", "Alice", 2);
    agent(&w1, "bruno", "Bruno", 1);
    agent(&w1, "carla", "Carla", 1);
    /* the new file: order changed, one more, bruno's name and skills changed */
    agent(&w2, "dora", "Dora", 1);
    agent(&w2, "carla", "Carla", 1);
    int b = agent(&w2, "bruno", "Bruno B.", 1);
    fx_agent_skill(w2.cfg, b, w2.billing, 9);
    agent(&w2, "alice", "Alice", 2);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *before[3];
    sb_ms_t now = 5000;
    int marks[3];

    for (int i = 0; i < 3; i++) {
        before[i] = sb_core_agent_at(core, (size_t)i);
        before[i]->user = &marks[i];
    }
    fx_online(core, before[0], now);
    sb_core_agent_connect(core, before[1], now);      /* away */
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, now += 100);
    CHECK(c->agent == before[0]);
    sb_ms_t idle = before[0]->idle_since;
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_reconfigure(core, w2.cfg, now += 100), SB_OK);
    CHECK(find(core, "alice") == before[0]);
    CHECK(find(core, "bruno") == before[1]);
    CHECK(find(core, "carla") == before[2]);
    CHECK(sb_core_agent_at(core, 3) == before[0]);
    CHECK(sb_core_agent_at(core, 2) == before[1]);
    CHECK(sb_core_agent_at(core, 1) == before[2]);
    CHECK_EQ_INT(before[0]->index, 3);
    CHECK(before[0]->cfg == &w2.cfg->agents[3]);
    CHECK_EQ_STR(before[1]->cfg->name, "Bruno B.");
    CHECK_EQ_INT(before[1]->cfg->skills[w2.billing], 9);
    for (int i = 0; i < 3; i++)
        CHECK(before[i]->user == &marks[i]);
    CHECK_EQ_INT(before[0]->state, SB_AGENT_AVAILABLE);
    CHECK(before[0]->connected);
    CHECK_EQ_INT(before[0]->idle_since, idle);
    CHECK_EQ_INT(before[0]->active_chat, 1);
    CHECK(c->agent == before[0] && c->state == SB_CONV_ASSIGNED);
    CHECK_EQ_INT(before[1]->state, SB_AGENT_AWAY);
    CHECK(before[1]->connected);
    CHECK_EQ_INT(before[2]->state, SB_AGENT_OFFLINE);
    /* nothing removed, nothing told */
    CHECK_EQ_INT(fx_count(core, SB_ACT_AGENT_STATE, NULL, NULL), 0);
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);

    /* still works: alice closes, answers with the new config */
    CHECK_EQ_INT(sb_core_agent_message(core, before[0], c, "hi", false, now += 10, NULL), SB_OK);
    CHECK_EQ_INT(sb_core_agent_close(core, before[0], c, NULL, now += 10), SB_OK);
    CHECK_EQ_INT(before[0]->active_chat, 0);
    sb_core_free(core);
    fx_free(w2.cfg);
}

static void test_capacity_raised_assigns_waiting(void)
{
    world_t w1 = world(), w2 = world();
    agent(&w1, "alice", "Alice", 1);
    agent(&w2, "alice", "Alice", 3);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *alice = find(core, "alice");
    sb_ms_t now = 0;

    fx_online(core, alice, now);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, now += 10);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, now += 10);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, now += 10);
    sb_conv_t *c4 = fx_open(core, "c4", NULL, NULL, now += 10);
    CHECK(c1->agent == alice);
    CHECK_EQ_INT(sb_core_queue_length(core, w1.frontline), 3);
    sb_core_actions_clear(core);

    sb_core_reconfigure(core, w2.cfg, now += 2000);
    /* two more slots: the first two waiting, in order, at once */
    CHECK(c2->agent == alice && c2->state == SB_CONV_ASSIGNED);
    CHECK(c3->agent == alice);
    CHECK_EQ_INT(c4->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_queue_position(core, c4), 1);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, NULL, alice), 2);
    CHECK_EQ_INT(fx_count(core, SB_ACT_AGENT_JOINED, c2, NULL), 1);
    /* c4 moved from 3rd to 1st: told */
    const sb_action_t *q = fx_last(core, SB_ACT_QUEUE, c4, NULL);
    CHECK(q);
    CHECK_EQ_INT(q->position, 1);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);
    sb_core_free(core);
    fx_free(w2.cfg);
}

static void test_capacity_lowered_keeps_what_it_holds(void)
{
    world_t w1 = world(), w2 = world();
    agent(&w1, "alice", "Alice", 3);
    agent(&w2, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *alice = find(core, "alice");
    sb_ms_t now = 0;
    sb_conv_t *c[4];
    char id[8];

    fx_online(core, alice, now);
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        c[i] = fx_open(core, id, NULL, NULL, now += 10);
        CHECK(c[i]->agent == alice);
    }
    sb_core_reconfigure(core, w2.cfg, now += 10);
    for (int i = 0; i < 3; i++)
        CHECK(c[i]->agent == alice && c[i]->state == SB_CONV_ASSIGNED);
    CHECK_EQ_INT(alice->active_chat, 3);
    c[3] = fx_open(core, "c3", NULL, NULL, now += 10);
    CHECK_EQ_INT(c[3]->state, SB_CONV_QUEUED);
    /* below capacity only once two are closed */
    sb_core_agent_close(core, alice, c[0], NULL, now += 10);
    CHECK_EQ_INT(c[3]->state, SB_CONV_QUEUED);
    sb_core_agent_close(core, alice, c[1], NULL, now += 10);
    CHECK_EQ_INT(c[3]->state, SB_CONV_QUEUED);
    sb_core_agent_close(core, alice, c[2], NULL, now += 10);
    CHECK(c[3]->agent == alice);
    sb_core_free(core);
    fx_free(w1.cfg);
    fx_free(w2.cfg);
}

/* The new file has no "experts"; it is a second pool after a new "vip"
 * pool, and default_pool is frontline at index 1. */
static void test_pool_removed_moves_queue_to_default(void)
{
    world_t w1 = world();
    sb_config_t *c2 = fx_new();
    int en = fx_language(c2, "en");
    fx_language(c2, "es");
    fx_language(c2, "de");
    fx_skill(c2, "billing");
    fx_skill(c2, "technical");
    int vip = fx_pool(c2, "vip");
    int front2 = fx_pool(c2, "frontline");
    c2->default_pool = front2;
    c2->pools[front2].max_wait_s = 300;
    c2->pools[front2].overflow = vip;
    int a2 = fx_agent(c2, "alice", "Alice", SB_ROLE_AGENT, 1, 0);
    fx_agent_pool(c2, a2, front2);
    fx_agent_lang(c2, a2, en, 10);
    int a1 = agent(&w1, "alice", "Alice", 1);
    fx_agent_pool(w1.cfg, a1, w1.experts);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *alice = find(core, "alice");
    sb_ms_t now = 100000;
    sb_conv_spec_t spec = { .language = "en", .pool = w1.experts };
    int err;
    sb_conv_t *e[3], *f[2], *held;
    char id[8];

    fx_online(core, alice, now);
    spec.id = "held";
    held = sb_core_conv_open(core, &spec, now, &err);
    CHECK(held->agent == alice && held->pool == w1.experts);
    /* frontline and experts queues, interleaved arrivals */
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        spec.id = id;
        e[i] = sb_core_conv_open(core, &spec, now += 1000, &err);
        if (i < 2) {
            snprintf(id, sizeof(id), "f%d", i);
            f[i] = fx_open(core, id, "en", NULL, now += 1000);
        }
    }
    CHECK_EQ_INT(sb_core_queue_length(core, w1.experts), 3);
    CHECK_EQ_INT(sb_core_queue_length(core, w1.frontline), 2);
    sb_core_actions_clear(core);

    now += 1000;
    CHECK_EQ_INT(sb_core_reconfigure(core, c2, now), SB_OK);
    CHECK_EQ_INT(sb_core_queue_length(core, front2), 5);
    CHECK_EQ_INT(sb_core_queue_length(core, vip), 0);
    /* arrival order across the two former queues */
    CHECK_EQ_INT(sb_core_queue_position(core, e[0]), 1);
    CHECK_EQ_INT(sb_core_queue_position(core, f[0]), 2);
    CHECK_EQ_INT(sb_core_queue_position(core, e[1]), 3);
    CHECK_EQ_INT(sb_core_queue_position(core, f[1]), 4);
    CHECK_EQ_INT(sb_core_queue_position(core, e[2]), 5);
    for (int i = 0; i < 3; i++) {
        int ev = event_at(e[i], SB_EV_TRANSFERRED, "pool_removed");
        CHECK(ev >= 0);
        CHECK_EQ_INT(e[i]->pool, front2);
        CHECK_EQ_INT(e[i]->history[ev].pool, front2);
        CHECK_EQ_INT(e[i]->history[ev].from_pool, -1);
        CHECK_EQ_INT(e[i]->entered_pool_at, now);
        CHECK_EQ_INT(fx_count(core, SB_ACT_TRANSFERRING, e[i], NULL), 1);
        CHECK(fx_last(core, SB_ACT_QUEUE, e[i], NULL));
        /* the history before names no pool that is gone */
        CHECK_EQ_INT(e[i]->history[0].pool, -1);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(f[i]->pool, front2);
        CHECK_EQ_INT(event_at(f[i], SB_EV_TRANSFERRED, NULL), -1);
        CHECK_EQ_INT(f[i]->history[0].pool, front2);   /* renumbered */
        CHECK_EQ_INT(fx_count(core, SB_ACT_TRANSFERRING, f[i], NULL), 0);
    }
    /* the assigned one stays with alice, now counted in frontline */
    CHECK(held->agent == alice && held->state == SB_CONV_ASSIGNED);
    CHECK_EQ_INT(held->pool, front2);
    CHECK(event_at(held, SB_EV_TRANSFERRED, "pool_removed") >= 0);
    CHECK_EQ_INT(fx_count(core, SB_ACT_TRANSFERRING, held, NULL), 0);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);

    /* max wait from the new pool: f0 waited since 102000 (300 s), e0 since now */
    sb_core_tick(core, 102000 + 300 * 1000);
    CHECK_EQ_INT(f[0]->pool, vip);
    CHECK_EQ_INT(e[0]->pool, front2);
    sb_core_tick(core, now + 300 * 1000);
    CHECK_EQ_INT(e[0]->pool, vip);
    sb_core_free(core);
    fx_free(c2);
}

static void test_language_and_skill_removed(void)
{
    world_t w1 = world();
    sb_config_t *c2 = fx_new();
    /* no "es", no "billing"; "de" moved to index 0 */
    int de = fx_language(c2, "de");
    int en = fx_language(c2, "en");
    int tech = fx_skill(c2, "technical");
    int front2 = fx_pool(c2, "frontline");
    fx_pool(c2, "experts");
    c2->default_language = en;
    int t = fx_topic(c2, "tech", front2, 0);
    fx_topic_skill(c2, t, tech, 3);
    int al = fx_agent(c2, "alice", "Alice", SB_ROLE_AGENT, 3, 0);
    fx_agent_pool(c2, al, front2);
    fx_agent_lang(c2, al, en, 10);
    fx_agent_lang(c2, al, de, 10);
    agent(&w1, "alice", "Alice", 3);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *alice = find(core, "alice");
    sb_ms_t now = 0;

    sb_core_agent_connect(core, alice, now);
    sb_conv_t *es = fx_open(core, "es", "es", NULL, now += 10);
    sb_conv_t *de1 = fx_open(core, "de1", "de", NULL, now += 10);
    sb_conv_t *bill = fx_open(core, "bill", "en", "billing", now += 10);
    sb_conv_t *tec = fx_open(core, "tec", "en", "tech", now += 10);
    CHECK_EQ_INT(es->language, w1.es);
    CHECK_EQ_INT(bill->nskills, 1);
    sb_core_actions_clear(core);

    sb_core_reconfigure(core, c2, now += 10);
    CHECK_EQ_INT(es->language, en);             /* gone: the default */
    CHECK_EQ_INT(de1->language, de);            /* renumbered */
    CHECK_EQ_INT(bill->nskills, 0);             /* billing gone: no requirement */
    CHECK_EQ_INT(bill->topic, -1);              /* topic gone */
    CHECK_EQ_INT(bill->priority, 0);
    CHECK_EQ_INT(tec->nskills, 1);
    CHECK_EQ_INT(tec->skills[0].skill, tech);
    CHECK_EQ_INT(tec->topic, t);
    CHECK(fx_count(core, SB_ACT_CONV_SAVE, es, NULL) == 1);
    CHECK(fx_count(core, SB_ACT_CONV_SAVE, bill, NULL) == 1);
    CHECK(fx_count(core, SB_ACT_CONV_SAVE, de1, NULL) == 0);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);

    /* alice speaks en and de: everyone fits except tec (technical 0) */
    sb_core_agent_status(core, alice, SB_AGENT_AVAILABLE, now += 10);
    CHECK(es->agent == alice);
    CHECK(de1->agent == alice);
    CHECK(bill->agent == alice);
    CHECK_EQ_INT(tec->state, SB_CONV_QUEUED);
    sb_core_free(core);
    fx_free(c2);
}

static void test_templates_follow_the_new_file(void)
{
    world_t w1 = world(), w2 = world();
    fx_template(w1.cfg, w1.en, SB_TPL_QUEUED, "old {position}");
    fx_template(w2.cfg, w2.en, SB_TPL_QUEUED, "new {position}");
    fx_template(w2.cfg, w2.en, SB_TPL_AGENT_JOINED, "{agent} is here");
    agent(&w1, "alice", "Alice", 1);
    agent(&w2, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_ms_t now = 0;

    sb_conv_t *c1 = fx_open(core, "c1", "en", NULL, now);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, c1, NULL)->text, "old 1");
    sb_core_actions_clear(core);
    sb_core_reconfigure(core, w2.cfg, now += 5000);
    sb_core_actions_clear(core);
    fx_free(w1.cfg);
    sb_conv_t *c2 = fx_open(core, "c2", "en", NULL, now += 10);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, c2, NULL)->text, "new 2");
    fx_online(core, find(core, "alice"), now += 10);
    CHECK_EQ_STR(fx_last(core, SB_ACT_AGENT_JOINED, c1, NULL)->text, "Alice is here");
    sb_core_free(core);
    fx_free(w2.cfg);
}

/* Pool figures, offers in flight and wait timers. */
static void test_what_survives(void)
{
    world_t w1 = world(), w2 = world();
    w1.cfg->pools[w1.frontline].strategy = SB_STRATEGY_ROUND_ROBIN;
    w2.cfg->pools[w2.frontline].strategy = SB_STRATEGY_ROUND_ROBIN;
    w1.cfg->pools[w1.experts].accept = SB_ACCEPT_OFFER;
    w2.cfg->pools[w2.experts].accept = SB_ACCEPT_OFFER;
    w2.cfg->pools[w2.experts].offer_timeout_s = 99;   /* only new offers */
    fx_step(w1.cfg, w1.frontline, 60, 1);
    fx_step(w2.cfg, w2.frontline, 20, 1);
    fx_step(w2.cfg, w2.frontline, 40, 2);
    /* the new file lists ex first: every index moves by one */
    int ex = fx_agent(w2.cfg, "ex", NULL, SB_ROLE_AGENT, 1, 0);
    fx_agent_pool(w2.cfg, ex, w2.experts);
    fx_agent_lang(w2.cfg, ex, w2.en, 10);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "a%d", i);
        agent(&w1, id, NULL, 10);
        agent(&w2, id, NULL, 10);
    }
    ex = fx_agent(w1.cfg, "ex", NULL, SB_ROLE_AGENT, 1, 0);
    fx_agent_pool(w1.cfg, ex, w1.experts);
    fx_agent_lang(w1.cfg, ex, w1.en, 10);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *a0 = find(core, "a0"), *a1 = find(core, "a1"), *a2 = find(core, "a2");
    sb_ms_t now = 0;
    sb_pool_stats_t st1, st2;
    int err;

    fx_online(core, a0, now += 10);
    fx_online(core, a1, now += 10);
    fx_online(core, a2, now += 10);
    sb_conv_t *r0 = fx_open(core, "r0", NULL, NULL, now += 10);
    sb_conv_t *r1 = fx_open(core, "r1", NULL, NULL, now += 10);
    CHECK(r0->agent == a0 && r1->agent == a1);
    CHECK_EQ_INT(sb_core_agent_close(core, a0, r0, NULL, now += 60000), SB_OK);
    sb_core_pool_stats(core, w1.frontline, now, &st1);
    CHECK_EQ_INT(st1.served, 1);
    sb_conv_spec_t spec = { .id = "off", .language = "en", .pool = w1.experts };
    fx_online(core, find(core, "ex"), now += 10);
    sb_conv_t *off = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK_EQ_INT(off->state, SB_CONV_OFFERED);
    sb_ms_t offer_end = now + 15000;
    /* billing 3: nobody fits until the steps relax it */
    sb_conv_t *sk = fx_open(core, "sk", "en", "billing", now += 10);
    CHECK_EQ_INT(sk->state, SB_CONV_QUEUED);
    sb_ms_t sk_since = now;
    sb_core_actions_clear(core);

    sb_core_reconfigure(core, w2.cfg, now += 10);
    CHECK_EQ_INT(a1->index, 2);
    sb_core_pool_stats(core, w2.frontline, now, &st2);
    CHECK_EQ_INT(st2.served, st1.served);
    CHECK_EQ_INT(st2.handle_s, st1.handle_s);
    CHECK_EQ_INT(st2.sla_total, st1.sla_total);
    /* round robin goes on after a1, by its new position */
    sb_conv_t *r2 = fx_open(core, "r2", NULL, NULL, now += 10);
    CHECK(r2->agent == a2);
    /* the offer runs out when it was going to */
    CHECK_EQ_INT(off->state, SB_CONV_OFFERED);
    sb_core_pool_stats(core, w2.experts, now, &st2);
    CHECK_EQ_INT(st2.offers_pending, 1);
    sb_core_tick(core, offer_end - 1);
    CHECK_EQ_INT(off->state, SB_CONV_OFFERED);
    sb_core_tick(core, offer_end);
    CHECK(event_at(off, SB_EV_OFFER_EXPIRED, NULL) >= 0);
    /* the new steps count from when sk started waiting */
    CHECK_EQ_INT(sk->relaxed, 0);
    sb_core_tick(core, sk_since + 20000);
    CHECK_EQ_INT(sk->relaxed, 1);
    CHECK_EQ_INT(sk->state, SB_CONV_QUEUED);
    sb_core_tick(core, sk_since + 40000);
    CHECK_EQ_INT(sk->relaxed, 3);
    CHECK(sk->agent == a0);         /* after a2, wrapping */
    sb_core_actions_clear(core);
    fx_free(w1.cfg);
    sb_core_free(core);
    fx_free(w2.cfg);
}

/* A bot that becomes a human agent (and back): its held conversations follow. */
static void test_role_change(void)
{
    world_t w1 = world(), w2 = world();
    int b1 = fx_agent(w1.cfg, "bot", "Bot", SB_ROLE_BOT, 5, 0);
    fx_agent_pool(w1.cfg, b1, w1.frontline);
    fx_agent_lang(w1.cfg, b1, w1.en, 10);
    agent(&w2, "bot", "Now human", 5);
    sb_core_t *core = sb_core_new(w1.cfg);
    sb_agent_t *bot = find(core, "bot");

    fx_online(core, bot, 0);
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, 10);
    CHECK_EQ_INT(c->state, SB_CONV_BOT);
    sb_core_reconfigure(core, w2.cfg, 20);
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    CHECK(c->agent == bot);
    sb_core_reconfigure(core, w1.cfg, 30);
    CHECK_EQ_INT(c->state, SB_CONV_BOT);
    sb_core_free(core);
    fx_free(w1.cfg);
    fx_free(w2.cfg);
}

int main(void)
{
    RUN(test_null_config);
    RUN(test_agent_added_then_routed);
    RUN(test_agent_removed_holding_and_offered);
    RUN(test_agent_removed_freed_with_core);
    RUN(test_kept_agents_keep_everything);
    RUN(test_capacity_raised_assigns_waiting);
    RUN(test_capacity_lowered_keeps_what_it_holds);
    RUN(test_pool_removed_moves_queue_to_default);
    RUN(test_language_and_skill_removed);
    RUN(test_templates_follow_the_new_file);
    RUN(test_what_survives);
    RUN(test_role_change);
    fprintf(stderr, "test_core_reload: ok\n");
    return 0;
}
