/*
 * query.c - read-only walks over the core's state for the hub.
 */
#include "internal.h"

void sb_core_agent_conversations(sb_core_t *core, const sb_agent_t *agent,
                                 void (*fn)(sb_conv_t *conv, void *arg), void *arg)
{
    const agent_ext_t *a = (const agent_ext_t *)agent;

    (void)core;
    for (size_t i = 0; i < a->nconvs; i++)
        fn(a->convs[i], arg);
}

int sb_core_conv_record(sb_core_t *core, sb_conv_t *conv, sb_event_kind_t kind,
                        const char *reason, sb_ms_t now)
{
    if (!core || !conv || kind < 0 || kind >= SB_EV__COUNT)
        return SB_EINVAL;
    if (conv->state == SB_CONV_CLOSED)
        return SB_ECONFLICT;
    core__enter(core);
    core__event(core, conv, kind, -1, NULL, NULL, reason, NULL, now);
    return SB_OK;
}
