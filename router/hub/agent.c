/*
 * agent.c - the agent endpoint /v1/agent (protocol.md section 4): agent
 * desktops, bots and supervisors.
 *
 * The first frame authenticates (or the upgrade request's Authorization:
 * Bearer header). The token is hashed with SHA-256 and compared with every
 * configured agent's token_sha256 in constant time. A second sign-in of the
 * same agent takes over: the older socket is closed with 4001.
 */
#include "hub_private.h"
#include "switchboard/codec.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define CLOSE_REPLACED 4001

typedef struct agent_session {
    sb_agent_t *agent;      /* NULL until authenticated */
    bool *monitor;          /* [npools]: pools whose stats this supervisor gets */
    bool monitoring;
} agent_session_t;

/* The agent whose token this is, or NULL. Looks at every agent every time. */
static sb_agent_t *authenticate(sb_core_t *core, const char *token, size_t len)
{
    unsigned char hash[SHA256_DIGEST_LENGTH];
    sb_agent_t *found = NULL;
    size_t n = sb_core_agent_count(core);

    SHA256((const unsigned char *)token, len, hash);
    for (size_t i = 0; i < n; i++) {
        sb_agent_t *a = sb_core_agent_at(core, i);
        if (CRYPTO_memcmp(hash, a->cfg->token_sha256, sizeof(hash)) == 0)
            found = a;
    }
    return found;
}

static void refuse(sb_session_t *s, const char *ref)
{
    sb_session_error(s, ref, "unauthorized", "authentication failed");
    sb_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "authentication failed");
}

/* welcome.conversations: what the agent holds (offers were withdrawn when it left). */
static void collect_conv(sb_conv_t *conv, void *arg)
{
    if (conv->state != SB_CONV_ASSIGNED)
        return;
    json_array_append_new(((json_t **)arg)[0],
                          sb_codec_context(((const sb_config_t **)arg)[1], conv, 0));
}

static void sign_in(sb_session_t *s, agent_session_t *as, sb_agent_t *agent, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const sb_config_t *cfg = sb_hub_config(hub);
    json_t *o, *convs = json_array();
    void *arg[2] = { convs, (void *)cfg };

    if (agent->user && agent->user != s) {
        agent_session_t *old = sb_session_data(agent->user);
        sb_session_error(agent->user, NULL, "conflict", "signed in from another connection");
        sb_session_close(agent->user, CLOSE_REPLACED, "signed in from another connection");
        if (old)
            old->agent = NULL;
    }
    agent->user = s;
    as->agent = agent;
    sb_core_agent_connect(sb_hub_core(hub), agent, sb_hub_now());
    sb_core_agent_conversations(sb_hub_core(hub), agent, collect_conv, arg);
    o = json_object();
    json_object_set_new(o, "type", json_string("welcome"));
    if (ref)
        json_object_set_new(o, "ref", json_string(ref));
    json_object_set_new(o, "agent", sb_codec_agent(cfg, agent));
    json_object_set_new(o, "conversations", convs);
    sb_session_send_now(s, o);
    sb_info("agent %s signed in", agent->cfg->id);
}

static int ag_open(sb_session_t *s)
{
    agent_session_t *as = sb_calloc(1, sizeof(*as));
    char auth[300];
    int n;

    sb_session_set_data(s, as);
    n = lws_hdr_copy(s->wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
        sb_agent_t *agent = authenticate(sb_hub_core(s->hub), auth + 7, (size_t)n - 7);
        if (!agent)
            refuse(s, NULL);
        else
            sign_in(s, as, agent, NULL);
    }
    return 0;
}

static void ag_close(sb_session_t *s)
{
    agent_session_t *as = sb_session_data(s);

    if (as && as->agent && as->agent->user == s) {
        as->agent->user = NULL;
        sb_core_agent_disconnect(sb_hub_core(s->hub), as->agent, sb_hub_now());
        sb_info("agent %s disconnected", as->agent->cfg->id);
    }
    if (as)
        free(as->monitor);
    free(as);
    sb_session_set_data(s, NULL);
}

