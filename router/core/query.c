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
