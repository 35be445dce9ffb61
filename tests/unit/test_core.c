/*
 * test_core.c - the routing core, phase 1: language and skill fit, longest
 * idle choice, queues and notices, priority, capacity, close, ownership,
 * transcript seq, closed conversations and localized notices. A fake clock
 * (a plain integer) drives everything.
 */
#include "test.h"
#include "core_world.h"
#include "switchboard/map.h"
#include "../../router/core/template.h"

static void test_language_routing(void)
{
    world_t w = world();
    int en_only = agent(&w, "alice", "Alice", 3);
    int bilingual = agent(&w, "bruno", "Bruno", 3);
    fx_agent_lang(w.cfg, bilingual, w.es, 6);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_ms_t now = 1000;
    sb_agent_t *alice = sb_core_agent_at(core, (size_t)en_only);
    sb_agent_t *bruno = sb_core_agent_at(core, (size_t)bilingual);

    fx_online(core, alice, now);
    sb_conv_t *c = fx_open(core, "c1", "es-MX", NULL, now);
    CHECK(c);
    CHECK_EQ_INT(c->language, w.es);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK(c->agent == NULL);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c, NULL), 1);
    CHECK_EQ_INT(alice->active_chat, 0);

    /* an unknown language gets the default (en): alice takes it */
    sb_conv_t *c2 = fx_open(core, "c2", "xx", NULL, now);
    CHECK_EQ_INT(c2->language, w.en);
    CHECK(c2->agent == alice);

    now += 10;
    sb_core_actions_clear(core);
    fx_online(core, bruno, now);
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    CHECK(c->agent == bruno);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, c, bruno), 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_skill_levels(void)
{
    world_t w = world();
    int low = agent(&w, "low", NULL, 1);
    int high = agent(&w, "high", NULL, 1);
    fx_agent_skill(w.cfg, low, w.billing, 2);
    fx_agent_skill(w.cfg, high, w.billing, 3);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *a_low = sb_core_agent_at(core, (size_t)low);
    sb_agent_t *a_high = sb_core_agent_at(core, (size_t)high);
    sb_ms_t now = 0;

    fx_online(core, a_low, now);
    sb_conv_t *c = fx_open(core, "c1", "en", "billing", now);
    CHECK(c);
    CHECK_EQ_INT(c->nskills, 1);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    /* no skills needed: the low agent fits */
    sb_conv_t *plain = fx_open(core, "c2", "en", NULL, now);
    CHECK(plain->agent == a_low);
    fx_online(core, a_high, now + 5);
    CHECK(c->agent == a_high);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_longest_idle(void)
{
    world_t w = world();
    agent(&w, "a0", NULL, 2);
    agent(&w, "a1", NULL, 2);
    agent(&w, "a2", NULL, 2);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *a0 = sb_core_agent_at(core, 0), *a1 = sb_core_agent_at(core, 1),
               *a2 = sb_core_agent_at(core, 2);

    fx_online(core, a1, 100);   /* idle longest */
    fx_online(core, a2, 200);
    fx_online(core, a0, 300);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 400);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 500);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 600);
    sb_conv_t *c4 = fx_open(core, "c4", NULL, NULL, 700);
    CHECK(c1->agent == a1);
    CHECK(c2->agent == a2);
    CHECK(c3->agent == a0);
    CHECK(c4->agent == a1);     /* assigned at 400: longest since its last assignment */
    CHECK_EQ_INT(a1->idle_since, 700);

    /* ties go to the lower agent index */
    sb_core_free(core);
    core = sb_core_new(w.cfg);
    for (size_t i = 0; i < 3; i++)
        fx_online(core, sb_core_agent_at(core, 2 - i), 50);
    c1 = fx_open(core, "t1", NULL, NULL, 60);
    CHECK(c1->agent == sb_core_agent_at(core, 0));
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_queue_positions_and_notices(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    sb_ms_t now = 10000;
    sb_conv_t *c[4];
    const sb_action_t *q;
    char id[8];

    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        c[i] = fx_open(core, id, NULL, NULL, now + i);
        CHECK_EQ_INT(c[i]->state, SB_CONV_QUEUED);
        q = fx_last(core, SB_ACT_QUEUE, c[i], NULL);
        CHECK(q);
        CHECK_EQ_INT(q->position, i + 1);
        CHECK_EQ_INT(q->pool, w.frontline);
        /* nobody online: one slot assumed; 180 s per conversation */
        CHECK_EQ_INT(q->eta_s, 180 * (i + 1));
        CHECK_EQ_INT(sb_core_queue_position(core, c[i]), i + 1);
        CHECK(c[i]->nhistory == 2);
        CHECK_EQ_INT(c[i]->history[0].kind, SB_EV_CREATED);
        CHECK_EQ_INT(c[i]->history[1].kind, SB_EV_QUEUED);
    }
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, c[1], NULL)->text,
                 "You are number 2 in line (about 6 min).");
    CHECK_EQ_INT(sb_core_queue_length(core, w.frontline), 4);
    /* a newcomer at the back moves nobody: one QUEUE each */
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c[0], NULL), 1);
    sb_core_actions_clear(core);

    now += 5000;
    fx_online(core, alice, now);
    CHECK(c[0]->agent == alice);
    CHECK_EQ_INT(sb_core_queue_position(core, c[0]), 0);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c[0], NULL), 0);
    for (int i = 1; i < 4; i++) {
        q = fx_last(core, SB_ACT_QUEUE, c[i], NULL);
        CHECK(q);
        CHECK_EQ_INT(q->position, i);
        CHECK_EQ_INT(sb_core_queue_position(core, c[i]), i);
        CHECK_EQ_INT(q->eta_s, 180 * i);
    }
    sb_core_actions_clear(core);

    /* a customer who leaves the queue moves those behind up */
    now += 5000;
    CHECK_EQ_INT(sb_core_customer_close(core, c[2], now), SB_OK);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c[1], NULL), 0);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, c[3], NULL)->position, 2);
    CHECK_EQ_INT(fx_last(core, SB_ACT_CLOSED, c[2], NULL) != NULL, 1);
    CHECK_EQ_STR(fx_last(core, SB_ACT_CLOSED, c[2], NULL)->reason, "customer");
    CHECK_EQ_INT(fx_count(core, SB_ACT_RELEASED, NULL, NULL), 0);
    CHECK_EQ_INT(sb_core_queue_length(core, w.frontline), 2);
    CHECK_EQ_INT(sb_core_conv_count(core), 3);
    sb_core_actions_clear(core);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_eta_text(void)
{
    char buf[32];
    core__eta_text(0, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "1 min");
    core__eta_text(59, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "1 min");
    core__eta_text(60, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "1 min");
    core__eta_text(61, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "2 min");
    core__eta_text(180, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "3 min");
    CHECK_EQ_INT(core__eta_text(2147483647, buf, sizeof(buf)), 12);
    CHECK_EQ_STR(buf, "35791395 min");
    core__eta_text(600, buf, 4);
    CHECK_EQ_STR(buf, "10 ");
    long long v[] = { 0, 7, 9, 10, 42, 99, 100, 101, 999, 1000, 12345, 987654321, -1, -10,
                      -12345, 9223372036854775807LL, -9223372036854775807LL - 1 };
    const char *want[] = { "0", "7", "9", "10", "42", "99", "100", "101", "999", "1000",
                           "12345", "987654321", "-1", "-10", "-12345",
                           "9223372036854775807", "-9223372036854775808" };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        core__itoa(v[i], buf);
        CHECK_EQ_STR(buf, want[i]);
    }
    CHECK_EQ_INT(core__utoa(18446744073709551615ULL, buf), 20);
    CHECK_EQ_STR(buf, "18446744073709551615");
}