static void reply_rc(sb_session_t *s, const char *ref, int rc, const char *what)
{
    if (rc < 0)
        sb_session_error(s, ref, sb_error_code(rc), "%s: %s", what, sb_strerror(rc));
    else
        sb_session_ok(s, ref, NULL);
}

static int parse_state(const char *name, sb_agent_state_t *out)
{
    if (strcmp(name, "available") == 0)
        *out = SB_AGENT_AVAILABLE;
    else if (strcmp(name, "away") == 0)
        *out = SB_AGENT_AWAY;
    else if (strcmp(name, "offline") == 0)
        *out = SB_AGENT_OFFLINE;
    else
        return -1;
    return 0;
}

static const char *const conv_types[] = {
    "message", "note", "close", "accept", "decline", "transfer", "escalate", "typing", NULL
};

static bool is_conv_type(const char *type)
{
    for (size_t i = 0; conv_types[i]; i++)
        if (strcmp(conv_types[i], type) == 0)
            return true;
    return false;
}

/* A message from the agent (or bot), its fields checked. */
static void agent_message(sb_session_t *s, sb_agent_t *agent, sb_conv_t *conv,
                          const char *text, bool fallback, const char *ref)
{
    uint64_t seq = 0;
    int rc = sb_core_agent_message(sb_hub_core(sb_session_hub(s)), agent, conv, text,
                                   fallback, sb_hub_now(), &seq);

    if (rc < 0)
        reply_rc(s, ref, rc, "message");
    else
        sb_session_ok_seq(s, ref, seq, conv->id);
}

/* The hot request without a tree: a well-formed "message" about an open
 * conversation. Anything else goes to ag_frame, which says what is wrong. */
static bool ag_flat(sb_session_t *s, const sb_flat_t *f)
{
    agent_session_t *as = sb_session_data(s);
    sb_hub_t *hub = sb_session_hub(s);
    const char *type, *id, *text, *ref, *str;
    size_t len;
    bool fallback = false, b;
    sb_conv_t *conv;

    if (!as || !as->agent || !sb_hub_store_ok(hub) ||
        sb_flat_get(f, "type", &type, &len, &b) != 1 || strcmp(type, "message") != 0 ||
        sb_flat_get(f, "conversation_id", &id, &len, &b) != 1 || len == 0 ||
        sb_flat_get(f, "text", &text, &len, &b) != 1 || len == 0 || sb_flat_ref(f, &ref) < 0 ||
        !(conv = sb_core_conv_find(sb_hub_core(hub), id)))
        return false;
    if (sb_flat_get(f, "fallback", &str, &len, &fallback) == 1)
        return false;           /* not a boolean: ag_frame says so */
    agent_message(s, as->agent, conv, text, fallback, ref);
    return true;
}

