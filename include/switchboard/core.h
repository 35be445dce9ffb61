/*
 * core.h - the routing core: pools, agents, queues, matching, offers,
 * escalation, timers and customer notices.
 *
 * The core is pure and single-writer. Events and the current time go in
 * (sb_core_* calls with a `now`), decisions come out as a list of actions
 * (sb_core_actions) that the hub carries out: persist, send, notify. It
 * never reads a clock, touches a socket or calls the store, so a unit test
 * replays a day of traffic with a fake clock in milliseconds.
 *
 * Deadlines (offer expiry, wrap-up, grace, steps, max wait) live in one
 * timer structure inside the core: the hub asks sb_core_next_deadline() and
 * calls sb_core_tick() when it is reached. There is no polling.
 *
 * The structs below are readable by the hub, codec and store (to encode the
 * context envelope and persist rows); only the core writes them.
 *
 * Lifetime: objects referenced by actions stay valid until
 * sb_core_actions_clear(). A conversation that closed is freed by the core in
 * sb_core_actions_clear(), so the hub drops its own references to it when it
 * handles SB_ACT_CLOSED; likewise an agent removed by sb_core_reconfigure()
 * when it handles SB_ACT_AGENT_STATE with reason "removed". Agent objects
 * never move: an sb_agent_t pointer stays valid until its agent is removed
 * (and the actions cleared) or the core is freed.
 */
#ifndef SWITCHBOARD_CORE_H
#define SWITCHBOARD_CORE_H

#include "switchboard/common.h"
#include "switchboard/config.h"

struct json_t;  /* jansson; attributes are opaque to the core */

typedef enum {
    SB_CONV_BOT, SB_CONV_QUEUED, SB_CONV_OFFERED, SB_CONV_ASSIGNED,
    SB_CONV_ON_HOLD, SB_CONV_CLOSED
} sb_conv_state_t;

typedef enum { SB_MEDIA_CHAT, SB_MEDIA_VOICE } sb_media_t;

typedef enum {
    SB_AGENT_OFFLINE, SB_AGENT_AVAILABLE, SB_AGENT_AWAY
} sb_agent_state_t;

typedef enum {
    SB_FROM_CUSTOMER, SB_FROM_AGENT, SB_FROM_BOT, SB_FROM_SYSTEM
} sb_from_t;

typedef enum {
    SB_EV_CREATED, SB_EV_QUEUED, SB_EV_OFFERED, SB_EV_ASSIGNED, SB_EV_DECLINED,
    SB_EV_OFFER_EXPIRED, SB_EV_TRANSFERRED, SB_EV_ESCALATED, SB_EV_OVERFLOW,
    SB_EV_REQUEUED, SB_EV_CLOSED, SB_EV_RELAXED,
    SB_EV_LANGUAGE,    /* "language": the router set the language from the customer's
                          text; reason "detected: <tag>" */
    SB_EV_DELIVERY_FAILED, /* "delivery_failed": a platform message was given up */
    SB_EV__COUNT
} sb_event_kind_t;

/*
 * Language detection (routing.detect_language). A chat conversation opened
 * without a configured language (sb_conv_spec_t.language NULL or not in
 * `languages`) is "undeclared" and its language is guessed from the
 * customer's text (sb_langdetect), falling back to routing.default_language:
 *  - with first_text at open, the guess is made before routing;
 *  - without it, the conversation is queued (the customer gets QUEUE) but
 *    held: offered or assigned to nobody until the first customer message,
 *    or until SB_CORE_DETECT_HOLD_MS have passed (then in the default
 *    language);
 *  - while it waits unassigned (queued, never offered or assigned yet), each
 *    of its first SB_CORE_DETECT_MESSAGES customer messages is guessed
 *    again; a confident guess that differs switches the language (history
 *    `language`, reason "detected: <tag>"), and it is routed in that
 *    language (its place in the pool's queue is kept; its queue notice is
 *    sent again in the new language).
 * A declared language never changes. Voice conversations are never held.
 * There is no configuration key for the hold (fixed here).
 */
#define SB_CORE_DETECT_HOLD_MS 10000
#define SB_CORE_DETECT_MESSAGES 3

