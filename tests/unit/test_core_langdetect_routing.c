/*
 * test_core_langdetect_routing.c - routing.detect_language in the core: an
 * undeclared language guessed from first_text at open or from the first
 * customer messages, the hold until the customer writes (or
 * SB_CORE_DETECT_HOLD_MS), switching while queued, and what never changes
 * (a declared language, a conversation an agent has). Fake clock.
 */
#include "test.h"
#include "core_world.h"

/* en, es, de; alice speaks en, bruno es, carla de; detection on. */
typedef struct lworld {
    world_t w;
    int alice, bruno, carla;
} lworld_t;

static lworld_t lworld(void)
{
    lworld_t l;

    l.w = world();
    l.w.cfg->detect_language = true;
    l.alice = agent(&l.w, "alice", "Alice", 2);
    l.bruno = fx_agent(l.w.cfg, "bruno", "Bruno", SB_ROLE_AGENT, 2, 0);
    fx_agent_pool(l.w.cfg, l.bruno, l.w.frontline);
    fx_agent_lang(l.w.cfg, l.bruno, l.w.es, 10);
    l.carla = fx_agent(l.w.cfg, "carla", "Carla", SB_ROLE_AGENT, 2, 0);
    fx_agent_pool(l.w.cfg, l.carla, l.w.frontline);
    fx_agent_lang(l.w.cfg, l.carla, l.w.de, 10);
    return l;
}

static sb_agent_t *ag(sb_core_t *core, int i)
{
    return sb_core_agent_at(core, (size_t)i);
}

static int count_events(const sb_conv_t *c, sb_event_kind_t kind)
{
    int n = 0;
    for (size_t i = 0; i < c->nhistory; i++)
        n += c->history[i].kind == kind;
    return n;
}

static const sb_event_t *last_of(const sb_conv_t *c, sb_event_kind_t kind)
{
    for (size_t i = c->nhistory; i > 0; i--)
        if (c->history[i - 1].kind == kind)
            return &c->history[i - 1];
    return NULL;
}

static void all_online(sb_core_t *core, sb_ms_t now)
{
    for (size_t i = 0; i < sb_core_agent_count(core); i++)
        fx_online(core, sb_core_agent_at(core, i), now);
}

static void test_spanish_first_message_routes_to_spanish_speaker(void)
{
    lworld_t l = lworld();
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;

    all_online(core, now);
    sb_core_actions_clear(core);
    /* web chat hello without a language: queued, held, though alice (en) is free */
    sb_conv_t *c = fx_open(core, "c1", NULL, NULL, now += 10);
    CHECK(c);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK(c->agent == NULL);
    CHECK_EQ_INT(c->language, l.w.en);
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c, NULL), 1);
    CHECK_EQ_INT(sb_core_next_deadline(core), now + SB_CORE_DETECT_HOLD_MS);
    sb_core_actions_clear(core);

    now += 3000;
    CHECK_EQ_INT(sb_core_customer_message(core, c, "Hola, tengo un problema con mi factura",
                                          now, &seq), SB_OK);
    CHECK_EQ_INT(c->language, l.w.es);
    CHECK(c->agent == ag(core, l.bruno));
    CHECK_EQ_INT(c->state, SB_CONV_ASSIGNED);
    const sb_event_t *ev = last_of(c, SB_EV_LANGUAGE);
    CHECK(ev);
    CHECK_EQ_STR(ev->reason, "detected: es");
    CHECK_EQ_STR(sb_event_name(SB_EV_LANGUAGE), "language");
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, c, ag(core, l.bruno)), 1);
    /* the message is in the transcript bruno gets */
    CHECK_EQ_INT(c->msgs[c->nmsgs - 1].from, SB_FROM_CUSTOMER);
    /* the hold timer is gone */
    CHECK(sb_core_next_deadline(core) == SB_NEVER || sb_core_next_deadline(core) > now);
    sb_core_tick(core, now + SB_CORE_DETECT_HOLD_MS * 2);
    CHECK(c->agent == ag(core, l.bruno));

    /* assigned: a message in another language changes nothing */
    sb_core_customer_message(core, c, "Hallo, ich habe ein Problem mit meiner Rechnung",
                             now += 10, &seq);
    CHECK_EQ_INT(c->language, l.w.es);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 1);
    sb_core_free(core);
    fx_free(l.w.cfg);
}