/* A request about one conversation: the id is checked before the type's fields. */
static void conv_request(sb_session_t *s, sb_agent_t *agent, json_t *frame, const char *type,
                         const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const sb_config_t *cfg = sb_hub_config(hub);
    sb_core_t *core = sb_hub_core(hub);
    const char *id = NULL, *text = NULL, *note = NULL;
    char msg[200];
    sb_conv_t *conv;
    sb_ms_t now = sb_hub_now();
    int rc;

    if (sb_codec_str(frame, "conversation_id", true, &id, msg, sizeof(msg)) < 0) {
        sb_session_error(s, ref, "bad_request", "%s", msg);
        return;
    }
    conv = sb_core_conv_find(core, id);
    if (!conv) {
        sb_session_error(s, ref, "not_found", "no open conversation '%s'", id);
        return;
    }
    if (strcmp(type, "typing") != 0 && !sb_hub_store_ok(hub)) {
        sb_session_error(s, ref, "unavailable", "the store cannot write right now; try again");
        return;
    }

    if (strcmp(type, "message") == 0) {
        bool fallback = false;
        if (sb_codec_str(frame, "text", true, &text, msg, sizeof(msg)) < 0 ||
            sb_codec_bool(frame, "fallback", &fallback, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        agent_message(s, agent, conv, text, fallback, ref);
    } else if (strcmp(type, "note") == 0) {
        if (sb_codec_str(frame, "text", true, &text, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        reply_rc(s, ref, sb_core_agent_note(core, agent, conv, text, now), "note");
    } else if (strcmp(type, "close") == 0) {
        const char *resolution = NULL;
        if (sb_codec_str(frame, "resolution", false, &resolution, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        reply_rc(s, ref, sb_core_agent_close(core, agent, conv, resolution, now), "close");
    } else if (strcmp(type, "accept") == 0) {
        reply_rc(s, ref, sb_core_agent_accept(core, agent, conv, now), "accept");
    } else if (strcmp(type, "decline") == 0) {
        reply_rc(s, ref, sb_core_agent_decline(core, agent, conv, now), "decline");
    } else if (strcmp(type, "transfer") == 0) {
        const char *to_pool = NULL, *to_agent = NULL;
        sb_skill_req_t *skills = NULL;
        size_t nskills = 0;
        bool has_skills = false;
        int pool = -1;
        sb_agent_t *target = NULL;
        if (sb_codec_str(frame, "to_pool", false, &to_pool, msg, sizeof(msg)) < 0 ||
            sb_codec_str(frame, "to_agent", false, &to_agent, msg, sizeof(msg)) < 0 ||
            sb_codec_str(frame, "note", false, &note, msg, sizeof(msg)) < 0 ||
            sb_codec_skills(cfg, frame, "skills", &skills, &nskills, &has_skills,
                            msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        if (to_pool && (pool = sb_config_pool(cfg, to_pool)) < 0) {
            sb_session_error(s, ref, "not_found", "field 'to_pool': no such pool '%s'", to_pool);
            free(skills);
            return;
        }
        if (to_agent && !(target = sb_core_agent_find(core, to_agent))) {
            sb_session_error(s, ref, "not_found", "field 'to_agent': no such agent '%s'",
                             to_agent);
            free(skills);
            return;
        }
        if (pool < 0 && !target && !has_skills) {
            sb_session_error(s, ref, "bad_request",
                             "transfer needs 'to_pool', 'to_agent' or 'skills'");
            free(skills);
            return;
        }
        rc = sb_core_agent_transfer(core, agent, conv, pool, target,
                                    has_skills ? skills : NULL, nskills, note, now);
        free(skills);
        reply_rc(s, ref, rc, "transfer");
    } else if (strcmp(type, "escalate") == 0) {
        if (sb_codec_str(frame, "note", false, &note, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        reply_rc(s, ref, sb_core_agent_escalate(core, agent, conv, note, now), "escalate");
    } else { /* typing */
        bool on = false;
        const sb_channel_methods_t *ch;
        if (sb_codec_bool(frame, "on", &on, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        if (conv->agent != agent || conv->state != SB_CONV_ASSIGNED) {
            sb_session_error(s, ref, "forbidden", "typing: %s", sb_strerror(SB_EFORBIDDEN));
            return;
        }
        ch = sb_channel_find(conv->channel);
        if (ch && ch->typing)
            ch->typing(hub, conv, on);
        if (ref)
            sb_session_ok_now(s, ref, NULL);
    }
}

/* --- supervisors: monitor -> stats ----------------------------------------- */

/*
 * A supervisor supervises its own pools and every pool whose escalation or
 * overflow chain leads to one of them (frontline -> supervisors, bots ->
 * frontline -> supervisors).
 */
static bool supervises(const sb_config_t *cfg, const sb_cfg_agent_t *a, int pool)
{
    bool *seen = sb_calloc(cfg->npools, sizeof(bool));
    int todo[64];
    size_t ntodo = 0;
    bool found = false;

    todo[ntodo++] = pool;
    while (ntodo && !found) {
        int p = todo[--ntodo];
        if (p < 0 || seen[p])
            continue;
        seen[p] = true;
        for (size_t i = 0; i < a->npools; i++)
            if (a->pools[i] == p)
                found = true;
        if (ntodo + 2 <= sizeof(todo) / sizeof(todo[0])) {
            todo[ntodo++] = cfg->pools[p].escalate_to;
            todo[ntodo++] = cfg->pools[p].overflow;
        }
    }
    free(seen);
    return found;
}

static json_t *stats_frame(sb_hub_t *hub, const agent_session_t *as, sb_ms_t now)
{
    const sb_config_t *cfg = hub->cfg;
    json_t *pools = json_array();

    for (size_t p = 0; p < cfg->npools; p++) {
        sb_pool_stats_t st;
        if (!as->monitor[p] || sb_core_pool_stats(hub->core, (int)p, now, &st) < 0)
            continue;
        json_array_append_new(pools, json_pack(
            "{s:s,s:I,s:f,s:{s:i,s:i,s:i,s:i},s:i,s:I,s:{s:i,s:I,s:I,s:f},s:i}",
            "pool", cfg->pools[p].id,
            "queue_length", (json_int_t)st.queue_length,
            "longest_wait_s", (double)st.longest_wait_ms / 1000.0,
            "agents", "available", st.agents_available, "busy", st.agents_busy,
                      "away", st.agents_away, "offline", st.agents_offline,
            "offers_pending", st.offers_pending,
            "served", (json_int_t)st.served,
            "sla", "target_s", cfg->pools[p].sla_first_response_s,
                   "met", (json_int_t)st.sla_met, "total", (json_int_t)st.sla_total,
                   "attainment", st.sla_attainment,
            "handle_s", st.handle_s));
    }
    return json_pack("{s:s,s:I,s:o}", "type", "stats", "ts", (json_int_t)now, "pools", pools);
}

static void stats_tick(lws_sorted_usec_list_t *sul)
{
    sb_hub_t *hub = lws_container_of(sul, sb_hub_t, sul_stats);
    sb_ms_t now = sb_hub_now();

    hub->stats_scheduled = false;
    for (sb_session_t *s = hub->sessions; s; s = s->next) {
        agent_session_t *as = s->kind == SB_SESSION_AGENT ? sb_session_data(s) : NULL;
        if (as && as->monitoring)
            sb_session_send(s, stats_frame(hub, as, now));
    }
    hub__stats_arm(hub);
}

void hub__stats_arm(sb_hub_t *hub)
{
    bool any = false;

    if (hub->stats_scheduled || !hub->ctx)
        return;
    for (sb_session_t *s = hub->sessions; s && !any; s = s->next) {
        agent_session_t *as = s->kind == SB_SESSION_AGENT ? sb_session_data(s) : NULL;
        any = as && as->monitoring;
    }
    if (!any)
        return;
    hub->stats_scheduled = true;
    lws_sul_schedule(hub->ctx, 0, &hub->sul_stats, stats_tick, LWS_US_PER_SEC);
}

/* {"type":"monitor","pools":[...]}: every pool named (all supervised when
 * empty or absent); {"type":"unmonitor"} stops. */
static void monitor(sb_session_t *s, agent_session_t *as, json_t *frame, const char *ref)
{
    sb_hub_t *hub = sb_session_hub(s);
    const sb_config_t *cfg = hub->cfg;
    json_t *pools = json_object_get(frame, "pools"), *v;
    bool *want;
    size_t i;

    if (as->agent->cfg->role != SB_ROLE_SUPERVISOR) {
        sb_session_error(s, ref, "forbidden", "monitor is for supervisors");
        return;
    }
    if (pools && !json_is_null(pools) && !json_is_array(pools)) {
        sb_session_error(s, ref, "bad_request", "field 'pools' must be an array of pool ids");
        return;
    }
    want = sb_calloc(cfg->npools, sizeof(bool));
    if (!pools || json_is_null(pools) || json_array_size(pools) == 0) {
        for (size_t p = 0; p < cfg->npools; p++)
            want[p] = supervises(cfg, as->agent->cfg, (int)p);
    } else {
        json_array_foreach(pools, i, v) {
            int p = json_is_string(v) ? sb_config_pool(cfg, json_string_value(v)) : -2;
            if (p == -2) {
                sb_session_error(s, ref, "bad_request", "field 'pools[%zu]' must be a string", i);
                goto fail;
            }
            if (p < 0) {
                sb_session_error(s, ref, "not_found", "no such pool '%s'", json_string_value(v));
                goto fail;
            }
            if (!supervises(cfg, as->agent->cfg, p)) {
                sb_session_error(s, ref, "forbidden", "pool '%s' is not supervised by '%s'",
                                 json_string_value(v), as->agent->cfg->id);
                goto fail;
            }
            want[p] = true;
        }
    }
    free(as->monitor);
    as->monitor = want;
    as->monitoring = true;
    sb_session_ok(s, ref, NULL);
    sb_session_send(s, stats_frame(hub, as, sb_hub_now()));
    hub__stats_arm(hub);
    return;
fail:
    free(want);
}

void hub__monitors_remap(sb_hub_t *hub, const sb_config_t *cfg, const sb_config_t *old)
{
    for (sb_session_t *s = hub->sessions; s; s = s->next) {
        agent_session_t *as = s->kind == SB_SESSION_AGENT ? sb_session_data(s) : NULL;
        bool *want;
        if (!as || !as->monitor)
            continue;
        want = sb_calloc(cfg->npools, sizeof(bool));
        for (size_t p = 0; p < old->npools; p++) {
            int np = as->monitor[p] ? sb_config_pool(cfg, old->pools[p].id) : -1;
            if (np >= 0)
                want[np] = true;
        }
        free(as->monitor);
        as->monitor = want;
    }
}

void hub__agent_removed(sb_hub_t *hub, sb_agent_t *agent)
{
    sb_session_t *s = agent->user;
    agent_session_t *as;

    sb_info("agent %s removed from the configuration", agent->cfg->id);
    agent->user = NULL;
    if (!s)
        return;
    as = sb_session_data(s);
    if (as)
        as->agent = NULL;
    sb_session_error(s, NULL, "unauthorized", "this agent was removed from the configuration");
    sb_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "agent removed");
    (void)hub;
}

static void ag_frame(sb_session_t *s, json_t *frame, const char *type, const char *ref)
{
    agent_session_t *as = sb_session_data(s);
    sb_hub_t *hub = sb_session_hub(s);
    char msg[200];

    if (!as->agent) {
        const char *token = NULL;
        sb_agent_t *agent;
        if (strcmp(type, "auth") != 0 ||
            sb_codec_str(frame, "token", true, &token, msg, sizeof(msg)) < 0 ||
            !(agent = authenticate(sb_hub_core(hub), token, strlen(token)))) {
            refuse(s, ref);
            return;
        }
        sign_in(s, as, agent, ref);
        return;
    }
    if (strcmp(type, "auth") == 0) {
        sb_session_error(s, ref, "conflict", "already signed in as '%s'", as->agent->cfg->id);
        return;
    }
    if (strcmp(type, "status") == 0) {
        const char *state = NULL;
        sb_agent_state_t st;
        if (sb_codec_str(frame, "state", true, &state, msg, sizeof(msg)) < 0) {
            sb_session_error(s, ref, "bad_request", "%s", msg);
            return;
        }
        if (parse_state(state, &st) < 0) {
            sb_session_error(s, ref, "bad_request",
                             "field 'state' must be available, away or offline");
            return;
        }
        reply_rc(s, ref, sb_core_agent_status(sb_hub_core(hub), as->agent, st, sb_hub_now()),
                 "status");
        return;
    }
    if (is_conv_type(type)) {
        conv_request(s, as->agent, frame, type, ref);
        return;
    }
    if (strcmp(type, "monitor") == 0) {
        monitor(s, as, frame, ref);
        return;
    }
    if (strcmp(type, "unmonitor") == 0) {
        as->monitoring = false;
        sb_session_ok(s, ref, NULL);
        return;
    }
    sb_session_error(s, ref, "unknown_type", "unknown type '%s' on the agent endpoint", type);
    sb_session_bad_frame(s);
}

const sb_channel_methods_t hub__agent_endpoint = {
    .name = "agent",
    .ws_path = "/v1/agent",
    .session_kind = SB_SESSION_AGENT,
    .on_open = ag_open,
    .on_frame = ag_frame,
    .on_flat = ag_flat,
    .on_close = ag_close,
};
