/*
 * internal.h - the core's private state, shared by the files of router/core.
 *
 * A conversation is allocated as a conv_ext_t whose first member is the
 * public sb_conv_t, so the core converts between them with a cast (and
 * conv->core_private points at the same object). Agents are allocated one
 * by one (the hub keeps pointers to them across a reconfiguration) and
 * listed in core->agents in configuration order: core->agents[i]->pub.index
 * == i and pub.cfg == &cfg->agents[i].
 */
#ifndef SB_CORE_INTERNAL_H
#define SB_CORE_INTERNAL_H

#include "switchboard/core.h"

#include "switchboard/map.h"
#include "template.h"
#include "queue.h"
#include "timer.h"

/* Timer kinds. */
enum {
    CORE_T_OFFER,       /* conversation: offer expires */
    CORE_T_STEP,        /* conversation: next relaxation step */
    CORE_T_MAXWAIT,     /* conversation: waited max_wait_s in its pool */
    CORE_T_NOTICE,      /* pool: coalesced queue notices are due */
    CORE_T_GRACE,       /* agent: disconnect grace is over */
    CORE_T_WRAP,        /* agent: the earliest wrap-up slot frees */
    CORE_T_LANG,        /* conversation: the hold for a first message is over */
};

/* The language-and-medium queue of a pool holding conversations of language l
 * and medium m. */
#define CORE_LQ(l, m) ((size_t)(l) * 2 + ((m) == SB_MEDIA_VOICE))

/* Queue notices: at most one per conversation per this many ms. */
#define CORE_NOTICE_MS 1000
/* A notice walk looks at this many queued conversations per step, then
 * continues 1 ms later: no event pays for a whole long queue. */
#define CORE_NOTICE_BATCH 64

typedef struct conv_ext conv_ext_t;
struct conv_ext {
    sb_conv_t pub;              /* first: (conv_ext_t *)conv works */
    uint64_t ticket;            /* creation order, last tie-break in queues */
    core_qnode_t qnode;         /* in pools[queued_pool].queue while queued */
    core_qnode_t lnode;         /* and in pools[queued_pool].lqueue[CORE_LQ(language, media)] */
    int queued_pool;            /* -1 when in no queue */
    core_timer_t t_offer, t_step, t_maxwait, t_lang;
    bool lang_auto;             /* language undeclared: guessed from the customer's text
                                   until it is first offered or assigned */
    bool lang_hold;             /* held in its queue until a first message (t_lang) */
    int lang_msgs;              /* customer messages guessed so far */
    int next_step;              /* index of the next pool step to apply */
    sb_ms_t wait_since;         /* start of the current wait (steps, max wait) */
    int notified_pos, notified_eta, notified_pool;   /* last QUEUE sent */
    sb_ms_t last_notice_at;     /* when; INT64_MIN/2 = never */
    sb_ms_t assigned_at;        /* current assignment, for handle times */
    bool ever_assigned;         /* counts as served when it closes */
    bool sla_done;              /* counted in its pool's SLA attainment */
    uint64_t save_epoch;        /* core epoch of its last CONV_SAVE */
    conv_ext_t *next_closed;    /* closed, freed at the next actions clear */
};

typedef struct core_wrap {
    sb_ms_t at;
    sb_media_t media;
} core_wrap_t;

/* Agents of one pool speaking one language that could take work now
 * (available, connected, a free slot): what selection walks. Sorted by
 * (key, agent index). In a longest_idle pool the key is the agent's
 * idle_since, so the first agent that fits is the one the strategy picks;
 * in other pools it is 0 (agent order: round_robin starts after its cursor,
 * least_busy and best_skill compare every agent). */
typedef struct core_ready {
    sb_ms_t key;
    uint64_t has[2];            /* bit s % 128: the agent has skill s (level > 0) */
    struct agent_ext *ax;       /* the agent ... */
    const uint8_t *skills;      /* ... its skill levels (cfg) ... */
    int32_t agent;              /* ... its index ... */
    int32_t cap[2];             /* ... and capacity (chat, voice): a fit check reads
                                   the entry, which is contiguous, and goes to the agent
                                   only for what the bits cannot rule out */
} core_ready_t;

