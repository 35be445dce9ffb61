/*
 * test_config.c - the configuration loader: the sample and test files load
 * with the values they hold, every kind of mistake is reported as
 * FILE:LINE: with a clear message (all of them, not just the first), and
 * the lookups and template fallback answer as config.h says.
 */
#include "switchboard/config.h"
#include "test.h"

#include <stdarg.h>
#include <unistd.h>

#define CONF(name) SB_SOURCE_DIR "/conf/" name
#define FIXTURE(name) SB_SOURCE_DIR "/tests/unit/conf/" name

static char err[16384];

/* The smallest valid file, five lines; tests append to it or edit it. */
#define MINIMAL \
    "server: { listen = \"127.0.0.1:0\"; };\n"      /* 1 */ \
    "languages = [ \"en\", \"es\" ];\n"             /* 2 */ \
    "skills = [ \"billing\", \"technical\" ];\n"    /* 3 */ \
    "pools = ( { id = \"front\"; }, { id = \"back\"; } );\n"  /* 4 */ \
    "default_pool = \"front\";\n"                   /* 5 */

static const char *ALICE_HASH =
    "a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055";

/* Writes TEXT to a new temporary file; its path goes into PATH. */
static void write_temp(char path[64], const char *text)
{
    int fd;
    FILE *f;

    snprintf(path, 64, "/tmp/sb_test_config_XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

/* Loads TEXT from a temporary file; NULL with err set on failure. The file's
 * path is left in PATH (already removed). */
static sb_config_t *load_text(char path[64], const char *text)
{
    sb_config_t *cfg;

    write_temp(path, text);
    cfg = sb_config_load(path, err, sizeof(err));
    unlink(path);
    return cfg;
}

/* TEXT must fail to load, and err must hold "PATH:LINE: MESSAGE" for the
 * given line and message fragment. */
static void expect_error(const char *text, int line, const char *message)
{
    char path[64], want[256];
    sb_config_t *cfg = load_text(path, text);

    if (cfg) {
        fprintf(stderr, "loaded, but expected %d: %s\n", line, message);
        sb_config_free(cfg);
    }
    CHECK(cfg == NULL);
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, message);
    CHECK_CONTAINS(err, want);
}

/* Counts the lines of err. */
static int error_lines(void)
{
    int n = err[0] ? 1 : 0;
    for (const char *p = err; *p; p++)
        n += *p == '\n';
    return n;
}

static void check_hash(const uint8_t got[32], const char *hex)
{
    for (int i = 0; i < 32; i++) {
        unsigned byte;
        CHECK(sscanf(hex + 2 * i, "%2x", &byte) == 1);
        CHECK_EQ_INT(got[i], byte);
    }
}

static void test_sample(void)
{
    sb_config_t *cfg = sb_config_load(CONF("switchboard.conf"), err, sizeof(err));
    int front, experts, sups, bots, voice, en, es, de, a;
    const sb_cfg_pool_t *p;
    const sb_cfg_agent_t *ag;

    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    CHECK_EQ_STR(cfg->path, CONF("switchboard.conf"));
    CHECK_EQ_STR(cfg->listen_host, "127.0.0.1");
    CHECK_EQ_INT(cfg->listen_port, 8080);
    CHECK(cfg->tls_cert == NULL && cfg->tls_key == NULL);
    CHECK(cfg->demo);
    CHECK_EQ_STR(cfg->web_root, "web");
    CHECK(cfg->has_admin_token);
    check_hash(cfg->admin_token_sha256,
               "198352b6a8078a827be267c847d39506629d3af446a3cc0bce670dd3a6b5d753");
    CHECK_EQ_INT(cfg->nallowed_origins, 0);
    CHECK_EQ_STR(cfg->store_engine, "sqlite");
    CHECK_EQ_STR(cfg->store_path, "var/switchboard.db");
    CHECK_EQ_INT(cfg->store_sync, SB_SYNC_FULL);

    CHECK_EQ_INT(cfg->nlanguages, 3);
    en = sb_config_language(cfg, "en");
    es = sb_config_language(cfg, "es");
    de = sb_config_language(cfg, "de");
    CHECK(en >= 0 && es >= 0 && de >= 0);
    CHECK_EQ_INT(cfg->default_language, en);
    CHECK_EQ_INT(cfg->nskills, 4);

    CHECK_EQ_INT(cfg->npools, 5);
    front = sb_config_pool(cfg, "frontline");
    experts = sb_config_pool(cfg, "experts");
    sups = sb_config_pool(cfg, "supervisors");
    bots = sb_config_pool(cfg, "bots");
    voice = sb_config_pool(cfg, "voice");
    CHECK(front >= 0 && experts >= 0 && sups >= 0 && bots >= 0 && voice >= 0);
    CHECK_EQ_INT(cfg->default_pool, front);

    p = &cfg->pools[front];
    CHECK_EQ_INT(p->tier, 1);
    CHECK_EQ_INT(p->strategy, SB_STRATEGY_LONGEST_IDLE);
    CHECK_EQ_INT(p->accept, SB_ACCEPT_DIRECT);
    CHECK_EQ_INT(p->max_wait_s, 120);
    CHECK_EQ_INT(p->overflow, experts);
    CHECK_EQ_INT(p->escalate_to, sups);
    CHECK_EQ_INT(p->nsteps, 2);
    CHECK_EQ_INT(p->steps[0].after_s, 30);
    CHECK_EQ_INT(p->steps[1].after_s, 60);
    CHECK(p->line > 0);
    p = &cfg->pools[experts];
    CHECK_EQ_INT(p->tier, 2);
    CHECK_EQ_INT(p->strategy, SB_STRATEGY_BEST_SKILL);
    CHECK_EQ_INT(p->accept, SB_ACCEPT_OFFER);
    CHECK_EQ_INT(p->escalate_to, sups);
    CHECK_EQ_INT(p->overflow, -1);
    CHECK_EQ_INT(cfg->pools[sups].tier, 3);
    CHECK_EQ_INT(cfg->pools[sups].escalate_to, -1);
    CHECK_EQ_INT(cfg->pools[bots].tier, 0);
    CHECK_EQ_INT(cfg->pools[bots].escalate_to, front);

    CHECK_EQ_INT(cfg->ntopics, 4);
    CHECK_EQ_INT(cfg->topics[sb_config_topic(cfg, "legal")].pool, experts);
    CHECK_EQ_INT(cfg->topics[sb_config_topic(cfg, "billing")].nskills, 1);
    CHECK_EQ_INT(cfg->topics[sb_config_topic(cfg, "billing")].skills[0].skill,
                 sb_config_skill(cfg, "billing"));
    CHECK_EQ_INT(cfg->topics[sb_config_topic(cfg, "billing")].skills[0].level, 3);
    CHECK_EQ_INT(cfg->topics[sb_config_topic(cfg, "sales")].priority, 1);

    CHECK(cfg->nagents >= 5 && cfg->nagents <= 7);
    a = sb_config_agent(cfg, "alice");
    CHECK(a >= 0);
    ag = &cfg->agents[a];
    CHECK_EQ_STR(ag->name, "Alice");
    CHECK_EQ_INT(ag->role, SB_ROLE_AGENT);
    check_hash(ag->token_sha256, ALICE_HASH);
    CHECK_EQ_INT(ag->npools, 1);
    CHECK_EQ_INT(ag->pools[0], front);
    CHECK_EQ_INT(ag->languages[en], 10);
    CHECK_EQ_INT(ag->languages[es], 6);
    CHECK_EQ_INT(ag->languages[de], 0);
    CHECK_EQ_INT(ag->skills[sb_config_skill(cfg, "billing")], 7);
    CHECK_EQ_INT(ag->skills[sb_config_skill(cfg, "legal")], 0);
    CHECK_EQ_INT(ag->cap_chat, 3);
    CHECK_EQ_INT(ag->cap_voice, 0);
    CHECK_EQ_INT(cfg->agents[sb_config_agent(cfg, "helpbot")].role, SB_ROLE_BOT);
    CHECK_EQ_INT(cfg->agents[sb_config_agent(cfg, "sofia")].role, SB_ROLE_SUPERVISOR);
    CHECK_EQ_INT(cfg->agents[sb_config_agent(cfg, "victor")].cap_voice, 1);
    CHECK_EQ_INT(cfg->agents[sb_config_agent(cfg, "dieter")].npools, 2);

    CHECK_EQ_INT(cfg->esc_max_per_conversation, 5);
    CHECK_EQ_INT(cfg->esc_bot_fallbacks, 2);
    CHECK(cfg->nphrases >= 4);
    {
        bool es_manager = false;
        for (size_t i = 0; i < cfg->nphrases; i++) {
            const sb_cfg_phrase_rule_t *r = &cfg->phrases[i];
            CHECK(r->nmatch > 0);
            if (r->kind == SB_ESC_FUNCTIONAL)
                CHECK(r->to >= 0);
            else
                CHECK_EQ_INT(r->to, -1);
            for (size_t j = 0; j < r->nmatch; j++)
                es_manager |= r->language == es && strcmp(r->match[j], "gerente") == 0;
        }
        CHECK(es_manager);
    }

    CHECK(!cfg->channels.whatsapp && !cfg->channels.messenger &&
          !cfg->channels.telegram && !cfg->channels.voice);
    CHECK_EQ_INT(cfg->channels.nconnectors, 0);

    /* Templates complete in English and Spanish. */
    for (int k = 0; k < SB_TPL__COUNT; k++) {
        CHECK(cfg->templates[en][k] != NULL);
        CHECK(cfg->templates[es][k] != NULL);
    }
    CHECK_EQ_STR(sb_config_template(cfg, es, SB_TPL_QUEUED),
                 "Usted es el número {position} en la fila (unos {eta}).");
    sb_config_free(cfg);
}

static void test_test_conf(void)
{
    sb_config_t *cfg = sb_config_load(CONF("test.conf"), err, sizeof(err));

    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    CHECK_EQ_STR(cfg->listen_host, "127.0.0.1");
    CHECK_EQ_INT(cfg->listen_port, 0);
    CHECK_EQ_STR(cfg->store_path, ":memory:");
    CHECK_EQ_INT(cfg->store_sync, SB_SYNC_NORMAL);
    CHECK(!cfg->demo);
    CHECK(cfg->npools >= 2);
    CHECK(cfg->nagents >= 2);
    check_hash(cfg->agents[sb_config_agent(cfg, "alice")].token_sha256, ALICE_HASH);
    sb_config_free(cfg);
}

/* Every default of config.h, on the smallest file. */
static void test_defaults(void)
{
    char path[64];
    sb_config_t *cfg = load_text(path,
        MINIMAL
        "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
        "             pools = [ \"front\" ]; languages = { es = 4; }; } );\n"
        "topics = ( { id = \"t\"; } );\n"
        "channels: { telegram = { secret_token = \"s\"; bot_token = \"b\"; }; };\n");
    const sb_cfg_pool_t *p;
    const sb_cfg_agent_t *a;

    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(cfg->max_frame_bytes, 65536);
    CHECK_EQ_INT(cfg->max_connections, 100000);
    CHECK_EQ_INT(cfg->rate_mps, 20);
    CHECK_EQ_INT(cfg->rate_burst, 40);
    CHECK(!cfg->has_admin_token);
    CHECK_EQ_STR(cfg->web_root, "web");
    CHECK(!cfg->demo);
    CHECK_EQ_STR(cfg->store_engine, "sqlite");
    CHECK_EQ_STR(cfg->store_path, "var/switchboard.db");
    CHECK_EQ_INT(cfg->store_sync, SB_SYNC_FULL);
    CHECK_EQ_INT(cfg->store_retain_days, 0);
    CHECK_EQ_INT(cfg->default_language, 0);        /* the first language */
    CHECK(cfg->detect_language);
    CHECK_EQ_INT(cfg->wrap_up_s, 0);
    CHECK_EQ_INT(cfg->agent_grace_s, 30);
    CHECK_EQ_INT(cfg->max_missed_offers, 3);
    CHECK_EQ_INT(cfg->default_handle_s, 180);
    CHECK_EQ_INT(cfg->transcript_limit, 200);
    CHECK_EQ_INT(cfg->esc_max_per_conversation, 5);
    CHECK_EQ_INT(cfg->esc_bot_fallbacks, 2);
    CHECK_EQ_INT(cfg->nphrases, 0);

    p = &cfg->pools[1];
    CHECK_EQ_STR(p->id, "back");
    CHECK_EQ_INT(p->line, 4);
    CHECK_EQ_INT(p->tier, 1);
    CHECK_EQ_INT(p->strategy, SB_STRATEGY_LONGEST_IDLE);
    CHECK_EQ_INT(p->accept, SB_ACCEPT_DIRECT);
    CHECK_EQ_INT(p->offer_timeout_s, 15);
    CHECK_EQ_INT(p->max_wait_s, 0);
    CHECK_EQ_INT(p->overflow, -1);
    CHECK_EQ_INT(p->escalate_to, -1);
    CHECK_EQ_INT(p->sla_first_response_s, 60);
    CHECK_EQ_INT(p->nsteps, 0);

    a = &cfg->agents[0];
    CHECK_EQ_STR(a->name, "ann");                  /* name = id */
    CHECK_EQ_INT(a->role, SB_ROLE_AGENT);
    CHECK_EQ_INT(a->cap_chat, 1);
    CHECK_EQ_INT(a->cap_voice, 0);
    CHECK_EQ_INT(a->languages[0], 0);
    CHECK_EQ_INT(a->languages[1], 4);
    CHECK_EQ_INT(a->skills[0], 0);
    CHECK_EQ_INT(a->line, 6);

    CHECK_EQ_INT(cfg->topics[0].pool, cfg->default_pool);   /* topic.pool defaults */
    CHECK_EQ_INT(cfg->topics[0].priority, 0);
    CHECK_EQ_INT(cfg->topics[0].nskills, 0);

    CHECK(cfg->channels.telegram);
    CHECK_EQ_STR(cfg->channels.tg_api_base, "https://api.telegram.org");
    CHECK_EQ_INT(cfg->channels.tg_pool, -1);
    CHECK(!cfg->channels.whatsapp);
    CHECK(cfg->channels.wa_api_base == NULL);
    CHECK_EQ_INT(cfg->channels.wa_pool, -1);
    CHECK_EQ_INT(cfg->channels.vo_pool, -1);
    sb_config_free(cfg);
}

static void test_syntax_error(void)
{
    sb_config_t *cfg = sb_config_load(FIXTURE("syntax.conf"), err, sizeof(err));

    CHECK(cfg == NULL);
    CHECK_CONTAINS(err, FIXTURE("syntax.conf") ":4: syntax error");
}

static void test_missing_file(void)
{
    sb_config_t *cfg = sb_config_load(FIXTURE("no-such-file.conf"), err, sizeof(err));

    CHECK(cfg == NULL);
    CHECK_CONTAINS(err, FIXTURE("no-such-file.conf") ":0: cannot read the file");
    CHECK_CONTAINS(err, "No such file");
}

static void test_unknown_keys(void)
{
    expect_error(MINIMAL "colour = \"blue\";\n", 6, "unknown setting \"colour\"");
    expect_error(MINIMAL "rooting: { wrap_up_s = 1; };\n", 6,
                 "unknown setting \"rooting\" (did you mean \"routing\"?)");
    expect_error("server: { listen = \"127.0.0.1:0\";\n"
                 "  max_frame_byte = 10000; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "server: unknown setting \"max_frame_byte\" (did you mean \"max_frame_bytes\"?)");
    expect_error(MINIMAL "store: { engine = \"sqlite\"; fsync = true; };\n", 6,
                 "store: unknown setting \"fsync\"");
    expect_error(MINIMAL "routing: { language = \"en\"; };\n", 6,
                 "routing: unknown setting \"language\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\";\n"
                 "            colour = \"red\"; } );\n"
                 "default_pool = \"front\";\n",
                 4, "pool \"front\": unknown setting \"colour\"");
    expect_error(MINIMAL "pools2 = 1;\n", 6, "unknown setting \"pools2\"");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\" ]; languages = { en = 1; }; capacity = { chat = 1; video = 2; }; } );\n",
                 7, "agent \"ann\": capacity: unknown setting \"video\"");
    expect_error(MINIMAL "topics = ( { id = \"t\"; pool = \"front\"; prio = 2; } );\n", 6,
                 "topic \"t\": unknown setting \"prio\"");
    expect_error(MINIMAL "channels: { telegram = { secret_token = \"s\"; bot_token = \"b\"; chat = 1; }; };\n",
                 6, "channels.telegram: unknown setting \"chat\"");
    expect_error(MINIMAL "channels: { line = { }; };\n", 6, "channels: unknown setting \"line\"");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"x\" ];\n"
                 "  kind = \"hierarchical\"; weight = 1; } ); };\n",
                 7, "escalation.phrases[0]: unknown setting \"weight\"");
}