/* One transcript entry. Strings are owned by the conversation. */
typedef struct sb_message {
    uint64_t seq;
    sb_from_t from;
    char *name;        /* display name of the sender; may be NULL */
    char *agent_id;    /* sender for agent/bot messages, else NULL */
    char *text;
    sb_ms_t ts;
} sb_message_t;

typedef struct sb_note {
    char *agent_id;
    char *text;
    sb_ms_t ts;
} sb_note_t;

/* One routing event in a conversation's history. */
typedef struct sb_event {
    sb_event_kind_t kind;
    sb_ms_t ts;
    int pool;          /* pool index the conversation is in after the event, -1 none */
    int from_pool;     /* for transferred/escalated/overflow: where it came from, else -1 */
    char *agent_id;    /* agent concerned, or NULL */
    char *esc_kind;    /* "functional" | "hierarchical" | NULL */
    char *reason;      /* free text or NULL */
    char *note;        /* agent's note or NULL */
} sb_event_t;

typedef struct sb_agent sb_agent_t;
typedef struct sb_conv sb_conv_t;

struct sb_conv {
    char id[40];
    char channel[24];          /* "webchat", "whatsapp", ... */
    sb_media_t media;
    sb_conv_state_t state;

    char *customer_name, *customer_email, *customer_contact;  /* may be NULL */
    int language;              /* language index */
    int topic;                 /* topic index or -1 */
    int pool;                  /* current pool index */
    sb_skill_req_t *skills;    /* required skills as asked (before relaxing) */
    size_t nskills;
    int relaxed;               /* levels currently subtracted by steps */
    int priority;
    struct json_t *attributes; /* flat object; owned; may be NULL */

    uint8_t token_sha256[32];  /* resume secret, hashed (set by the hub) */

    sb_message_t *msgs;        /* transcript, seq = index + 1 */
    size_t nmsgs, msgs_cap;
    uint64_t last_seq;
    sb_note_t *notes;
    size_t nnotes, notes_cap;
    sb_event_t *history;
    size_t nhistory, history_cap;

    sb_agent_t *agent;         /* assigned (or offered, when state is OFFERED) */
    sb_ms_t created_at;
    sb_ms_t arrival;           /* original arrival: queue order across hops */
    sb_ms_t entered_pool_at;   /* when it entered its current pool */
    sb_ms_t first_response_at; /* first agent message, 0 = none yet */
    int escalations;
    int bot_fallbacks;         /* consecutive */

    void *user;                /* the hub's: customer session */
    void *core_private;        /* the core's own bookkeeping */
};

struct sb_agent {
    const sb_cfg_agent_t *cfg; /* borrowed from the configuration */
    int index;                 /* index in cfg->agents */
    sb_agent_state_t state;
    bool connected;
    int active_chat, active_voice;   /* conversations held (incl. offers, wrap-up) */
    sb_ms_t idle_since;        /* last assignment or becoming available */
    int missed_offers;         /* consecutive expired offers */
    void *user;                /* the hub's: agent session */
    void *core_private;
};

/* What a new conversation starts with; strings are copied. */
typedef struct sb_conv_spec {
    const char *id;            /* required, unique, < 40 bytes */
    const char *channel;       /* default "webchat" */
    sb_media_t media;
    const char *name, *email, *contact;
    const char *language;      /* BCP 47 tag or NULL (undeclared: see SB_CORE_DETECT_*) */
    const char *first_text;    /* the customer's first text when the channel has it at
                                  open (WhatsApp ...), or NULL: only used to guess an
                                  undeclared language before routing; the caller still
                                  adds it with sb_core_customer_message */
    const char *topic;         /* topic id or NULL */
    int pool;                  /* -1: from topic / default_pool */
    struct json_t *attributes; /* the core takes its own reference (json_incref): the
                                  caller keeps and releases its own; may be NULL */
} sb_conv_spec_t;

