/*
 * messenger.c - the Messenger Platform channel: webhooks on
 * /v1/webhooks/messenger (GET verify handshake, POST events signed with
 * X-Hub-Signature-256; echoes of our own messages ignored), replies through
 * the Send API, POST {api_base}/me/messages. The shared work is in social.c.
 */
#include "social.h"

static bool ms_configured(const sb_config_t *cfg) { return cfg->channels.messenger; }
static int ms_pool(const sb_config_t *cfg) { return cfg->channels.ms_pool; }
static const char *ms_verify(const sb_config_t *cfg) { return cfg->channels.ms_verify_token; }

static int ms_check(sb_http_exchange_t *x, const sb_config_t *cfg, const char *body,
                    size_t len, char *err, size_t errlen)
{
    return social__check_hub_signature(x, cfg->channels.ms_app_secret, body, len, err, errlen);
}

static const social_platform_t messenger = {
    .platform = SB_PLATFORM_MESSENGER,
    .name = "messenger",
    .max_chars = 2000,
    .configured = ms_configured,
    .pool = ms_pool,
    .verify_token = ms_verify,
    .check = ms_check,
    .parse = sb_platform_parse_messenger,
};

static void ms_http(sb_http_exchange_t *x) { social__on_http(x, &messenger); }

static void ms_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    social__deliver(hub, conv, act, &messenger);
}

static int ms_build(sb_hub_t *hub, const sb_outbox_item_t *item, sb_platform_request_t **out,
                    char *err, size_t errlen)
{
    return social__build_request(hub, item, out, err, errlen, &messenger);
}

static sb_platform_outcome_t ms_read(sb_hub_t *hub, const sb_outbox_item_t *item, int status,
                                     const char *body, size_t len, char **platform_id,
                                     int *retry_after_s, char *err, size_t errlen)
{
    (void)hub;
    return social__read_response(item, status, body, len, platform_id, retry_after_s, err,
                                 errlen, &messenger);
}

const sb_channel_methods_t sb_channel_messenger = {
    .name = "messenger",
    .http_path = "/v1/webhooks/messenger",
    .on_http = ms_http,
    .deliver = ms_deliver,
    .build_request = ms_build,
    .read_response = ms_read,
};