static void test_wrong_types(void)
{
    expect_error(MINIMAL "routing: { wrap_up_s = \"10\"; };\n", 6,
                 "routing: wrap_up_s must be an integer, not a string");
    expect_error(MINIMAL "routing: { wrap_up_s = 1.5; };\n", 6,
                 "routing: wrap_up_s must be an integer, not a float");
    expect_error(MINIMAL "routing: { detect_language = 1; };\n", 6,
                 "routing: detect_language must be a boolean, not an integer");
    expect_error(MINIMAL "store = \"sqlite\";\n", 6, "store must be a group { ... }, not a string");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = \"en\";\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "languages must be a list, not a string");
    expect_error(MINIMAL "topics = ( \"billing\" );\n", 6,
                 "topics[0] must be a group { ... }, not a string");
    expect_error("server: { listen = \"127.0.0.1:0\"; demo = \"yes\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "server: demo must be a boolean, not a string");
    expect_error(MINIMAL "templates: { en = { queued = 3; }; };\n", 6,
                 "templates.en: queued must be a string, not an integer");
}

static void test_references(void)
{
    expect_error(MINIMAL "topics = ( { id = \"t\"; pool = \"nowhere\"; } );\n", 6,
                 "topic \"t\": pool \"nowhere\" is not a configured pool");
    expect_error(MINIMAL "topics = ( { id = \"t\"; skills = { cooking = 2; }; } );\n", 6,
                 "topic \"t\": skills: \"cooking\" is not a configured skill");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"frontline\";\n",
                 4, "default_pool \"frontline\" is not a configured pool");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; overflow = \"experts\"; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": overflow \"experts\" is not a configured pool");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; escalate_to = \"sups\"; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": escalate_to \"sups\" is not a configured pool");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\", \"middle\" ]; languages = { en = 1; }; } );\n",
                 7, "agent \"ann\": pools: \"middle\" is not a configured pool");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\" ];\n"
                 "  languages = { en = 1; fr = 9; }; } );\n",
                 8, "agent \"ann\": languages: \"fr\" is not a configured language");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\" ]; languages = { en = 1; };\n"
                 "  skills = { billing = 3; cooking = 9; }; } );\n",
                 8, "agent \"ann\": skills: \"cooking\" is not a configured skill");
    expect_error(MINIMAL "routing: { default_language = \"fr\"; };\n", 6,
                 "routing: default_language \"fr\" is not in languages");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"fr\"; match = [ \"x\" ];\n"
                 "  kind = \"hierarchical\"; } ); };\n",
                 6, "escalation.phrases[0]: language \"fr\" is not in languages");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"lawyer\" ];\n"
                 "  kind = \"functional\"; to = \"legal\"; } ); };\n",
                 7, "escalation.phrases[0]: to \"legal\" is not a configured pool");
    expect_error(MINIMAL "templates: { fr = { queued = \"x\"; }; };\n", 6,
                 "templates: \"fr\" is not in languages");
    expect_error(MINIMAL "channels: { telegram = { secret_token = \"s\"; bot_token = \"b\"; pool = \"tg\"; }; };\n",
                 6, "channels.telegram: pool \"tg\" is not a configured pool");
}