static void test_declared_language_never_changes(void)
{
    lworld_t l = lworld();
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;

    fx_online(core, ag(core, l.bruno), now);
    /* declared en, nobody speaks it online: waits, not held */
    sb_conv_t *c = fx_open(core, "c1", "en-GB", NULL, now += 10);
    CHECK_EQ_INT(c->language, l.w.en);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    for (int i = 0; i < 4; i++)
        sb_core_customer_message(core, c, "Hola, tengo un problema con mi factura",
                                 now += 2000, &seq);
    CHECK_EQ_INT(c->language, l.w.en);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 0);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    fx_online(core, ag(core, l.alice), now += 10);
    CHECK(c->agent == ag(core, l.alice));

    /* a declared language wins over first_text too */
    sb_conv_spec_t spec = { .id = "c2", .language = "de",
                            .first_text = "Hola, tengo un problema con mi factura",
                            .pool = -1 };
    int err;
    fx_online(core, ag(core, l.carla), now += 10);
    sb_conv_t *c2 = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK_EQ_INT(c2->language, l.w.de);
    CHECK(c2->agent == ag(core, l.carla));
    CHECK_EQ_INT(count_events(c2, SB_EV_LANGUAGE), 0);
    sb_core_free(core);
    fx_free(l.w.cfg);
}

static void test_undeclared_waits_then_routes_by_default(void)
{
    lworld_t l = lworld();
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 50000, opened;

    all_online(core, now);
    /* "xx" is not configured: undeclared like no language at all */
    sb_conv_t *c = fx_open(core, "c1", "xx", NULL, opened = now += 10);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    /* a declared conversation behind it is served at once */
    sb_conv_t *d = fx_open(core, "c2", "en", NULL, now += 10);
    CHECK(d->agent == ag(core, l.alice));
    CHECK_EQ_INT(sb_core_queue_position(core, c), 1);
    sb_core_tick(core, opened + SB_CORE_DETECT_HOLD_MS - 1);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_next_deadline(core), opened + SB_CORE_DETECT_HOLD_MS);
    sb_core_actions_clear(core);
    sb_core_tick(core, opened + SB_CORE_DETECT_HOLD_MS);
    CHECK(c->agent == ag(core, l.alice));       /* the default language */
    CHECK_EQ_INT(c->language, l.w.en);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 0);
    CHECK_EQ_INT(fx_count(core, SB_ACT_ASSIGNED, c, NULL), 1);
    sb_core_free(core);
    fx_free(l.w.cfg);
}

static void test_first_text_at_open(void)
{
    lworld_t l = lworld();
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;
    int err;
    const char *text = "Hallo, ich habe ein Problem mit meiner Rechnung";
    sb_conv_spec_t spec = { .id = "wa1", .channel = "whatsapp", .first_text = text,
                            .pool = -1 };

    all_online(core, now);
    sb_core_actions_clear(core);
    sb_conv_t *c = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK(c);
    CHECK_EQ_INT(c->language, l.w.de);
    CHECK(c->agent == ag(core, l.carla));       /* at once: no hold */
    CHECK_EQ_INT(fx_count(core, SB_ACT_QUEUE, c, NULL), 0);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 1);
    CHECK_EQ_STR(last_of(c, SB_EV_LANGUAGE)->reason, "detected: de");
    CHECK_EQ_INT(c->history[0].kind, SB_EV_CREATED);
    /* the channel then adds the text itself: nothing changes */
    sb_core_customer_message(core, c, text, now, &seq);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 1);
    CHECK_EQ_INT(c->nmsgs, 1);

    /* first text with too little evidence: routed at once in the default */
    spec.id = "wa2";
    spec.first_text = "ok";
    sb_conv_t *c2 = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK_EQ_INT(c2->language, l.w.en);
    CHECK(c2->agent == ag(core, l.alice));
    CHECK_EQ_INT(count_events(c2, SB_EV_LANGUAGE), 0);

    /* detect_language off: first_text is ignored */
    l.w.cfg->detect_language = false;
    spec.id = "wa3";
    spec.first_text = text;
    sb_conv_t *c3 = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK_EQ_INT(c3->language, l.w.en);
    CHECK(c3->agent == ag(core, l.alice));
    /* and nothing is held without it */
    sb_conv_t *c4 = fx_open(core, "c4", NULL, NULL, now += 10);
    CHECK_EQ_INT(c4->state, SB_CONV_QUEUED);   /* alice is full: 2 */
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_free(core);
    fx_free(l.w.cfg);
}