typedef enum {
    SB_ACT_CONV_SAVE,      /* conversation row changed: persist it */
    SB_ACT_MESSAGE,        /* new transcript entry: persist, send to customer and conv->agent */
    SB_ACT_NOTE,           /* new note: persist, send to conv->agent */
    SB_ACT_EVENT,          /* new history event: persist */
    SB_ACT_QUEUE,          /* customer: queue position (pool, position, eta_s, text) */
    SB_ACT_AGENT_JOINED,   /* customer: agent joined (agent, text) */
    SB_ACT_TRANSFERRING,   /* customer: moving to pool (pool, esc_kind, text) */
    SB_ACT_CLOSED,         /* customer: closed (reason, text); conv freed after clear */
    SB_ACT_ASSIGNED,       /* agent: assigned conversation (agent, conv) */
    SB_ACT_OFFER,          /* agent: offer (agent, conv, expires_in_ms) */
    SB_ACT_RELEASED,       /* agent: conversation no longer its (agent, conv, reason) */
    SB_ACT_AGENT_STATE,    /* agent: the router changed its state (agent, reason) */
} sb_action_kind_t;

typedef struct sb_action {
    sb_action_kind_t kind;
    sb_conv_t *conv;           /* may be NULL for AGENT_STATE */
    sb_agent_t *agent;         /* recipient for agent actions, NULL otherwise */
    size_t index;              /* MESSAGE: index in conv->msgs; NOTE: in conv->notes;
                                  EVENT: in conv->history */
    int pool;                  /* QUEUE / TRANSFERRING / AGENT_JOINED: pool index */
    int position;              /* QUEUE: 1-based */
    int eta_s;                 /* QUEUE */
    int64_t expires_in_ms;     /* OFFER */
    const char *reason;        /* static string:
                                  RELEASED: "closed" | "customer_left" | "offer_expired" |
                                            "transferred" | "escalated"
                                  CLOSED: "agent" | "customer"
                                  AGENT_STATE: "missed_offers" (set away) |
                                               "disconnected" (grace over, offline) |
                                               "removed" (gone from the configuration:
                                               close its session, drop the pointer) */
    const char *esc_kind;      /* TRANSFERRING: "functional" | "hierarchical" */
    char *text;                /* localized customer text, owned by the action list */
} sb_action_t;

typedef struct sb_core sb_core_t;

/* A core over cfg (borrowed; must outlive the core). NULL on allocation failure. */
sb_core_t *sb_core_new(const sb_config_t *cfg);
/* Frees the core, every conversation and pending action; accepts NULL. */
void sb_core_free(sb_core_t *core);

/*
 * Switches the core to cfg (borrowed; must outlive the core, or the next
 * reconfiguration), an already validated configuration, without dropping
 * anything. The old configuration must stay valid until the actions this
 * produces are carried out and cleared: removed agents' cfg still point
 * into it until then. Pools, languages, skills, topics and agents are
 * matched by id (languages by tag, as sb_config_language):
 *  - an agent that stays keeps its sb_agent_t (same address), state,
 *    connection, held conversations, wrap-ups, idle_since and user; cfg and
 *    index follow cfg. Holding more than its new capacity, it keeps what it
 *    holds and gets nothing new until below. A new agent starts offline.
 *  - a removed agent: its offers are withdrawn (history `declined`, reason
 *    "agent_removed") and its conversations requeued at the front of their
 *    pools (history `requeued`, reason "agent_removed", system message from
 *    the `requeued` template); it gets SB_ACT_AGENT_STATE "removed" and is
 *    freed in sb_core_actions_clear(). Core calls with it do nothing
 *    (sb_core_agent_connect: SB_ECONFLICT).
 *  - a conversation whose pool is gone moves to cfg's default_pool (history
 *    `transferred`, reason "pool_removed", from_pool -1; a waiting customer
 *    gets SB_ACT_TRANSFERRING; an assigned one stays with its agent); whose
 *    language is gone takes the default language; whose topic is gone has
 *    none; a required skill that is gone is dropped. History events that
 *    named a removed pool name none (-1).
 *  - queues and ready indexes are rebuilt; wait timers (steps, max wait)
 *    re-armed from the new pool's settings, counted from the start of the
 *    current wait (entered_pool_at kept); offers keep their deadlines.
 *    Round-robin cursors, handle-time averages, served and SLA counters stay
 *    with the pools that stay.
 * Then every waiting conversation, best first, is matched (new capacity may
 * assign at once) and queue notices go out as after any event; notices are
 * rendered from cfg's templates from now on. sb_core_agent_find/_at/_count
 * reflect cfg's agents on return. Returns 0, or SB_EINVAL when cfg is NULL.
 * Cannot otherwise fail.
 */