static void test_ranges(void)
{
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\" ]; languages = { en = 11; }; } );\n",
                 7, "agent \"ann\": languages: en must be between 0 and 10, not 11");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "  pools = [ \"front\" ]; languages = { en = 5; }; skills = { billing = -1; }; } );\n",
                 7, "agent \"ann\": skills: billing must be between 0 and 10, not -1");
    expect_error(MINIMAL "topics = ( { id = \"t\"; skills = { technical = 12; }; } );\n", 6,
                 "topic \"t\": skills: technical must be between 0 and 10, not 12");
    expect_error("server: { listen = \"127.0.0.1:0\"; max_frame_bytes = 0; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "server: max_frame_bytes must be between");
    expect_error("server: { listen = \"127.0.0.1:0\"; rate = { burst = 0; }; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "server.rate: burst must be between 1 and");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; offer_timeout_s = 0; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": offer_timeout_s must be between 1 and");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; max_wait_s = -5; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": max_wait_s must be between 0 and");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\";\n"
                 "  steps = ( { after_s = 10; relax_skill_levels = 20; } ); } );\n"
                 "default_pool = \"front\";\n",
                 4, "pool \"front\": steps[0]: relax_skill_levels must be between 0 and 10, not 20");
    expect_error(MINIMAL "routing: { max_missed_offers = 0; };\n", 6,
                 "routing: max_missed_offers must be between 1 and");
    expect_error(MINIMAL "escalation: { bot_fallbacks = 0; };\n", 6,
                 "escalation: bot_fallbacks must be between 1 and");
    expect_error(MINIMAL "store: { retain_days = -1; };\n", 6,
                 "store: retain_days must be between 0 and");
}