static void test_assign_in_order_when_available(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 2);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 1);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 2);
    sb_conv_t *c3 = fx_open(core, "c3", NULL, NULL, 3);
    size_t n;
    const sb_action_t *acts;
    int first = -1, second = -1;

    sb_core_actions_clear(core);
    sb_core_agent_connect(core, alice, 2000);
    CHECK_EQ_INT(alice->state, SB_AGENT_AWAY);
    CHECK(c1->agent == NULL);   /* away gets nothing */
    sb_core_agent_status(core, alice, SB_AGENT_AVAILABLE, 2000);
    CHECK(c1->agent == alice);
    CHECK(c2->agent == alice);
    CHECK(c3->agent == NULL);
    CHECK_EQ_INT(alice->active_chat, 2);
    acts = sb_core_actions(core, &n);
    for (size_t i = 0; i < n; i++)
        if (acts[i].kind == SB_ACT_ASSIGNED) {
            if (first < 0)
                first = (int)i;
            else
                second = (int)i;
        }
    CHECK(acts[first].conv == c1);
    CHECK(acts[second].conv == c2);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, c3, NULL)->position, 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_priority(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    sb_conv_t *n1 = fx_open(core, "n1", NULL, NULL, 1);
    sb_conv_t *n2 = fx_open(core, "n2", NULL, NULL, 2);
    sb_conv_t *v1 = fx_open(core, "v1", NULL, "vip", 3);

    CHECK_EQ_INT(v1->priority, 5);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, v1, NULL)->position, 1);
    CHECK_EQ_INT(sb_core_queue_position(core, n1), 2);
    CHECK_EQ_INT(sb_core_queue_position(core, n2), 3);
    /* the newcomer moved the others back: they hear of it, but their last
     * notice was under a second ago, so it comes at the next tick */
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, n1, NULL), 1);
    CHECK(sb_core_next_deadline(core) <= 1 + 1000 + 2);
    sb_core_actions_clear(core);
    sb_core_tick(core, sb_core_next_deadline(core));
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, n1, NULL)->position, 2);
    CHECK_EQ_INT(fx_last(core, SB_ACT_QUEUE, n2, NULL)->position, 3);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);

    fx_online(core, alice, 5000);
    CHECK(v1->agent == alice);
    CHECK_EQ_INT(sb_core_agent_close(core, alice, v1, "done", 6000), SB_OK);
    CHECK(n1->agent == alice);
    CHECK_EQ_INT(sb_core_agent_close(core, alice, n1, NULL, 7000), SB_OK);
    CHECK(n2->agent == alice);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_capacity_never_exceeded(void)
{
    world_t w = world();
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "a%d", i);
        agent(&w, id, NULL, 2);
    }
    sb_core_t *core = sb_core_new(w.cfg);
    sb_conv_t *c[20];
    sb_ms_t now = 0;
    char id[8];
    int assigned = 0;

    for (size_t i = 0; i < 3; i++)
        fx_online(core, sb_core_agent_at(core, i), now);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        c[i] = fx_open(core, id, NULL, NULL, ++now);
        for (size_t k = 0; k < 3; k++)
            CHECK(sb_core_agent_at(core, k)->active_chat <= 2);
    }
    for (int i = 0; i < 20; i++)
        assigned += c[i]->state == SB_CONV_ASSIGNED;
    CHECK_EQ_INT(assigned, 6);
    CHECK_EQ_INT(sb_core_queue_length(core, w.frontline), 14);
    CHECK_EQ_INT(sb_core_conv_count(core), 20);
    /* close them all, one by one: each frees a slot for the next in line */
    for (int round = 0; round < 20; round++) {
        sb_conv_t *open = NULL;
        for (int i = 0; i < 20 && !open; i++)
            if (c[i] && c[i]->state == SB_CONV_ASSIGNED)
                open = c[i];
        CHECK(open);
        sb_agent_t *owner = open->agent;
        for (int i = 0; i < 20; i++)
            if (c[i] == open)
                c[i] = NULL;
        CHECK_EQ_INT(sb_core_agent_close(core, owner, open, NULL, ++now), SB_OK);
        sb_core_actions_clear(core);
        for (size_t k = 0; k < 3; k++)
            CHECK(sb_core_agent_at(core, k)->active_chat <= 2);
        /* queued ones are served in arrival order */
        for (int i = 0, seen_queued = 0; i < 20; i++) {
            if (!c[i])
                continue;
            if (c[i]->state == SB_CONV_QUEUED)
                seen_queued = 1;
            else
                CHECK(!seen_queued);
        }
    }
    CHECK_EQ_INT(sb_core_conv_count(core), 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_close_frees_capacity(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    const sb_action_t *act;
    size_t n;

    fx_online(core, alice, 0);
    sb_conv_t *c1 = fx_open(core, "c1", NULL, NULL, 10);
    sb_conv_t *c2 = fx_open(core, "c2", NULL, NULL, 20);
    CHECK(c1->agent == alice);
    CHECK_EQ_INT(c2->state, SB_CONV_QUEUED);
    sb_core_actions_clear(core);

    CHECK_EQ_INT(sb_core_agent_close(core, alice, c1, "solved", 5000), SB_OK);
    CHECK_EQ_INT(c1->state, SB_CONV_CLOSED);
    CHECK(sb_core_conv_find(core, "c1") == NULL);
    CHECK(sb_core_conv_find(core, "c2") == c2);
    CHECK_EQ_INT(c1->history[c1->nhistory - 1].kind, SB_EV_CLOSED);
    CHECK_EQ_STR(c1->history[c1->nhistory - 1].reason, "solved");
    act = sb_core_actions(core, &n);
    /* the closing conversation's actions first, in the documented order */
    CHECK_EQ_INT(act[0].kind, SB_ACT_CONV_SAVE);
    CHECK(act[0].conv == c1);
    CHECK_EQ_INT(act[1].kind, SB_ACT_EVENT);
    CHECK_EQ_INT(act[2].kind, SB_ACT_RELEASED);
    CHECK(act[2].agent == alice);
    CHECK_EQ_STR(act[2].reason, "closed");
    CHECK_EQ_INT(act[3].kind, SB_ACT_CLOSED);
    CHECK_EQ_STR(act[3].reason, "agent");
    CHECK_EQ_STR(act[3].text, "This conversation is closed. Thank you!");
    /* then the next in line */
    CHECK(c2->agent == alice);
    CHECK_EQ_INT(alice->active_chat, 1);
    act = fx_last(core, SB_ACT_AGENT_JOINED, c2, NULL);
    CHECK(act);
    CHECK_EQ_STR(act->text, "Alice has joined the conversation.");
    sb_core_actions_clear(core);

    /* the customer leaves: the agent is told */
    CHECK_EQ_INT(sb_core_customer_close(core, c2, 6000), SB_OK);
    act = fx_last(core, SB_ACT_RELEASED, c2, alice);
    CHECK(act);
    CHECK_EQ_STR(act->reason, "customer_left");
    CHECK_EQ_STR(fx_last(core, SB_ACT_CLOSED, c2, NULL)->reason, "customer");
    CHECK_EQ_INT(alice->active_chat, 0);
    sb_core_actions_clear(core);
    CHECK_EQ_INT(sb_core_conv_count(core), 0);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_ownership(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    agent(&w, "bob", "Bob", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0), *bob = sb_core_agent_at(core, 1);
    uint64_t seq = 0;

    fx_online(core, alice, 0);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 10);
    sb_conv_t *q = NULL;
    CHECK(c->agent == alice);
    CHECK_EQ_INT(sb_core_agent_message(core, bob, c, "hi", false, 20, &seq), SB_EFORBIDDEN);
    CHECK_EQ_INT(sb_core_agent_note(core, bob, c, "psst", 20), SB_EFORBIDDEN);
    CHECK_EQ_INT(sb_core_agent_close(core, bob, c, NULL, 20), SB_EFORBIDDEN);
    CHECK_EQ_INT(c->nmsgs, 0);
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    /* a queued conversation belongs to nobody */
    q = fx_open(core, "c2", NULL, NULL, 30);
    CHECK_EQ_INT(q->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_agent_message(core, alice, q, "hi", false, 40, &seq), SB_EFORBIDDEN);
    CHECK_EQ_INT(sb_core_agent_note(core, alice, c, "vip", 40), SB_OK);
    CHECK_EQ_INT(c->nnotes, 1);
    CHECK_EQ_STR(c->notes[0].agent_id, "alice");
    CHECK_EQ_INT(fx_count(core, SB_ACT_NOTE, c, alice), 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_seq_gap_free(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    uint64_t seq = 0;

    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 10);
    CHECK_EQ_INT(sb_core_customer_message(core, c, "hello?", 11, &seq), SB_OK);
    CHECK_EQ_INT(seq, 1);
    fx_online(core, alice, 20);
    CHECK(c->agent == alice);
    for (int i = 0; i < 10; i++) {
        if (i % 3 == 0) {
            CHECK_EQ_INT(sb_core_agent_message(core, alice, c, "a", false, 30 + i, &seq), SB_OK);
        } else {
            CHECK_EQ_INT(sb_core_customer_message(core, c, "c", 30 + i, &seq), SB_OK);
        }
        CHECK_EQ_INT(seq, (uint64_t)i + 2);
        CHECK_EQ_INT(fx_last(core, SB_ACT_MESSAGE, c, NULL)->index, i + 1);
    }
    for (size_t i = 0; i < c->nmsgs; i++)
        CHECK_EQ_INT(c->msgs[i].seq, i + 1);
    CHECK_EQ_INT(c->msgs[0].from, SB_FROM_CUSTOMER);
    CHECK_EQ_STR(c->msgs[0].name, "Customer");
    CHECK(c->msgs[0].agent_id == NULL);
    CHECK_EQ_INT(c->msgs[1].from, SB_FROM_AGENT);
    CHECK_EQ_STR(c->msgs[1].name, "Alice");
    CHECK_EQ_STR(c->msgs[1].agent_id, "alice");
    CHECK_EQ_INT(c->first_response_at, 30);
    CHECK_EQ_INT(c->last_seq, 11);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_closed_conflict(void)
{
    world_t w = world();
    agent(&w, "alice", "Alice", 1);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    uint64_t seq = 0;
    int err = 0;

    fx_online(core, alice, 0);
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, 10);
    CHECK_EQ_INT(sb_core_agent_close(core, alice, c, NULL, 20), SB_OK);
    CHECK_EQ_INT(sb_core_customer_message(core, c, "wait", 21, &seq), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_message(core, alice, c, "x", false, 21, &seq), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_note(core, alice, c, "x", 21), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_agent_close(core, alice, c, NULL, 21), SB_ECONFLICT);
    CHECK_EQ_INT(sb_core_customer_close(core, c, 21), SB_ECONFLICT);
    CHECK_EQ_INT(c->nmsgs, 0);
    sb_core_actions_clear(core);

    /* unknown topic, duplicate id */
    sb_conv_spec_t spec = { .id = "c2", .topic = "nope", .pool = -1 };
    CHECK(sb_core_conv_open(core, &spec, 30, &err) == NULL);
    CHECK_EQ_INT(err, SB_EINVAL);
    spec.topic = NULL;
    CHECK(sb_core_conv_open(core, &spec, 30, &err) != NULL);
    CHECK(sb_core_conv_open(core, &spec, 31, &err) == NULL);
    CHECK_EQ_INT(err, SB_ECONFLICT);
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_templates(void)
{
    world_t w = world();
    int a = agent(&w, "alice", "Alice", 1);
    fx_agent_lang(w.cfg, a, w.es, 8);
    fx_template(w.cfg, w.en, SB_TPL_QUEUED, "#{position} ({eta}, {eta_s}s) in {pool}");
    fx_template(w.cfg, w.es, SB_TPL_QUEUED, "Usted es el número {position} ({eta}) {unknown}");
    fx_template(w.cfg, w.en, SB_TPL_AGENT_JOINED, "{agent} joined {pool}.");
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);

    sb_conv_t *en = fx_open(core, "c1", "en", NULL, 0);
    sb_conv_t *es = fx_open(core, "c2", "es", NULL, 0);
    sb_conv_t *de = fx_open(core, "c3", "de", NULL, 0);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, en, NULL)->text, "#1 (3 min, 180s) in frontline");
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, es, NULL)->text,
                 "Usted es el número 2 (6 min) {unknown}");
    /* de has no template: the default language's */
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, de, NULL)->text, "#3 (9 min, 540s) in frontline");
    sb_core_actions_clear(core);
    fx_online(core, alice, 100);
    /* es has no agent_joined: falls back to en */
    CHECK_EQ_STR(fx_last(core, SB_ACT_AGENT_JOINED, en, NULL)->text, "Alice joined frontline.");
    CHECK_EQ_INT(fx_last(core, SB_ACT_AGENT_JOINED, en, NULL)->pool, w.frontline);
    sb_core_agent_close(core, alice, en, NULL, 200);
    CHECK_EQ_STR(fx_last(core, SB_ACT_AGENT_JOINED, es, NULL)->text, "Alice joined frontline.");
    /* nothing configured anywhere: built-in English */
    CHECK_EQ_STR(fx_last(core, SB_ACT_CLOSED, en, NULL)->text,
                 "This conversation is closed. Thank you!");
    sb_core_free(core);
    fx_free(w.cfg);
}