typedef struct core_bucket {
    core_ready_t *e;
    size_t n, cap;
} core_bucket_t;

typedef struct agent_ext {
    sb_agent_t pub;             /* first */
    sb_conv_t **convs;          /* held: offered or assigned */
    size_t nconvs, convs_cap;
    core_wrap_t *wraps;         /* slots in wrap-up, sorted by at */
    size_t nwraps, wraps_cap;
    core_timer_t t_grace, t_wrap;
    bool online;                /* counted in its pools' online capacity */
    bool indexed;               /* in its pools' ready buckets */
    sb_ms_t ready_key;          /* its key in longest_idle pools' buckets (idle_since) */
    uint64_t has[2];            /* bit s % 128 set for each skill with level > 0 */
    bool removed;               /* gone from the configuration: holds nothing, is in
                                   no index, freed at the next actions clear */
    struct agent_ext *next_removed;
} agent_ext_t;

typedef struct pool_state {
    core_queue_t queue;         /* every waiting conversation, in order */
    core_queue_t *lqueue;       /* [nlanguages * 2]: the same, split by language and
                                   medium (CORE_LQ) */
    core_bucket_t *ready;       /* [nlanguages]: agents that could take work */
    int *members;               /* agent indexes, ascending */
    size_t nmembers;
    int rr_cursor;              /* round_robin: agent index served last, -1 */
    int online_chat, online_voice;   /* capacity of available, connected members */
    int offers_pending;
    uint64_t served;            /* closed after an assignment in this pool */
    uint64_t sla_total, sla_met;
    double handle_ema_ms;       /* moving average of assignment -> close */
    uint64_t handle_samples;
    bool dirty;                 /* listed in core->dirty for the next flush */
    size_t dirty_from;          /* first 1-based position whose notice may be stale;
                                   SIZE_MAX when none */
    core_timer_t t_notice;
    sb_ms_t last_walk;          /* when the last (or current) walk started */
    bool walking;               /* a walk is in progress ... */
    size_t walk_pos;            /* ... and has looked at this many positions */
} pool_state_t;

struct sb_core {
    const sb_config_t *cfg;
    agent_ext_t **agents;       /* [nagents], configuration order */
    size_t nagents;
    pool_state_t *pools;
    size_t npools;
    sb_map_t convs;           /* id -> conv_ext_t, open conversations */
    sb_map_t agent_ids;       /* id -> agent_ext_t */
    sb_map_t topic_ids;       /* id -> topic index + 1 (cast), keys in cfg */
    core_tpl_t *tpls;           /* [nlanguages * SB_TPL__COUNT]: compiled on first use */
    core_heap_t timers;
    sb_action_t *actions;
    size_t nactions, actions_cap;
    uint64_t epoch;             /* bumped by every entry point: CONV_SAVE dedup */
    conv_ext_t *closed;         /* closed since the last clear */
    agent_ext_t *removed;       /* removed by a reconfiguration since the last clear */
    uint64_t next_ticket;
    int *dirty;                 /* pools with pending queue notices */
    size_t ndirty;
};

static inline conv_ext_t *core__cx(sb_conv_t *c) { return (conv_ext_t *)c; }
static inline agent_ext_t *core__ax(sb_agent_t *a) { return (agent_ext_t *)a; }

/* --- core.c: construction, actions, history, texts ------------------------ */
void core__pool_init(sb_core_t *core, pool_state_t *ps, size_t p);
void core__pool_free(pool_state_t *ps, size_t nlanguages);
void core__members_build(sb_core_t *core);
agent_ext_t *core__agent_new(sb_core_t *core, const sb_cfg_agent_t *ac, int index);
void core__topics_index(sb_core_t *core);
void core__agent_free(agent_ext_t *a);
void core__agent_set_cfg(sb_core_t *core, agent_ext_t *a, const sb_cfg_agent_t *ac, int index);
sb_action_t *core__act(sb_core_t *core, sb_action_kind_t kind, sb_conv_t *conv,
                       sb_agent_t *agent);
