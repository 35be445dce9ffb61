/*
 * config.h - the typed configuration (spec/config.md), read with libconfig
 * and validated completely in one pass.
 *
 * Pools, skills, languages and topics are referred to by index into their
 * arrays here, so the routing core never compares strings. Every entry keeps
 * the line it came from, for error messages that name FILE:LINE.
 */
#ifndef SWITCHBOARD_CONFIG_H
#define SWITCHBOARD_CONFIG_H

#include "switchboard/common.h"

typedef enum { SB_ROLE_AGENT, SB_ROLE_BOT, SB_ROLE_SUPERVISOR } sb_role_t;
typedef enum {
    SB_STRATEGY_LONGEST_IDLE, SB_STRATEGY_LEAST_BUSY,
    SB_STRATEGY_ROUND_ROBIN, SB_STRATEGY_BEST_SKILL
} sb_strategy_t;
typedef enum { SB_ACCEPT_DIRECT, SB_ACCEPT_OFFER } sb_accept_t;
typedef enum { SB_ESC_FUNCTIONAL, SB_ESC_HIERARCHICAL } sb_esc_kind_t;
typedef enum { SB_SYNC_FULL, SB_SYNC_NORMAL } sb_sync_t;

/* Template keys: customer-facing notices (protocol.md section 7). */
typedef enum {
    SB_TPL_QUEUED,        /* {position} {eta} {pool} */
    SB_TPL_AGENT_JOINED,  /* {agent} {pool} */
    SB_TPL_TRANSFERRING,  /* {pool} */
    SB_TPL_CLOSED,        /* (none) */
    SB_TPL_REQUEUED,      /* {pool}: the agent left, back in line */
    SB_TPL_WELCOME,       /* (none): first system greeting, optional */
    SB_TPL_CALLBACK,      /* {phone}: callback request accepted */
    SB_TPL_VOICE_GREETING,/* {pool}: spoken to a caller on hold */
    SB_TPL__COUNT
} sb_tpl_key_t;

/* Config name of each template key, e.g. "agent_joined". */
extern const char *const sb_tpl_names[SB_TPL__COUNT];

typedef struct sb_skill_req {
    int skill;   /* index into sb_config_t.skills */
    int level;   /* 0-10 */
} sb_skill_req_t;

typedef struct sb_cfg_step {
    int after_s;
    int relax_skill_levels;
} sb_cfg_step_t;

typedef struct sb_cfg_pool {
    char *id;
    int line;
    int tier;                  /* default 1 */
    sb_strategy_t strategy;    /* default longest_idle */
    sb_accept_t accept;        /* default direct */
    int offer_timeout_s;       /* default 15 */
    int max_wait_s;            /* 0 = no limit (default) */
    int overflow;              /* pool index or -1 */
    int escalate_to;           /* pool index or -1 */
    int sla_first_response_s;  /* default 60 */
    sb_cfg_step_t *steps;      /* sorted by after_s */
    size_t nsteps;
} sb_cfg_pool_t;

typedef struct sb_cfg_topic {
    char *id;
    int line;
    int pool;                  /* pool index */
    sb_skill_req_t *skills;
    size_t nskills;
    int priority;              /* default 0; higher is served first */
} sb_cfg_topic_t;

typedef struct sb_cfg_agent {
    char *id;
    char *name;                /* default: id */
    int line;
    sb_role_t role;            /* default agent */
    uint8_t token_sha256[32];
    int *pools;                /* pool indexes */
    size_t npools;
    uint8_t *languages;        /* [nlanguages] levels 0-10; 0 = does not speak */
    uint8_t *skills;           /* [nskills] levels 0-10 */
    int cap_chat;              /* default 1 */
    int cap_voice;             /* default 0 */
} sb_cfg_agent_t;

typedef struct sb_cfg_phrase_rule {
    int language;              /* language index */
    char **match;              /* phrases as written */
    size_t nmatch;
    sb_esc_kind_t kind;
    int to;                    /* pool index for functional, else -1 */
    int line;
} sb_cfg_phrase_rule_t;

typedef struct sb_cfg_connector {
    char *id;
    uint8_t key_sha256[32];
    char **channels;
    size_t nchannels;
    int line;
} sb_cfg_connector_t;