static void test_render(void)
{
    core_tpl_var_t vars[] = { { "a", "1" }, { "bb", "two" }, { "n", NULL } };
    char *s;

    s = core__render("x{a}y{bb}z{c}{n}|{", vars, 3);
    CHECK_EQ_STR(s, "x1ytwoz{c}|{");
    free(s);
    s = core__render("{{a}}", vars, 3);
    CHECK_EQ_STR(s, "{1}");
    free(s);
    s = core__render(NULL, vars, 3);
    CHECK_EQ_STR(s, "");
    free(s);
}

/* The id map against a plain array, through heavy churn (removals shift
 * entries back: nothing may get lost behind a hole). */
static void test_map_churn(void)
{
    enum { N = 3000 };
    static char keys[N][12];
    static int in[N];
    sb_map_t m;
    uint64_t r = 12345;
    size_t live = 0;

    sb_map_init(&m);
    for (int i = 0; i < N; i++)
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
    for (int step = 0; step < 200000; step++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int k = (int)(r % (step < 100000 ? N / 3 : N));
        if (in[k]) {
            CHECK(sb_map_get(&m, keys[k]) == &in[k]);
            CHECK(sb_map_put(&m, keys[k], &in[k]) == -1);
            if ((r >> 20) % 3) {
                CHECK(sb_map_del(&m, keys[k]) == &in[k]);
                in[k] = 0;
                live--;
            }
        } else {
            CHECK(sb_map_get(&m, keys[k]) == NULL);
            CHECK(sb_map_del(&m, keys[k]) == NULL);
            CHECK(sb_map_put(&m, keys[k], &in[k]) == 0);
            in[k] = 1;
            live++;
        }
        CHECK_EQ_INT(m.count, live);
    }
    for (int i = 0; i < N; i++)
        CHECK(sb_map_get(&m, keys[i]) == (in[i] ? &in[i] : NULL));
    size_t seen = 0;
    for (size_t i = 0; i < m.cap; i++)
        seen += m.slots[i].key != NULL;
    CHECK_EQ_INT(seen, live);
    sb_map_free(&m);
}