static void test_bad_hash(void)
{
    /* Uppercase hex is not accepted: the spec says lowercase. */
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; pools = [ \"front\" ]; languages = { en = 1; };\n"
                 "  token_sha256 = \"A1C0CB269DD9FCEA55C495892B80B6DB87D0FE5CEEBD99353683935BEF29E055\"; } );\n",
                 7, "agent \"ann\": token_sha256 must be 64 lowercase hex digits");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; pools = [ \"front\" ]; languages = { en = 1; };\n"
                 "  token_sha256 = \"a1c0cb\"; } );\n",
                 7, "agent \"ann\": token_sha256 must be 64 lowercase hex digits");
    expect_error("server: { listen = \"127.0.0.1:0\";\n"
                 "  admin_token_sha256 = \"secret\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "server: admin_token_sha256 must be 64 lowercase hex digits");
    expect_error(MINIMAL "channels: { connectors = ( { id = \"c\"; channels = [ \"line\" ];\n"
                 "  key_sha256 = \"zz\"; } ); };\n",
                 7, "connector \"c\": key_sha256 must be 64 lowercase hex digits");
}

static void test_duplicates(void)
{
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; },\n"
                 "          { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 4, "duplicate pool id \"front\" (first defined at line 3)");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 1; }; },\n"
                 "           { id = \"ann\"; token_sha256 = \"f474ba073d0e9239f0c317788b557989f7b0281f2a7bda3b8c3a0e92c039dea7\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 1; }; } );\n",
                 8, "duplicate agent id \"ann\" (first defined at line 6)");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 1; }; },\n"
                 "           { id = \"bob\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 1; }; } );\n",
                 8, "agent \"bob\": token_sha256 is the same as agent \"ann\"'s");
    expect_error(MINIMAL "topics = ( { id = \"t\"; }, { id = \"t\"; } );\n", 6,
                 "duplicate topic id \"t\" (first defined at line 6)");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\", \"es\", \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "languages \"en\" is listed twice");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\", \"front\" ]; languages = { en = 1; }; } );\n",
                 7, "agent \"ann\": pools: \"front\" is listed twice");
    expect_error(MINIMAL "channels: { connectors = (\n"
                 "  { id = \"a\"; channels = [ \"line\" ];\n"
                 "    key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; },\n"
                 "  { id = \"b\"; channels = [ \"viber\" ];\n"
                 "    key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; } ); };\n",
                 10, "connector \"b\": key_sha256 is the same as connector \"a\"'s");
    expect_error(MINIMAL "channels: { connectors = (\n"
                 "  { id = \"a\"; channels = [ \"line\" ];\n"
                 "    key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; },\n"
                 "  { id = \"a\"; channels = [ \"viber\" ];\n"
                 "    key_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\"; } ); };\n",
                 9, "duplicate connector id \"a\" (first defined at line 7)");
    /* libconfig itself refuses a key written twice in one group. */
    expect_error(MINIMAL "routing: { wrap_up_s = 1;\n  wrap_up_s = 2; };\n", 7,
                 "duplicate setting name");
}