/* channels.*: a NULL/false member means the channel is not configured. */
typedef struct sb_cfg_channels {
    bool whatsapp;
    char *wa_app_secret, *wa_verify_token, *wa_access_token, *wa_phone_number_id,
         *wa_api_base;
    int wa_pool;               /* -1: default_pool */
    bool messenger;
    char *ms_app_secret, *ms_verify_token, *ms_page_access_token, *ms_api_base;
    int ms_pool;
    bool telegram;
    char *tg_secret_token, *tg_bot_token, *tg_api_base;
    int tg_pool;
    bool voice;
    char *vo_auth_token, *vo_public_url, *vo_api_base;
    int vo_pool;
    sb_cfg_connector_t *connectors;
    size_t nconnectors;

    /* added with the channel adapters (docs/configuration.md, "channels") */
    char *vo_account_sid;      /* voice.account_sid: "AC" + 32 hex, or NULL */
    char *vo_caller_id;        /* voice.caller_id: E.164, or NULL */
    int outbox_max_age_s;      /* give up on an undelivered message after this; 86400 */
    int outbox_concurrency;    /* requests in flight per channel; 4 */
    int outbox_retry_base_ms;  /* first retry delay (doubles each time, jittered); 1000 */
    int outbox_retry_max_s;    /* longest retry delay; 300 */
    int outbox_timeout_s;      /* one send request, connect to answer; 30 */
} sb_cfg_channels_t;

typedef struct sb_config {
    char *path;                /* the file it was read from */

    /* server */
    char *listen_host;         /* "127.0.0.1", "::1" (no brackets) */
    int listen_port;           /* 0 = any free port */
    char *tls_cert, *tls_key;  /* both NULL or both set */
    int max_frame_bytes;       /* default 65536 */
    int max_connections;       /* default 100000 */
    int rate_mps, rate_burst;  /* default 20, 40 */
    char **allowed_origins;
    size_t nallowed_origins;
    bool has_admin_token;
    uint8_t admin_token_sha256[32];
    char *web_root;            /* server.web_root: static files; default "web" */
    bool demo;                 /* server.demo: serve the demo page at "/" */

    /* store */
    char *store_engine;        /* "sqlite" */
    char *store_path;          /* default "var/switchboard.db"; ":memory:" */
    sb_sync_t store_sync;      /* default full */
    int store_retain_days;     /* 0 = keep forever (default) */

    /* routing */
    int default_language;      /* language index */
    bool detect_language;      /* default true */
    int wrap_up_s;             /* default 0 */
    int agent_grace_s;         /* routing.agent_grace_s, default 30 */
    int max_missed_offers;     /* routing.max_missed_offers, default 3 */
    int default_handle_s;      /* routing.default_handle_s, default 180: ETA with no history */
    int transcript_limit;      /* routing.transcript_limit, default 200: messages in an envelope */

    char **skills;
    size_t nskills;
    char **languages;
    size_t nlanguages;

    sb_cfg_topic_t *topics;
    size_t ntopics;
    int default_pool;          /* pool index */

    sb_cfg_pool_t *pools;
    size_t npools;

    sb_cfg_agent_t *agents;
    size_t nagents;

    /* escalation */
    int esc_max_per_conversation;  /* default 5 */
    int esc_bot_fallbacks;         /* default 2 */
    sb_cfg_phrase_rule_t *phrases;
    size_t nphrases;

    sb_cfg_channels_t channels;

    /* templates[language index][key]; NULL where the file has none. */
    char *(*templates)[SB_TPL__COUNT];
} sb_config_t;

/*
 * Reads and validates FILE. On success returns a new configuration (free it
 * with sb_config_free). On failure returns NULL and writes every problem
 * found, one "FILE:LINE: what is wrong" per line, into err (truncated to
 * errlen, always NUL-terminated).
 */
sb_config_t *sb_config_load(const char *path, char *err, size_t errlen);

/* Frees a configuration; accepts NULL. */
void sb_config_free(sb_config_t *cfg);

/* Index lookups; -1 when absent. */
int sb_config_pool(const sb_config_t *cfg, const char *id);
int sb_config_skill(const sb_config_t *cfg, const char *id);
int sb_config_topic(const sb_config_t *cfg, const char *id);
int sb_config_agent(const sb_config_t *cfg, const char *id);

/*
 * The configured language for a BCP 47 tag: exact match, else the primary
 * subtag ("pt-BR" -> "pt"), case-insensitive. -1 when none matches.
 */
int sb_config_language(const sb_config_t *cfg, const char *tag);

/*
 * The template text for language and key, falling back to the default
 * language, then to a built-in English text. Never NULL; borrowed.
 */
const char *sb_config_template(const sb_config_t *cfg, int language, sb_tpl_key_t key);

#endif