/* A compiled template renders exactly what core__render does. */
static void test_compiled_templates(void)
{
    core_tpl_var_t vars[] = { { "a", "1" }, { "bb", "two" }, { "n", NULL }, { "e", "" } };
    const char *names[] = { "a", "bb", "n", "e" };
    const char *tpls[] = {
        "x{a}y{bb}z{c}{n}|{", "{{a}}", "", "plain", "{a}", "{a}{a}{bb}", "}{a}{", "{",
        "{}", "{a", "a}", "{b{a}}", "{bb}{e}{n}end", "You are number {position} ({eta}).",
        "{unknown} {a} {", "{{{a}}}",
    };
    core_tpl_t t = { 0 };

    for (size_t i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++) {
        char *want = core__render(tpls[i], vars, 4);
        core__tpl_compile(&t, tpls[i], names, 4);
        CHECK(core__tpl_matches(&t, tpls[i], names, 4));
        CHECK(!core__tpl_matches(&t, tpls[i], names, 3));
        char *got = core__tpl_render(&t, vars);
        CHECK_EQ_STR(got, want);
        free(got);
        free(want);
    }
    core__tpl_compile(&t, NULL, names, 4);
    char *got = core__tpl_render(&t, vars);
    CHECK_EQ_STR(got, "");
    free(got);
    core__tpl_free(&t);
}