static void test_listen(void)
{
    static const char *const bad[] = {
        "localhost", "127.0.0.1", ":8080", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "::1:8080", "[::1]8080", "[nothost]:80", "127.0.0.1:80x", "a b:80", NULL
    };
    char path[64], text[512];
    sb_config_t *cfg;

    for (const char *const *b = bad; *b; b++) {
        snprintf(text, sizeof(text),
                 "server: { listen = \"%s\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n", *b);
        expect_error(text, 1, "server: listen must be \"host:port\" or \"[ipv6]:port\"");
    }
    cfg = load_text(path,
                    "server: { listen = \"[::1]:65535\"; };\n"
                    "languages = [ \"en\" ];\n"
                    "pools = ( { id = \"front\"; } );\n"
                    "default_pool = \"front\";\n");
    CHECK(cfg != NULL);
    CHECK_EQ_STR(cfg->listen_host, "::1");
    CHECK_EQ_INT(cfg->listen_port, 65535);
    sb_config_free(cfg);
    cfg = load_text(path,
                    "server: { listen = \"localhost:8080\"; };\n"
                    "languages = [ \"en\" ];\n"
                    "pools = ( { id = \"front\"; } );\n"
                    "default_pool = \"front\";\n");
    CHECK(cfg != NULL);
    CHECK_EQ_STR(cfg->listen_host, "localhost");
    CHECK_EQ_INT(cfg->listen_port, 8080);
    sb_config_free(cfg);
}

static void test_self_reference(void)
{
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; overflow = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": overflow must name another pool, not itself");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; },\n"
                 "  { id = \"back\"; escalate_to = \"back\"; } );\n"
                 "default_pool = \"front\";\n",
                 4, "pool \"back\": escalate_to must name another pool, not itself");
}

static void test_missing_required(void)
{
    char path[64];

    expect_error("languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "missing required setting \"server\"");
    expect_error("server: { max_connections = 10; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "server: missing required setting \"listen\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 1, "missing required setting \"languages\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "languages must name at least one language");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n",
                 1, "missing required setting \"default_pool\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n",
                 1, "missing required setting \"pools\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( );\n",
                 3, "pools must define at least one pool");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { tier = 2; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pools[0]: missing required setting \"id\"");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 1; }; } );\n",
                 6, "agent \"ann\": missing required setting \"token_sha256\"");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\" ]; } );\n",
                 6, "agent \"ann\": missing required setting \"languages\"");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             pools = [ \"front\" ]; languages = { en = 0; }; } );\n",
                 7, "agent \"ann\": languages must give at least one language a level of 1-10");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             languages = { en = 3; }; } );\n",
                 6, "agent \"ann\": missing required setting \"pools\"");
    expect_error("server: { listen = \"127.0.0.1:0\";\n"
                 "  tls = { cert = \"cert.pem\"; }; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "server.tls: missing required setting \"key\"");
    expect_error(MINIMAL "channels: { whatsapp = { app_secret = \"a\"; verify_token = \"v\";\n"
                 "  access_token = \"t\"; }; };\n",
                 6, "channels.whatsapp: missing required setting \"phone_number_id\"");
    expect_error(MINIMAL "channels: { voice = { auth_token = \"a\"; }; };\n", 6,
                 "channels.voice: missing required setting \"public_url\"");
    expect_error(MINIMAL "channels: { connectors = ( { id = \"c\";\n"
                 "  key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; } ); };\n",
                 6, "connector \"c\": missing required setting \"channels\"");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"lawyer\" ];\n"
                 "  kind = \"functional\"; } ); };\n",
                 6, "escalation.phrases[0]: missing required setting \"to\"");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ ];\n"
                 "  kind = \"hierarchical\"; } ); };\n",
                 6, "escalation.phrases[0]: match must hold at least one phrase");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"\" ];\n"
                 "  kind = \"hierarchical\"; } ); };\n",
                 6, "escalation.phrases[0]: match[0] must not be empty");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"boss\" ];\n"
                 "  kind = \"hierarchical\";\n  to = \"back\"; } ); };\n",
                 8, "escalation.phrases[0]: \"to\" is only for functional escalation");

    /* Whole sections may be left out; a file with only the required ones loads. */
    {
        sb_config_t *cfg = load_text(path,
                                     "server: { listen = \"127.0.0.1:0\"; };\n"
                                     "languages = [ \"en\" ];\n"
                                     "pools = ( { id = \"front\"; } );\n"
                                     "default_pool = \"front\";\n");
        CHECK(cfg != NULL);
        CHECK_EQ_INT(cfg->nagents, 0);
        CHECK_EQ_INT(cfg->nskills, 0);
        CHECK_EQ_INT(cfg->ntopics, 0);
        CHECK_EQ_STR(sb_config_template(cfg, 0, SB_TPL_CLOSED),
                     "This conversation is closed. Thank you!");
        sb_config_free(cfg);
    }
}

