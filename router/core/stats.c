/*
 * stats.c - per-pool figures for supervisors (protocol.md section 4.13).
 * Read-only; costs one pass over the pool's members.
 */
#include "internal.h"

#include <string.h>

int sb_core_pool_stats(const sb_core_t *core, int pool, sb_ms_t now, sb_pool_stats_t *out)
{
    const pool_state_t *ps;

    if (!core || !out || pool < 0 || (size_t)pool >= core->npools)
        return SB_EINVAL;
    ps = &core->pools[pool];
    memset(out, 0, sizeof(*out));
    out->queue_length = core__queue_length(&ps->queue);
    if (ps->queue.root && now > ps->queue.root->min_arrival)
        out->longest_wait_ms = now - ps->queue.root->min_arrival;
    for (size_t i = 0; i < ps->nmembers; i++) {
        const sb_agent_t *a = &core->agents[ps->members[i]]->pub;
        if (a->state == SB_AGENT_AWAY) {
            out->agents_away++;
        } else if (a->state == SB_AGENT_OFFLINE || !a->connected) {
            out->agents_offline++;
        } else if (a->active_chat < a->cfg->cap_chat || a->active_voice < a->cfg->cap_voice) {
            out->agents_available++;
        } else {
            out->agents_busy++;
        }
    }
    out->offers_pending = ps->offers_pending;
    out->served = ps->served;
    out->sla_total = ps->sla_total;
    out->sla_met = ps->sla_met;
    out->sla_attainment = ps->sla_total ? (double)ps->sla_met / (double)ps->sla_total : 1.0;
    out->handle_s = ps->handle_samples ? (int)((ps->handle_ema_ms + 999) / 1000)
                                       : core->cfg->default_handle_s;
    return SB_OK;
}
