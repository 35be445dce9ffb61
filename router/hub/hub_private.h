/*
 * hub_private.h - what the hub's own files share (hub.c, http.c, agent.c).
 */
#ifndef SB_HUB_PRIVATE_H
#define SB_HUB_PRIVATE_H

#include "switchboard/channel.h"
#include "switchboard/hub.h"

#include <libwebsockets.h>

/* The longest header of a server's (unmasked) WebSocket frame. */
#define HUB_WS_HDR_MAX 10

/* One outgoing WebSocket text frame, already framed: its header sits just
 * before the payload, so a writable socket gets several frames with one
 * send (write_frames in hub.c). Or a close marker (close_code set; the
 * payload is the reason, not framed). */
typedef struct hub_frame {
    struct hub_frame *next;
    size_t len;                /* payload bytes */
    unsigned char hdr_len;     /* header bytes, just before the payload */
    int close_code;
    unsigned char buf[];       /* HUB_WS_HDR_MAX bytes, then the payload */
} hub_frame_t;

/* Requests up to this size may take the fast path (sb_codec_scan). */
#define HUB_FLAT_MAX 8192

#define HUB_FRAME_PAYLOAD(f) ((f)->buf + HUB_WS_HDR_MAX)
#define HUB_FRAME_WIRE(f) ((f)->buf + HUB_WS_HDR_MAX - (f)->hdr_len)

struct sb_session {
    sb_hub_t *hub;
    struct lws *wsi;
    const sb_channel_methods_t *ep;
    sb_session_kind_t kind;
    void *data;

    hub_frame_t *out_head, *out_tail;   /* frames released by a commit */
    size_t out_bytes;
    bool rx_paused;
    bool closing;                       /* a close marker is queued */

    char *rx;                           /* fragments of the current message */
    size_t rx_len, rx_cap;

    double tokens, bad_tokens;          /* rate limits: messages, bad frames */
    sb_ms_t rate_ts;

    struct sb_session *prev, *next;     /* hub->sessions */
};

/* An HTTP request being read, then answered. */
typedef struct hub_http {
    char method[8];
    char path[256];
    char query[512];
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    /* response */
    int status;
    char content_type[64];
    char *resp;
    size_t resp_len, resp_sent;
    bool headers_sent;
} hub_http_t;

/* A frame waiting in the turn's outbox for the commit. */
typedef struct hub_pending {
    sb_session_t *session;      /* NULL once the session went away */
    hub_frame_t *frame;
    bool immediate;             /* an error: goes out even while writes are held */
} hub_pending_t;

typedef struct hub_conv_id {
    char id[40];
} hub_conv_id_t;

struct sb_hub {
    const sb_config_t *cfg;
    sb_core_t *core;
    sb_store_t *store;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    int port;
    volatile int stop;
    volatile int reload;
    sb_hub_reload_fn reload_fn;
    void *reload_arg;
    bool stopping;

    sb_session_t *sessions;
    size_t nsessions;

    hub_pending_t *outbox;
    unsigned char *wbuf;        /* frames of one socket, put together for one send */
    size_t wbuf_cap;
    sb_text_t text;             /* sb_hub_text: frames written as text */
    char flat_buf[HUB_FLAT_MAX];   /* a request read in place by sb_codec_scan */
    size_t noutbox, outbox_cap;
    bool turn_failed;           /* a store write of this turn failed */
    bool store_down;            /* since a commit failed, until one succeeds */
    hub_conv_id_t *touched;     /* conversations written this turn */
    size_t ntouched, touched_cap;
    hub_conv_id_t *dirty;       /* written by failed turns: re-persisted on heal */
    size_t ndirty, dirty_cap;
    lws_sorted_usec_list_t sul_heal;
    lws_sorted_usec_list_t sul_retention;
    lws_sorted_usec_list_t sul_flush;
    lws_sorted_usec_list_t sul_maint;   /* the store's checkpoint, after a turn's writes */
    bool flush_scheduled;

    lws_sorted_usec_list_t sul_core;
    sb_ms_t core_deadline;

    lws_sorted_usec_list_t sul_stats;  /* supervisors' stats, every second */
    bool stats_scheduled;

    /* counters for /metrics */
    uint64_t m_messages, m_commits, m_commit_failures, m_frames_out, m_bad_frames;
    uint64_t m_connections_total;
    double m_commit_seconds;

    struct lws_http_mount mounts[6];    /* HTTP paths: ours, then static files */
    char *mount_origins[3];

    struct hub_chan *chan;      /* channels: webhooks, outbox, HTTP client (channels.c) */
};

/* The agent endpoint (router/hub/agent.c). */
extern const sb_channel_methods_t hub__agent_endpoint;

/* Answers an HTTP request once its body is complete (router/hub/http.c):
 * fills http->status, content_type and resp. */
void hub__http_route(sb_hub_t *hub, struct lws *wsi, hub_http_t *http);

/* Makes sure the turn's flush is scheduled. */
void hub__touch(sb_hub_t *hub);

/* Supervisors' stats (router/hub/agent.c): (re)arms the one-second timer
 * while any session monitors a pool. */
void hub__stats_arm(sb_hub_t *hub);
/* After a reload: supervisors' monitored pools, from old's indexes to cfg's. */
void hub__monitors_remap(sb_hub_t *hub, const sb_config_t *cfg, const sb_config_t *old);
/* The agent was removed from the configuration: its session is closed. */
void hub__agent_removed(sb_hub_t *hub, sb_agent_t *agent);

/* --- channels (router/hub/channels.c, http.c, outbox.c, http_client.c) --- */

/* After recovery: the outbox and the adapters' start methods. */
void hub__channels_start(sb_hub_t *hub);
/* Before the lws context goes: timers, client connections, adapters' stop. */
void hub__channels_stop(sb_hub_t *hub);
/* After it went: frees what is left. Accepts a hub that never started. */
void hub__channels_free(sb_hub_t *hub);
/* At the end of every flush: failed says whether the turn's commit failed. */
void hub__after_commit(sb_hub_t *hub, bool failed);
/* A webhook's answer waits for the turn's commit (after hub__http_route). */
bool hub__http_waiting(sb_hub_t *hub, struct lws *wsi);
/* In HTTP_WRITEABLE: true (once) when a held answer may now be written. */
bool hub__http_release(sb_hub_t *hub, struct lws *wsi);
/* The connection of an HTTP request is going away. */
void hub__http_forget(sb_hub_t *hub, struct lws *wsi);

#endif