static void test_enums(void)
{
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; strategy = \"fastest\"; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": strategy must be longest_idle, least_busy, round_robin or "
                    "best_skill, not \"fastest\"");
    expect_error("server: { listen = \"127.0.0.1:0\"; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; accept = \"auto\"; } );\n"
                 "default_pool = \"front\";\n",
                 3, "pool \"front\": accept must be direct or offer, not \"auto\"");
    expect_error(MINIMAL
                 "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
                 "             role = \"admin\"; pools = [ \"front\" ]; languages = { en = 1; }; } );\n",
                 7, "agent \"ann\": role must be agent, bot or supervisor, not \"admin\"");
    expect_error(MINIMAL "store: { sync = \"off\"; };\n", 6,
                 "store: sync must be full or normal, not \"off\"");
    expect_error(MINIMAL "store: { engine = \"postgres\"; };\n", 6,
                 "store: engine must be sqlite, not \"postgres\"");
    expect_error(MINIMAL "escalation: { phrases = ( { language = \"en\"; match = [ \"x\" ];\n"
                 "  kind = \"sideways\"; } ); };\n",
                 7, "escalation.phrases[0]: kind must be functional or hierarchical, not \"sideways\"");
}

static void test_templates(void)
{
    char path[64];
    sb_config_t *cfg;
    int en, es, pt;

    expect_error(MINIMAL "templates: { en = { queued = \"x\";\n"
                 "  goodbye = \"Bye\"; }; };\n",
                 7, "templates.en: unknown template \"goodbye\" (known: queued, agent_joined,");
    expect_error(MINIMAL "templates: { en = \"hello\"; };\n", 6,
                 "templates: en must be a group { ... }, not a string");

    cfg = load_text(path,
                    "server: { listen = \"127.0.0.1:0\"; };\n"
                    "languages = [ \"en\", \"es\", \"pt\" ];\n"
                    "routing: { default_language = \"es\"; };\n"
                    "pools = ( { id = \"front\"; } );\n"
                    "default_pool = \"front\";\n"
                    "templates: { en = { closed = \"Bye\"; };\n"
                    "             es = { queued = \"Puesto {position}\"; welcome = \"\"; }; };\n");
    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    en = sb_config_language(cfg, "en");
    es = sb_config_language(cfg, "es");
    pt = sb_config_language(cfg, "pt");
    CHECK_EQ_INT(cfg->default_language, es);
    CHECK_EQ_STR(cfg->templates[es][SB_TPL_QUEUED], "Puesto {position}");
    CHECK(cfg->templates[pt][SB_TPL_QUEUED] == NULL);
    /* Own language first. */
    CHECK_EQ_STR(sb_config_template(cfg, en, SB_TPL_CLOSED), "Bye");
    /* Missing in the language: the default language's. */
    CHECK_EQ_STR(sb_config_template(cfg, en, SB_TPL_QUEUED), "Puesto {position}");
    CHECK_EQ_STR(sb_config_template(cfg, pt, SB_TPL_QUEUED), "Puesto {position}");
    /* An empty template is a template. */
    CHECK_EQ_STR(sb_config_template(cfg, es, SB_TPL_WELCOME), "");
    /* Missing in both: built-in English. */
    CHECK_EQ_STR(sb_config_template(cfg, pt, SB_TPL_AGENT_JOINED),
                 "{agent} has joined the conversation.");
    CHECK_EQ_STR(sb_config_template(cfg, es, SB_TPL_CLOSED),
                 "This conversation is closed. Thank you!");
    CHECK_EQ_STR(sb_config_template(cfg, -1, SB_TPL_QUEUED), "Puesto {position}");
    CHECK_EQ_STR(sb_config_template(cfg, 99, SB_TPL_TRANSFERRING),
                 "Connecting you with {pool}. Your conversation comes with you.");
    sb_config_free(cfg);
}

