/*
 * social.h - what the chat platform adapters share (WhatsApp Cloud API,
 * Messenger Platform, Telegram Bot API): each file describes its platform
 * with one social_platform_t and fills its methods with these functions.
 */
#ifndef SB_CHANNELS_SOCIAL_H
#define SB_CHANNELS_SOCIAL_H

#include "switchboard/channel.h"

typedef struct social_platform {
    sb_platform_t platform;
    const char *name;                  /* the channel name, "whatsapp" */
    size_t max_chars;                  /* longest text one send takes */
    /* Whether channels.<name> is configured. */
    bool (*configured)(const sb_config_t *cfg);
    /* channels.<name>.pool (-1: default_pool). */
    int (*pool)(const sb_config_t *cfg);
    /* The GET verify handshake's token, or NULL when the platform has none. */
    const char *(*verify_token)(const sb_config_t *cfg);
    /* Checks that the POST comes from the platform: 0, else the HTTP status
     * to answer (401 missing, 403 wrong) with why in err. */
    int (*check)(sb_http_exchange_t *x, const sb_config_t *cfg, const char *body, size_t len,
                 char *err, size_t errlen);
    int (*parse)(const char *body, size_t len, sb_platform_events_t *out, char *err,
                 size_t errlen);
} social_platform_t;

void social__on_http(sb_http_exchange_t *x, const social_platform_t *sp);
void social__deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act,
                     const social_platform_t *sp);
int social__build_request(sb_hub_t *hub, const sb_outbox_item_t *item,
                          sb_platform_request_t **out, char *err, size_t errlen,
                          const social_platform_t *sp);
sb_platform_outcome_t social__read_response(const sb_outbox_item_t *item, int http_status,
                                            const char *body, size_t len, char **platform_id,
                                            int *retry_after_s, char *err, size_t errlen,
                                            const social_platform_t *sp);

/* Checks X-Hub-Signature-256 against secret (WhatsApp, Messenger). */
int social__check_hub_signature(sb_http_exchange_t *x, const char *secret, const char *body,
                                size_t len, char *err, size_t errlen);

/* Whether conv came in through a connector (attributes.connector): then the
 * connector adapter delivers it, whatever its channel's name. */
bool social__via_connector(const sb_conv_t *conv);

#endif