void core__save(sb_core_t *core, sb_conv_t *conv);
void core__event(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind, int from_pool,
                 const char *agent_id, const char *esc_kind, const char *reason,
                 const char *note, sb_ms_t now);
char *core__text(sb_core_t *core, const sb_conv_t *conv, sb_tpl_key_t key,
                 const core_tpl_var_t *vars, size_t nvars);
void core__tpls_reset(sb_core_t *core, size_t old_nlanguages);
core_tpl_t *core__tpl(sb_core_t *core, int language, sb_tpl_key_t key,
                      const char *const *names, size_t nnames);
void core__enter(sb_core_t *core);
size_t core__system_message(sb_core_t *core, sb_conv_t *conv, const char *text,
                            sb_ms_t now);
void core__agent_hold(agent_ext_t *a, sb_conv_t *conv);
void core__agent_unhold(agent_ext_t *a, sb_conv_t *conv);
void core__agent_refresh(sb_core_t *core, agent_ext_t *a);
void core__agent_reindex(sb_core_t *core, agent_ext_t *a);
void core__agent_rekey(sb_core_t *core, agent_ext_t *a);
void core__slot_take(sb_core_t *core, agent_ext_t *a, sb_media_t media);
void core__slot_free(sb_core_t *core, agent_ext_t *a, sb_media_t media);
int *core__active(sb_agent_t *a, sb_media_t media);
int core__check_owner(const sb_agent_t *agent, const sb_conv_t *conv);
void core__grace_expired(sb_core_t *core, agent_ext_t *a, sb_ms_t now);
void core__requeue_detach(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a,
                          const char *reason, sb_ms_t now);

/* --- route.c: matching, offers, queues, notices -------------------------- */
bool core__fits(const sb_core_t *core, const sb_agent_t *a, const sb_conv_t *conv,
                int pool);
agent_ext_t *core__select(sb_core_t *core, sb_conv_t *conv, const sb_agent_t *exclude);
void core__assign(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a, sb_ms_t now);
void core__give(sb_core_t *core, sb_conv_t *conv, agent_ext_t *a, sb_ms_t now);
void core__route(sb_core_t *core, sb_conv_t *conv, const sb_agent_t *exclude, sb_ms_t now);
void core__match_agent(sb_core_t *core, agent_ext_t *a, const sb_conv_t *skip, sb_ms_t now);
void core__enqueue(sb_core_t *core, sb_conv_t *conv, sb_ms_t now);
void core__dequeue(sb_core_t *core, sb_conv_t *conv);
void core__queue_put(sb_core_t *core, sb_conv_t *conv);
void core__release_slot(sb_core_t *core, agent_ext_t *a, sb_conv_t *conv, bool wrap_up,
                        sb_ms_t now);
void core__offer_failed(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind,
                        const char *reason, bool released, sb_ms_t now);
void core__arm_wait_timers(sb_core_t *core, sb_conv_t *conv);
int core__steps_applied(const sb_cfg_pool_t *pc, int relaxed);
void core__mark_dirty(sb_core_t *core, int pool);
void core__mark_dirty_from(sb_core_t *core, int pool, size_t position);
void core__flush_notices(sb_core_t *core, sb_ms_t now);
void core__walk_notices(sb_core_t *core, int pool, sb_ms_t now);
int core__eta_s(const sb_core_t *core, int pool, sb_media_t media, size_t position);
void core__on_timer(sb_core_t *core, core_timer_t *t, sb_ms_t now);
void core__set_language(sb_core_t *core, sb_conv_t *conv, int language, sb_ms_t now);

/* --- escalate.c: moves between pools --------------------------------------- */
void core__move(sb_core_t *core, sb_conv_t *conv, int to, sb_event_kind_t ev,
                sb_esc_kind_t kind, const char *released, const char *reason,
                const char *note, const sb_skill_req_t *skills, size_t nskills,
                bool set_skills, agent_ext_t *to_agent, sb_ms_t now);
void core__max_wait(sb_core_t *core, sb_conv_t *conv, sb_ms_t now);
void core__bot_answered(sb_core_t *core, sb_conv_t *conv, bool fallback, sb_ms_t now);

#endif