static void test_lookups(void)
{
    char path[64];
    sb_config_t *cfg = load_text(path,
        "server: { listen = \"127.0.0.1:0\"; };\n"
        "languages = [ \"en\", \"es\", \"pt\", \"zh-Hant\" ];\n"
        "skills = [ \"billing\", \"technical\" ];\n"
        "pools = ( { id = \"front\"; }, { id = \"back\"; } );\n"
        "default_pool = \"back\";\n"
        "topics = ( { id = \"billing\"; pool = \"front\"; skills = { billing = 4; technical = 1; }; } );\n"
        "agents = ( { id = \"ann\"; token_sha256 = \"a1c0cb269dd9fcea55c495892b80b6db87d0fe5ceebd99353683935bef29e055\";\n"
        "             pools = [ \"back\", \"front\" ]; languages = { pt = 7; }; } );\n");

    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    CHECK_EQ_INT(sb_config_language(cfg, "pt-BR"), 2);
    CHECK_EQ_INT(sb_config_language(cfg, "PT"), 2);
    CHECK_EQ_INT(sb_config_language(cfg, "Es"), 1);
    CHECK_EQ_INT(sb_config_language(cfg, "en_US"), 0);
    CHECK_EQ_INT(sb_config_language(cfg, "ZH-hant"), 3);
    CHECK_EQ_INT(sb_config_language(cfg, "fr"), -1);
    CHECK_EQ_INT(sb_config_language(cfg, "e"), -1);
    CHECK_EQ_INT(sb_config_language(cfg, ""), -1);
    CHECK_EQ_INT(sb_config_language(cfg, NULL), -1);
    CHECK_EQ_INT(sb_config_pool(cfg, "back"), 1);
    CHECK_EQ_INT(sb_config_pool(cfg, "middle"), -1);
    CHECK_EQ_INT(sb_config_pool(cfg, NULL), -1);
    CHECK_EQ_INT(sb_config_skill(cfg, "technical"), 1);
    CHECK_EQ_INT(sb_config_skill(cfg, "cooking"), -1);
    CHECK_EQ_INT(sb_config_topic(cfg, "billing"), 0);
    CHECK_EQ_INT(sb_config_topic(cfg, "tech"), -1);
    CHECK_EQ_INT(sb_config_agent(cfg, "ann"), 0);
    CHECK_EQ_INT(sb_config_agent(cfg, "bob"), -1);
    CHECK_EQ_INT(cfg->default_pool, 1);
    CHECK_EQ_INT(cfg->topics[0].pool, 0);
    CHECK_EQ_INT(cfg->topics[0].nskills, 2);
    CHECK_EQ_INT(cfg->topics[0].skills[1].skill, 1);
    CHECK_EQ_INT(cfg->topics[0].skills[1].level, 1);
    CHECK_EQ_INT(cfg->agents[0].npools, 2);
    CHECK_EQ_INT(cfg->agents[0].pools[0], 1);
    CHECK_EQ_INT(cfg->agents[0].languages[2], 7);
    sb_config_free(cfg);
}

static void test_steps_sorted(void)
{
    char path[64];
    sb_config_t *cfg = load_text(path,
        "server: { listen = \"127.0.0.1:0\"; };\n"
        "languages = [ \"en\" ];\n"
        "pools = ( { id = \"front\"; steps = (\n"
        "  { after_s = 90; relax_skill_levels = 5; },\n"
        "  { after_s = 10; relax_skill_levels = 1; },\n"
        "  { after_s = 45; relax_skill_levels = 3; } ); } );\n"
        "default_pool = \"front\";\n");

    CHECK(cfg != NULL);
    CHECK_EQ_INT(cfg->pools[0].nsteps, 3);
    CHECK_EQ_INT(cfg->pools[0].steps[0].after_s, 10);
    CHECK_EQ_INT(cfg->pools[0].steps[0].relax_skill_levels, 1);
    CHECK_EQ_INT(cfg->pools[0].steps[1].after_s, 45);
    CHECK_EQ_INT(cfg->pools[0].steps[2].after_s, 90);
    CHECK_EQ_INT(cfg->pools[0].steps[2].relax_skill_levels, 5);
    sb_config_free(cfg);
}

static void test_channels(void)
{
    char path[64];
    sb_config_t *cfg = load_text(path,
        MINIMAL
        "channels: {\n"
        "  whatsapp = { app_secret = \"as\"; verify_token = \"vt\"; access_token = \"at\";\n"
        "               phone_number_id = \"123\"; api_base = \"http://127.0.0.1:9999/v21.0/\";\n"
        "               pool = \"back\"; };\n"
        "  messenger = { app_secret = \"ms\"; verify_token = \"mv\"; page_access_token = \"mp\"; };\n"
        "  voice = { auth_token = \"va\"; public_url = \"https://router.example.com/\"; pool = \"front\"; };\n"
        "  connectors = ( { id = \"line-bridge\"; channels = [ \"line\", \"viber\" ];\n"
        "    key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; } );\n"
        "};\n"
        "allowed = 1;\n");
    const sb_cfg_channels_t *c;

    /* One unknown key at the end: everything else is fine. */
    CHECK(cfg == NULL);
    CHECK_EQ_INT(error_lines(), 1);
    CHECK_CONTAINS(err, ":15: unknown setting \"allowed\"");

    cfg = load_text(path,
        MINIMAL
        "channels: {\n"
        "  whatsapp = { app_secret = \"as\"; verify_token = \"vt\"; access_token = \"at\";\n"
        "               phone_number_id = \"123\"; api_base = \"http://127.0.0.1:9999/v21.0/\";\n"
        "               pool = \"back\"; };\n"
        "  messenger = { app_secret = \"ms\"; verify_token = \"mv\"; page_access_token = \"mp\"; };\n"
        "  voice = { auth_token = \"va\"; public_url = \"https://router.example.com/\"; pool = \"front\"; };\n"
        "  connectors = ( { id = \"line-bridge\"; channels = [ \"line\", \"viber\" ];\n"
        "    key_sha256 = \"2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f\"; } );\n"
        "};\n");
    if (!cfg)
        fprintf(stderr, "%s\n", err);
    CHECK(cfg != NULL);
    c = &cfg->channels;
    CHECK(c->whatsapp);
    CHECK_EQ_STR(c->wa_app_secret, "as");
    CHECK_EQ_STR(c->wa_verify_token, "vt");
    CHECK_EQ_STR(c->wa_access_token, "at");
    CHECK_EQ_STR(c->wa_phone_number_id, "123");
    CHECK_EQ_STR(c->wa_api_base, "http://127.0.0.1:9999/v21.0");   /* no trailing slash */
    CHECK_EQ_INT(c->wa_pool, 1);
    CHECK(c->messenger);
    CHECK_EQ_STR(c->ms_page_access_token, "mp");
    CHECK_EQ_STR(c->ms_api_base, "https://graph.facebook.com/v21.0");
    CHECK_EQ_INT(c->ms_pool, -1);
    CHECK(!c->telegram);
    CHECK(c->tg_bot_token == NULL);
    CHECK(c->voice);
    CHECK_EQ_STR(c->vo_public_url, "https://router.example.com");
    CHECK_EQ_STR(c->vo_api_base, "https://api.twilio.com");
    CHECK_EQ_INT(c->vo_pool, 0);
    CHECK_EQ_INT(c->nconnectors, 1);
    CHECK_EQ_STR(c->connectors[0].id, "line-bridge");
    CHECK_EQ_INT(c->connectors[0].nchannels, 2);
    CHECK_EQ_STR(c->connectors[0].channels[1], "viber");
    check_hash(c->connectors[0].key_sha256,
               "2dc8e61d0df3f86bbf3cf00b80774c3596163d59bd5441888ff44863c256059f");
    CHECK(c->connectors[0].line == 12);
    sb_config_free(cfg);

    expect_error(MINIMAL "channels: { telegram = { secret_token = \"s\"; bot_token = \"b\";\n"
                 "  api_base = \"ftp://example.com\"; }; };\n",
                 7, "channels.telegram: api_base must be an http:// or https:// URL");
}

