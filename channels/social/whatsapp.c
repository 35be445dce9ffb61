/*
 * whatsapp.c - the WhatsApp Cloud API channel: webhooks on
 * /v1/webhooks/whatsapp (GET verify handshake, POST events signed with
 * X-Hub-Signature-256), replies through POST {api_base}/{phone_number_id}/
 * messages. The shared work is in social.c.
 */
#include "social.h"

static bool wa_configured(const sb_config_t *cfg) { return cfg->channels.whatsapp; }
static int wa_pool(const sb_config_t *cfg) { return cfg->channels.wa_pool; }
static const char *wa_verify(const sb_config_t *cfg) { return cfg->channels.wa_verify_token; }

static int wa_check(sb_http_exchange_t *x, const sb_config_t *cfg, const char *body,
                    size_t len, char *err, size_t errlen)
{
    return social__check_hub_signature(x, cfg->channels.wa_app_secret, body, len, err, errlen);
}

static const social_platform_t whatsapp = {
    .platform = SB_PLATFORM_WHATSAPP,
    .name = "whatsapp",
    .max_chars = 4096,
    .configured = wa_configured,
    .pool = wa_pool,
    .verify_token = wa_verify,
    .check = wa_check,
    .parse = sb_platform_parse_whatsapp,
};

static void wa_http(sb_http_exchange_t *x) { social__on_http(x, &whatsapp); }

static void wa_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    social__deliver(hub, conv, act, &whatsapp);
}

static int wa_build(sb_hub_t *hub, const sb_outbox_item_t *item, sb_platform_request_t **out,
                    char *err, size_t errlen)
{
    return social__build_request(hub, item, out, err, errlen, &whatsapp);
}

static sb_platform_outcome_t wa_read(sb_hub_t *hub, const sb_outbox_item_t *item, int status,
                                     const char *body, size_t len, char **platform_id,
                                     int *retry_after_s, char *err, size_t errlen)
{
    (void)hub;
    return social__read_response(item, status, body, len, platform_id, retry_after_s, err,
                                 errlen, &whatsapp);
}

const sb_channel_methods_t sb_channel_whatsapp = {
    .name = "whatsapp",
    .http_path = "/v1/webhooks/whatsapp",
    .on_http = wa_http,
    .deliver = wa_deliver,
    .build_request = wa_build,
    .read_response = wa_read,
};