int sb_core_reconfigure(sb_core_t *core, const sb_config_t *cfg, sb_ms_t now);

/* --- lookups ------------------------------------------------------------ */
sb_conv_t *sb_core_conv_find(sb_core_t *core, const char *id);
sb_agent_t *sb_core_agent_find(sb_core_t *core, const char *id);
size_t sb_core_agent_count(const sb_core_t *core);
sb_agent_t *sb_core_agent_at(sb_core_t *core, size_t i);
/* Number of open (not closed) conversations. */
size_t sb_core_conv_count(const sb_core_t *core);
/* Queue length of a pool, and 1-based position of a queued conversation (0 if not queued). */
size_t sb_core_queue_length(const sb_core_t *core, int pool);
int sb_core_queue_position(const sb_core_t *core, const sb_conv_t *conv);

/* Calls fn for every open conversation assigned to (or offered to) agent,
 * oldest first. fn must not call into the core. */
void sb_core_agent_conversations(sb_core_t *core, const sb_agent_t *agent,
                                 void (*fn)(sb_conv_t *conv, void *arg), void *arg);

/*
 * Adopts a conversation read back from the store at start (recovery); see
 * router/core/restore.c for what happens to assignments and offers. Takes
 * the owned members of conv (strings, skills, attributes, transcript, notes,
 * history) and sets them to NULL in conv; agent_id is the agent it was
 * assigned or offered to, or NULL. SB_EINVAL for a closed or inconsistent
 * conversation, SB_ECONFLICT when the id is already open.
 */
int sb_core_conv_restore(sb_core_t *core, sb_conv_t *conv, const char *agent_id, sb_ms_t now);

/*
 * Records in the conversation's history something that happened outside
 * routing (SB_EV_DELIVERY_FAILED: the outbox gave up on a platform message),
 * with the current pool and reason (copied). Actions CONV_SAVE and EVENT.
 * SB_ECONFLICT when the conversation is closed.
 */
int sb_core_conv_record(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind,
                        const char *reason, sb_ms_t now);

/* --- customer events ---------------------------------------------------- */

/*
 * Opens a conversation and routes it: assigned at once when an agent fits,
 * else queued (customer gets SB_ACT_QUEUE); an undeclared language is guessed
 * first, or the conversation is held in its queue until the customer writes
 * (SB_CORE_DETECT_*). Returns the conversation, or NULL with *err set:
 * SB_EINVAL for an unknown topic, SB_ECONFLICT for a duplicate id.
 */
sb_conv_t *sb_core_conv_open(sb_core_t *core, const sb_conv_spec_t *spec,
                             sb_ms_t now, int *err);

/* A customer message; *seq gets its seq. SB_ECONFLICT when closed. May set
 * an undeclared language and route (SB_CORE_DETECT_*), and escalate on a
 * configured phrase (in the language it has then). */
int sb_core_customer_message(sb_core_t *core, sb_conv_t *conv, const char *text,
                             sb_ms_t now, uint64_t *seq);
/* The customer asks for a human or a supervisor (hierarchical escalation). */
int sb_core_customer_escalate(sb_core_t *core, sb_conv_t *conv, const char *reason,
                              sb_ms_t now);
/* The customer closes the conversation. */
int sb_core_customer_close(sb_core_t *core, sb_conv_t *conv, sb_ms_t now);

/* --- agent events ------------------------------------------------------- */

/* The agent's desktop authenticated. State stays as it was (offline -> away). */
int sb_core_agent_connect(sb_core_t *core, sb_agent_t *agent, sb_ms_t now);
/* The desktop went away: its offers move on at once; it gets nothing new; its
 * assigned conversations stay through routing.agent_grace_s, then it is
 * offline and they are requeued at the front of their pools. A reconnect
 * within grace keeps everything. */
int sb_core_agent_disconnect(sb_core_t *core, sb_agent_t *agent, sb_ms_t now);
/* available | away | offline, as asked by the agent. SB_ECONFLICT when the
 * agent is not connected, or asks offline while it holds an assigned
 * conversation (nothing changes). Away and offline move its offers on. */
int sb_core_agent_status(sb_core_t *core, sb_agent_t *agent, sb_agent_state_t state,
                         sb_ms_t now);

