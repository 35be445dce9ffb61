/*
 * telegram.c - the Telegram Bot API channel: updates on
 * /v1/webhooks/telegram, checked with X-Telegram-Bot-Api-Secret-Token (the
 * secret_token given to setWebhook, compared in constant time); a message's
 * from.language_code is the conversation's language; replies through
 * POST {api_base}/bot{bot_token}/sendMessage. The shared work is in social.c.
 */
#include "social.h"

#include <stdio.h>

#define SECRET_MAX 300

static bool tg_configured(const sb_config_t *cfg) { return cfg->channels.telegram; }
static int tg_pool(const sb_config_t *cfg) { return cfg->channels.tg_pool; }

static int tg_check(sb_http_exchange_t *x, const sb_config_t *cfg, const char *body,
                    size_t len, char *err, size_t errlen)
{
    char secret[SECRET_MAX];

    (void)body;
    (void)len;
    if (sb_http_header(x, "x-telegram-bot-api-secret-token", secret, sizeof(secret)) < 0 ||
        !secret[0]) {
        snprintf(err, errlen, "no X-Telegram-Bot-Api-Secret-Token header");
        return 401;
    }
    if (sb_platform_check_telegram_secret(cfg->channels.tg_secret_token, secret) < 0) {
        snprintf(err, errlen, "wrong X-Telegram-Bot-Api-Secret-Token");
        return 403;
    }
    return 0;
}

static const social_platform_t telegram = {
    .platform = SB_PLATFORM_TELEGRAM,
    .name = "telegram",
    .max_chars = 4096,
    .configured = tg_configured,
    .pool = tg_pool,
    .verify_token = NULL,
    .check = tg_check,
    .parse = sb_platform_parse_telegram,
};

static void tg_http(sb_http_exchange_t *x) { social__on_http(x, &telegram); }

static void tg_deliver(sb_hub_t *hub, sb_conv_t *conv, const sb_action_t *act)
{
    social__deliver(hub, conv, act, &telegram);
}

static int tg_build(sb_hub_t *hub, const sb_outbox_item_t *item, sb_platform_request_t **out,
                    char *err, size_t errlen)
{
    return social__build_request(hub, item, out, err, errlen, &telegram);
}

static sb_platform_outcome_t tg_read(sb_hub_t *hub, const sb_outbox_item_t *item, int status,
                                     const char *body, size_t len, char **platform_id,
                                     int *retry_after_s, char *err, size_t errlen)
{
    (void)hub;
    return social__read_response(item, status, body, len, platform_id, retry_after_s, err,
                                 errlen, &telegram);
}

const sb_channel_methods_t sb_channel_telegram = {
    .name = "telegram",
    .http_path = "/v1/webhooks/telegram",
    .on_http = tg_http,
    .deliver = tg_deliver,
    .build_request = tg_build,
    .read_response = tg_read,
};