static void test_origins(void)
{
    char path[64];
    sb_config_t *cfg = load_text(path,
        "server: { listen = \"127.0.0.1:0\";\n"
        "  allowed_origins = [ \"https://shop.example.com\", \"http://localhost:3000\" ]; };\n"
        "languages = [ \"en\" ];\n"
        "pools = ( { id = \"front\"; } );\n"
        "default_pool = \"front\";\n");

    CHECK(cfg != NULL);
    CHECK_EQ_INT(cfg->nallowed_origins, 2);
    CHECK_EQ_STR(cfg->allowed_origins[1], "http://localhost:3000");
    sb_config_free(cfg);
    expect_error("server: { listen = \"127.0.0.1:0\";\n"
                 "  allowed_origins = [ \"https://shop.example.com/\" ]; };\n"
                 "languages = [ \"en\" ];\n"
                 "pools = ( { id = \"front\"; } );\n"
                 "default_pool = \"front\";\n",
                 2, "server: allowed_origins[0] \"https://shop.example.com/\" is not an origin");
}

/* A file with many mistakes reports every one, in line order. */
static void test_many_errors(void)
{
    const char *f = FIXTURE("many_errors.conf");
    sb_config_t *cfg = sb_config_load(f, err, sizeof(err));
    static const struct { int line; const char *msg; } want[] = {
        { 3, "server: listen must be \"host:port\"" },
        { 4, "server: max_frame_bytes must be an integer, not a string" },
        { 5, "server: unknown setting \"colour\"" },
        { 11, "pool \"front\": tier must be between 0 and 100, not -1" },
        { 11, "pool \"front\": strategy must be longest_idle, least_busy, round_robin or best_skill, not \"fastest\"" },
        { 11, "pool \"front\": overflow must name another pool, not itself" },
        { 12, "pool \"back\": escalate_to \"nowhere\" is not a configured pool" },
        { 13, "duplicate pool id \"front\" (first defined at line 11)" },
        { 16, "agent \"ann\": token_sha256 must be 64 lowercase hex digits" },
        { 17, "agent \"ann\": languages: en must be between 0 and 10, not 12" },
        { 17, "agent \"ann\": languages: \"fr\" is not a configured language" },
        { 17, "agent \"ann\": skills: \"cooking\" is not a configured skill" },
        { 19, "templates.en: unknown template \"goodbye\"" },
    };
    const char *prev = err;

    CHECK(cfg == NULL);
    CHECK_EQ_INT(error_lines(), (int)(sizeof(want) / sizeof(want[0])));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char line[512];
        const char *at;
        snprintf(line, sizeof(line), "%s:%d: %s", f, want[i].line, want[i].msg);
        CHECK_CONTAINS(err, line);
        /* Sorted by line. */
        at = strstr(err, line);
        if (i > 0 && want[i].line > want[i - 1].line)
            CHECK(at > prev);
        prev = at;
    }
}

static void test_include(void)
{
    sb_config_t *cfg = sb_config_load(FIXTURE("include_main.conf"), err, sizeof(err));

    CHECK(cfg == NULL);
    CHECK_EQ_INT(error_lines(), 1);
    CHECK_CONTAINS(err, "include_agents.conf:4: agent \"ann\": pools: \"back\" is not a "
                        "configured pool");
}

/* A small buffer still gets a NUL-terminated, truncated report. */
static void test_truncation(void)
{
    char small[40];
    sb_config_t *cfg;

    memset(small, 'x', sizeof(small));
    cfg = sb_config_load(FIXTURE("many_errors.conf"), small, sizeof(small));
    CHECK(cfg == NULL);
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
    CHECK(strcmp(small + sizeof(small) - 4, "...") == 0);
    /* No buffer at all is allowed too. */
    CHECK(sb_config_load(FIXTURE("many_errors.conf"), NULL, 0) == NULL);
    sb_config_free(NULL);
}

int main(void)
{
    RUN(test_sample);
    RUN(test_test_conf);
    RUN(test_defaults);
    RUN(test_syntax_error);
    RUN(test_missing_file);
    RUN(test_unknown_keys);
    RUN(test_wrong_types);
    RUN(test_references);
    RUN(test_ranges);
    RUN(test_bad_hash);
    RUN(test_duplicates);
    RUN(test_listen);
    RUN(test_self_reference);
    RUN(test_missing_required);
    RUN(test_enums);
    RUN(test_templates);
    RUN(test_lookups);
    RUN(test_steps_sorted);
    RUN(test_channels);
    RUN(test_origins);
    RUN(test_many_errors);
    RUN(test_include);
    RUN(test_truncation);
    fprintf(stderr, "test_config: all passed\n");
    return 0;
}