/* Agent (or bot) message in a conversation it holds; SB_EFORBIDDEN otherwise.
 * fallback: a bot did not understand (counts toward escalation.bot_fallbacks). */
int sb_core_agent_message(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                          const char *text, bool fallback, sb_ms_t now, uint64_t *seq);
int sb_core_agent_note(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                       const char *text, sb_ms_t now);
int sb_core_agent_close(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                        const char *resolution, sb_ms_t now);
/* Answers to an offer. SB_ECONFLICT when the offer to this agent is over
 * (expired, withdrawn, already answered, or now is at or past its deadline),
 * SB_EFORBIDDEN when the conversation was never offered to it. */
int sb_core_agent_accept(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv, sb_ms_t now);
int sb_core_agent_decline(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv, sb_ms_t now);

/* Functional escalation: to_pool and/or to_agent (-1 / NULL when absent) and/or
 * new skills (NULL when absent). SB_ECONFLICT when the target does not fit or
 * the escalation limit is reached. */
int sb_core_agent_transfer(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                           int to_pool, sb_agent_t *to_agent,
                           const sb_skill_req_t *skills, size_t nskills,
                           const char *note, sb_ms_t now);
/* Hierarchical escalation to the pool's escalate_to. */
int sb_core_agent_escalate(sb_core_t *core, sb_agent_t *agent, sb_conv_t *conv,
                           const char *note, sb_ms_t now);

/*
 * Escalation by the router itself (phrase triggers in customer messages):
 * hierarchical goes to to_pool when >= 0, else the pool's escalate_to;
 * functional needs to_pool (SB_EINVAL without). Whoever holds the
 * conversation gets RELEASED "escalated"; history escalated with reason.
 * SB_ECONFLICT when closed, when there is no target or it is the current
 * pool, or the escalation limit is reached (nothing changes).
 */
int sb_core_conv_escalate(sb_core_t *core, sb_conv_t *conv, sb_esc_kind_t kind, int to_pool,
                          const char *reason, sb_ms_t now);

/* --- supervisor stats ---------------------------------------------------- */

typedef struct sb_pool_stats {
    size_t queue_length;
    int64_t longest_wait_ms;   /* now - arrival of the longest waiting queued one; 0 none */
    int agents_available;      /* members available and connected, with a free slot */
    int agents_busy;           /* available and connected, every slot taken */
    int agents_away;           /* away (connected or within grace) */
    int agents_offline;        /* offline, or available but disconnected (grace) */
    int offers_pending;        /* conversations of the pool offered right now */
    uint64_t served;           /* closed after an assignment in this pool */
    uint64_t sla_total;        /* conversations counted for the first-response SLA */
    uint64_t sla_met;          /* of those, first agent answer within sla_first_response_s */
    double sla_attainment;     /* sla_met / sla_total; 1.0 when sla_total is 0 */
    int handle_s;              /* handle time the queue estimates use now */
} sb_pool_stats_t;

/*
 * Fills *out for pool at now. SLA: a conversation counts once, in the pool
 * it is in when its first agent (or bot) message comes (met when within the
 * pool's sla_first_response_s of arrival), or as missed when it closes
 * unanswered after waiting longer than that. Returns 0, or SB_EINVAL for an
 * unknown pool.
 */
int sb_core_pool_stats(const sb_core_t *core, int pool, sb_ms_t now, sb_pool_stats_t *out);

/* --- time ---------------------------------------------------------------- */

/* Fires every deadline at or before now. */
void sb_core_tick(sb_core_t *core, sb_ms_t now);
/* The earliest pending deadline, or SB_NEVER. */
sb_ms_t sb_core_next_deadline(const sb_core_t *core);

/* --- actions ------------------------------------------------------------- */

/* The actions produced since the last clear, in order. Borrowed. */
const sb_action_t *sb_core_actions(const sb_core_t *core, size_t *count);
/* Forgets the actions and frees conversations closed since the last clear. */
void sb_core_actions_clear(sb_core_t *core);

/* Names for the wire. */
const char *sb_conv_state_name(sb_conv_state_t s);
const char *sb_agent_state_name(sb_agent_state_t s);
const char *sb_from_name(sb_from_t f);
const char *sb_event_name(sb_event_kind_t k);
const char *sb_role_name(sb_role_t r);

#endif
