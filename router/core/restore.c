/*
 * restore.c - adopting conversations read back from the store at start.
 *
 * After a restart every agent is offline. A conversation that was assigned
 * stays with its agent, which has routing.agent_grace_s to reconnect (as if
 * it had just disconnected); after that it is requeued at the front of its
 * pool like any disconnected agent's. An offer in flight is withdrawn: the
 * conversation goes back into its queue (history `requeued`, reason
 * "restart"). Queued conversations take their place by priority and
 * original arrival, whatever order they are restored in.
 */
#include "internal.h"

#include <jansson.h>
#include <string.h>

int sb_core_conv_restore(sb_core_t *core, sb_conv_t *src, const char *agent_id, sb_ms_t now)
{
    const sb_config_t *cfg;
    agent_ext_t *a = NULL;
    conv_ext_t *cx;
    sb_conv_t *c;

    if (!core || !src || !src->id[0])
        return SB_EINVAL;
    cfg = core->cfg;
    if (src->pool < 0 || (size_t)src->pool >= core->npools ||
        src->language < 0 || (size_t)src->language >= cfg->nlanguages ||
        src->state == SB_CONV_CLOSED)
        return SB_EINVAL;
    if (sb_map_get(&core->convs, src->id))
        return SB_ECONFLICT;
    if (agent_id)
        a = sb_map_get(&core->agent_ids, agent_id);

    core__enter(core);
    cx = sb_calloc(1, sizeof(*cx));
    c = &cx->pub;
    *c = *src;                 /* takes every owned member ... */
    src->customer_name = src->customer_email = src->customer_contact = NULL;
    src->skills = NULL;
    src->nskills = 0;
    src->attributes = NULL;
    src->msgs = NULL;
    src->nmsgs = src->msgs_cap = 0;
    src->notes = NULL;
    src->nnotes = src->notes_cap = 0;
    src->history = NULL;
    src->nhistory = src->history_cap = 0;
    c->msgs_cap = c->nmsgs;    /* ... whose capacity is what was read */
    c->notes_cap = c->nnotes;
    c->history_cap = c->nhistory;
    c->core_private = cx;
    c->user = NULL;
    c->agent = NULL;

    cx->ticket = core->next_ticket++;
    cx->queued_pool = -1;
    cx->wait_since = c->entered_pool_at;
    cx->next_step = core__steps_applied(&cfg->pools[c->pool], c->relaxed);
    cx->notified_pos = cx->notified_eta = cx->notified_pool = -1;
    cx->last_notice_at = INT64_MIN / 2;
    cx->ever_assigned = c->first_response_at > 0 || c->state == SB_CONV_ASSIGNED;
    cx->sla_done = c->first_response_at > 0;
    cx->qnode.owner = cx->lnode.owner = cx;
    core__timer_init(&cx->t_offer, CORE_T_OFFER, cx);
    core__timer_init(&cx->t_step, CORE_T_STEP, cx);
    core__timer_init(&cx->t_maxwait, CORE_T_MAXWAIT, cx);
    sb_map_put(&core->convs, c->id, cx);

    if ((c->state == SB_CONV_ASSIGNED || c->state == SB_CONV_BOT) && a) {
        /* Held by its agent through the grace period. */
        c->agent = &a->pub;
        cx->assigned_at = now;
        core__agent_hold(a, c);
        core__slot_take(core, a, c->media);
        if (!a->pub.connected && !core__timer_armed(&a->t_grace))
            core__timer_arm(&core->timers, &a->t_grace,
                            now + (sb_ms_t)cfg->agent_grace_s * 1000);
        return SB_OK;
    }

    if (c->state != SB_CONV_QUEUED) {
        /* An offer in flight (or an agent no longer configured): back in line. */
        core__event(core, c, SB_EV_REQUEUED, -1, agent_id, NULL, "restart", NULL, now);
        core__save(core, c);
    }
    c->state = SB_CONV_QUEUED;
    core__queue_put(core, c);
    core__arm_wait_timers(core, c);
    return SB_OK;
}