/* While it waits, each of the first three messages may switch the language;
 * its place in line stays and the customer hears its queue notice again in
 * the new language. */
static void test_switches_while_queued_up_to_three_messages(void)
{
    lworld_t l = lworld();
    fx_template(l.w.cfg, l.w.en, SB_TPL_QUEUED, "number {position}");
    fx_template(l.w.cfg, l.w.es, SB_TPL_QUEUED, "número {position}");
    fx_template(l.w.cfg, l.w.de, SB_TPL_QUEUED, "Nummer {position}");
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;

    sb_conv_t *first = fx_open(core, "first", "en", NULL, now += 10);
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, now += 10);
    sb_conv_t *last = fx_open(core, "last", "en", NULL, now += 10);
    CHECK_EQ_INT(sb_core_queue_position(core, c), 2);
    CHECK_EQ_STR(fx_last(core, SB_ACT_QUEUE, c, NULL)->text, "number 2");
    sb_core_actions_clear(core);

    /* 1: no evidence; the hold ends, nobody is online: stays queued in en */
    sb_core_customer_message(core, c, "ok", now += 2000, &seq);
    CHECK_EQ_INT(c->language, l.w.en);
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    /* 2: Spanish */
    sb_core_customer_message(core, c, "Hola, tengo un problema con mi factura", now += 2000,
                             &seq);
    CHECK_EQ_INT(c->language, l.w.es);
    CHECK_EQ_INT(sb_core_queue_position(core, c), 2);
    const sb_action_t *q = fx_last(core, SB_ACT_QUEUE, c, NULL);
    CHECK(q);
    CHECK_EQ_STR(q->text, "número 2");
    /* 3: German */
    sb_core_customer_message(core, c, "Hallo, ich habe ein Problem mit meiner Rechnung",
                             now += 2000, &seq);
    CHECK_EQ_INT(c->language, l.w.de);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 2);
    /* 4: too late to switch */
    sb_core_customer_message(core, c, "Hola, tengo un problema con mi factura", now += 2000,
                             &seq);
    CHECK_EQ_INT(c->language, l.w.de);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 2);
    CHECK_EQ_INT(sb_core_queue_position(core, last), 3);

    /* re-indexed: bruno (es) does not take it, carla (de) does */
    fx_online(core, ag(core, l.bruno), now += 10);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    fx_online(core, ag(core, l.carla), now += 10);
    CHECK(c->agent == ag(core, l.carla));
    fx_online(core, ag(core, l.alice), now += 10);
    CHECK(first->agent == ag(core, l.alice) && last->agent == ag(core, l.alice));
    sb_core_free(core);
    fx_free(l.w.cfg);
}

/* A switch that finds an agent at once routes right away. */
static void test_switch_routes_at_once(void)
{
    lworld_t l = lworld();
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;

    fx_online(core, ag(core, l.bruno), now);
    /* English first: nobody speaks it; then Spanish: bruno */
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, now += 10);
    sb_core_customer_message(core, c, "Hello, I have a problem with my invoice", now += 10,
                             &seq);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(count_events(c, SB_EV_LANGUAGE), 0);     /* en is the default already */
    sb_core_customer_message(core, c, "¿Dónde está mi pedido?", now += 10, &seq);
    CHECK(c->agent == ag(core, l.bruno));
    sb_core_free(core);
    fx_free(l.w.cfg);
}

