/*
 * names.c - wire names of the core's enumerations.
 */
#include "switchboard/core.h"

const char *sb_conv_state_name(sb_conv_state_t s)
{
    static const char *names[] = { "bot", "queued", "offered", "assigned", "on_hold", "closed" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *sb_agent_state_name(sb_agent_state_t s)
{
    static const char *names[] = { "offline", "available", "away" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *sb_from_name(sb_from_t f)
{
    static const char *names[] = { "customer", "agent", "bot", "system" };
    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

const char *sb_event_name(sb_event_kind_t k)
{
    static const char *names[SB_EV__COUNT] = {
        "created", "queued", "offered", "assigned", "declined", "offer_expired",
        "transferred", "escalated", "overflow", "requeued", "closed", "relaxed",
        "language", "delivery_failed"
    };
    return (unsigned)k < SB_EV__COUNT ? names[k] : "unknown";
}

const char *sb_role_name(sb_role_t r)
{
    static const char *names[] = { "agent", "bot", "supervisor" };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}
