/*
 * channel.h - a channel adapter: outside formats in, outside formats out.
 *
 * Each channel fills one sb_channel_methods_t (a new channel is a new file in
 * channels/, listed in router/hub/channels.c). The hub hands it:
 *   - the frames of its WebSocket endpoint, if it has one (web chat: the
 *     customer endpoint; connectors),
 *   - the customer-facing actions of its conversations (messages from agents,
 *     queue position, agent joined, transferring, closed) to deliver in the
 *     channel's own format.
 * Adapters never decide routing: they turn input into core events.
 */
#ifndef SWITCHBOARD_CHANNEL_H
#define SWITCHBOARD_CHANNEL_H

#include "switchboard/hub.h"

typedef struct sb_channel_methods {
    const char *name;                 /* conv->channel, e.g. "webchat" */
    const char *ws_path;              /* WebSocket endpoint or NULL */
    sb_session_kind_t session_kind;

    /* A WebSocket session opened on ws_path. 0, or <0 to refuse it. */
    int  (*on_open)(sb_session_t *s);
    /* One valid JSON object frame with a string "type"; ref may be NULL.
     * The adapter replies (ok/error) itself. Borrowed frame. */
    void (*on_frame)(sb_session_t *s, json_t *frame, const char *type, const char *ref);
    /* The session is going away; drop every reference to it. */
    void (*on_close)(sb_session_t *s);

    /* Deliver one customer-facing action of a conversation of this channel
     * (SB_ACT_MESSAGE from agent/bot/system, QUEUE, AGENT_JOINED,
     * TRANSFERRING, CLOSED). */
    void (*deliver)(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act);
    /* The agent is typing (or stopped); NULL when the channel cannot show it. */
    void (*typing)(sb_hub_t *hub, sb_conv_t *conv, bool on);
} sb_channel_methods_t;

extern const sb_channel_methods_t sb_channel_webchat;

/* The adapter for a channel name, or NULL. */
const sb_channel_methods_t *sb_channel_find(const char *name);
/* The adapter serving a WebSocket path, or NULL. */
const sb_channel_methods_t *sb_channel_for_path(const char *path);

#endif