/* Voice has no text to wait for; a held conversation that moves pools stays
 * held; a phrase is matched in the language just detected. */
static void test_voice_moves_and_phrases(void)
{
    lworld_t l = lworld();
    l.w.cfg->pools[l.w.frontline].escalate_to = l.w.experts;
    int ex = fx_agent(l.w.cfg, "ex", NULL, SB_ROLE_AGENT, 1, 1);
    fx_agent_pool(l.w.cfg, ex, l.w.experts);
    fx_agent_lang(l.w.cfg, ex, l.w.es, 10);
    fx_agent_lang(l.w.cfg, ex, l.w.en, 10);
    int v = agent(&l.w, "voice", NULL, 0);
    l.w.cfg->agents[v].cap_voice = 1;
    static char *gerente[] = { "gerente" };
    sb_cfg_phrase_rule_t rule = { .language = l.w.es, .match = gerente, .nmatch = 1,
                                  .kind = SB_ESC_HIERARCHICAL, .to = -1 };
    l.w.cfg->phrases = &rule;
    l.w.cfg->nphrases = 1;
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;
    uint64_t seq;
    int err;

    fx_online(core, ag(core, v), now);
    sb_conv_spec_t spec = { .id = "call", .media = SB_MEDIA_VOICE, .pool = -1 };
    sb_conv_t *call = sb_core_conv_open(core, &spec, now += 10, &err);
    CHECK(call->agent == ag(core, v));          /* not held */

    /* held, escalated by the customer: still held in experts */
    fx_online(core, ag(core, ex), now += 10);
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, now += 10);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK_EQ_INT(sb_core_customer_escalate(core, c, NULL, now += 10), SB_OK);
    CHECK_EQ_INT(c->pool, l.w.experts);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    CHECK(c->agent == NULL);
    sb_core_tick(core, now + SB_CORE_DETECT_HOLD_MS);
    CHECK(c->agent == ag(core, ex));
    sb_core_customer_close(core, c, now += SB_CORE_DETECT_HOLD_MS);

    /* "gerente" is an es phrase: matched once the message made it es */
    sb_conv_t *p = fx_open(core, "p", NULL, NULL, now += 10);
    CHECK_EQ_INT(sb_core_customer_message(core, p, "hola, quiero hablar con el gerente por favor",
                                          now += 10, &seq), SB_OK);
    CHECK_EQ_INT(p->language, l.w.es);
    CHECK_EQ_INT(p->pool, l.w.experts);
    CHECK(p->agent == ag(core, ex));
    sb_core_free(core);
    l.w.cfg->phrases = NULL;
    l.w.cfg->nphrases = 0;
    fx_free(l.w.cfg);
}

/* A reload that turns detection off lets held conversations go. */
static void test_reload_turns_detection_off(void)
{
    lworld_t l = lworld(), l2 = lworld();
    l2.w.cfg->detect_language = false;
    sb_core_t *core = sb_core_new(l.w.cfg);
    sb_ms_t now = 1000;

    all_online(core, now);
    sb_conv_t *c = fx_open(core, "c", NULL, NULL, now += 10);
    CHECK_EQ_INT(c->state, SB_CONV_QUEUED);
    sb_core_reconfigure(core, l2.w.cfg, now += 10);
    CHECK(c->agent == sb_core_agent_find(core, "alice"));
    CHECK_EQ_INT(sb_core_next_deadline(core), SB_NEVER);
    sb_core_actions_clear(core);
    sb_core_free(core);
    fx_free(l.w.cfg);
    fx_free(l2.w.cfg);
}

int main(void)
{
    RUN(test_spanish_first_message_routes_to_spanish_speaker);
    RUN(test_declared_language_never_changes);
    RUN(test_undeclared_waits_then_routes_by_default);
    RUN(test_first_text_at_open);
    RUN(test_switches_while_queued_up_to_three_messages);
    RUN(test_switch_routes_at_once);
    RUN(test_voice_moves_and_phrases);
    RUN(test_reload_turns_detection_off);
    fprintf(stderr, "test_core_langdetect_routing: ok\n");
    return 0;
}