static void test_pool_override_and_disconnect(void)
{
    world_t w = world();
    int a = agent(&w, "alice", "Alice", 1);
    fx_agent_pool(w.cfg, a, w.experts);
    sb_core_t *core = sb_core_new(w.cfg);
    sb_agent_t *alice = sb_core_agent_at(core, 0);
    sb_conv_spec_t spec = { .id = "c1", .pool = w.experts };
    int err;

    fx_online(core, alice, 0);
    sb_conv_t *c = sb_core_conv_open(core, &spec, 10, &err);
    CHECK(c);
    CHECK_EQ_INT(c->pool, w.experts);
    CHECK(c->agent == alice);
    CHECK_EQ_STR(c->channel, "webchat");
    CHECK_EQ_INT(sb_core_agent_disconnect(core, alice, 20), SB_OK);
    CHECK(!alice->connected);
    /* its conversation stays with it */
    CHECK(c->agent == alice);
    CHECK_EQ_INT(sb_core_agent_connect(core, alice, 30), SB_OK);
    CHECK(alice->connected);
    CHECK(sb_core_agent_find(core, "alice") == alice);
    CHECK(sb_core_agent_find(core, "nobody") == NULL);
    CHECK_EQ_INT(sb_core_agent_count(core), 1);
    sb_core_free(core);
    fx_free(w.cfg);
}

int main(void)
{
    RUN(test_language_routing);
    RUN(test_skill_levels);
    RUN(test_longest_idle);
    RUN(test_queue_positions_and_notices);
    RUN(test_eta_text);
    RUN(test_assign_in_order_when_available);
    RUN(test_priority);
    RUN(test_capacity_never_exceeded);
    RUN(test_close_frees_capacity);
    RUN(test_ownership);
    RUN(test_seq_gap_free);
    RUN(test_closed_conflict);
    RUN(test_templates);
    RUN(test_render);
    RUN(test_compiled_templates);
    RUN(test_map_churn);
    RUN(test_pool_override_and_disconnect);
    fprintf(stderr, "test_core: ok\n");
    return 0;
}
