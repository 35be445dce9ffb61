/*
 * signature.c - is this webhook from the platform? X-Hub-Signature-256
 * (WhatsApp, Messenger), X-Telegram-Bot-Api-Secret-Token, X-Twilio-Signature
 * and the Meta GET verify handshake.
 *
 * Every comparison with a secret or a value derived from it goes through
 * CRYPTO_memcmp over fixed-length digests, so timing does not tell an
 * attacker how much of a guess was right.
 */
#include "switchboard/platform.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sb_platform_name(sb_platform_t platform)
{
    switch (platform) {
    case SB_PLATFORM_WHATSAPP:  return "whatsapp";
    case SB_PLATFORM_MESSENGER: return "messenger";
    case SB_PLATFORM_TELEGRAM:  return "telegram";
    case SB_PLATFORM_VOICE:     return "voice";
    }
    return "unknown";
}

/* --- X-Hub-Signature-256 ---------------------------------------------- */

#define HUB_PREFIX "sha256="
#define HUB_PREFIX_LEN 7
#define HUB_HEX_LEN 64

void sb_platform_hub_signature(const char *app_secret, const void *body, size_t len,
                               char out[72])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *key = app_secret ? app_secret : "";

    HMAC(EVP_sha256(), key, (int)strlen(key), body ? body : (const void *)"", len,
         md, &mdlen);
    memcpy(out, HUB_PREFIX, HUB_PREFIX_LEN);
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        out[HUB_PREFIX_LEN + 2 * i] = hex[md[i] >> 4];
        out[HUB_PREFIX_LEN + 2 * i + 1] = hex[md[i] & 15];
    }
    out[HUB_PREFIX_LEN + HUB_HEX_LEN] = '\0';
}

int sb_platform_check_hub_signature(const char *app_secret, const void *body, size_t len,
                                    const char *header)
{
    char expected[72];

    if (!app_secret || !*app_secret || !header)
        return SB_EAUTH;
    /* The length and the prefix are public; only the digest is secret. */
    if (strlen(header) != HUB_PREFIX_LEN + HUB_HEX_LEN ||
        memcmp(header, HUB_PREFIX, HUB_PREFIX_LEN) != 0)
        return SB_EAUTH;
    sb_platform_hub_signature(app_secret, body, len, expected);
    return CRYPTO_memcmp(expected + HUB_PREFIX_LEN, header + HUB_PREFIX_LEN, HUB_HEX_LEN) == 0
           ? 0 : SB_EAUTH;
}

/* --- X-Telegram-Bot-Api-Secret-Token ----------------------------------- */

int sb_platform_check_telegram_secret(const char *secret_token, const char *header)
{
    unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];

    if (!secret_token || !*secret_token || !header || !*header)
        return SB_EAUTH;
    /* Comparing digests makes the work independent of the lengths. */
    SHA256((const unsigned char *)secret_token, strlen(secret_token), want);
    SHA256((const unsigned char *)header, strlen(header), got);
    return CRYPTO_memcmp(want, got, sizeof(want)) == 0 ? 0 : SB_EAUTH;
}

/* --- X-Twilio-Signature ------------------------------------------------- */

static int param_cmp(const void *a, const void *b)
{
    const sb_platform_param_t *x = *(const sb_platform_param_t *const *)a;
    const sb_platform_param_t *y = *(const sb_platform_param_t *const *)b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->value, y->value);
}

void sb_platform_twilio_signature(const char *auth_token, const char *url,
                                  const sb_platform_params_t *params, char out[29])
{
    const sb_platform_param_t **sorted = NULL;
    size_t n = params ? params->n : 0, total = url ? strlen(url) : 0, at;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *key = auth_token ? auth_token : "";
    char *data;

    if (n) {
        sorted = sb_malloc(n * sizeof(*sorted));
        for (size_t i = 0; i < n; i++) {
            sorted[i] = &params->items[i];
            total += strlen(params->items[i].name) + strlen(params->items[i].value);
        }
        qsort(sorted, n, sizeof(*sorted), param_cmp);
    }
    data = sb_malloc(total + 1);
    at = url ? strlen(url) : 0;
    memcpy(data, url ? url : "", at);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(sorted[i]->name), vl = strlen(sorted[i]->value);

        memcpy(data + at, sorted[i]->name, nl);
        at += nl;
        memcpy(data + at, sorted[i]->value, vl);
        at += vl;
    }
    HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)data, at, md, &mdlen);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);   /* 20 bytes: 28 chars + NUL */
    free(data);
    free(sorted);
}

int sb_platform_check_twilio_signature(const char *auth_token, const char *url,
                                       const sb_platform_params_t *params, const char *header)
{
    char expected[29];

    if (!auth_token || !*auth_token || !url || !*url || !header)
        return SB_EAUTH;
    if (strlen(header) != 28)
        return SB_EAUTH;
    sb_platform_twilio_signature(auth_token, url, params, expected);
    return CRYPTO_memcmp(expected, header, 28) == 0 ? 0 : SB_EAUTH;
}

/* --- the Meta verify handshake ----------------------------------------- */

#define CHALLENGE_MAX 128

static bool challenge_ok(const char *c)
{
    size_t n = strlen(c);

    if (n == 0 || n > CHALLENGE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '~' || ch == '-'))
            return false;
    }
    return true;
}

int sb_platform_verify_handshake(const char *verify_token, const char *query, size_t len,
                                 char **challenge, char *err, size_t errlen)
{
    sb_platform_params_t *q = NULL;
    const char *mode, *token, *chal;
    char perr[160];
    int rc;

    *challenge = NULL;
    if (err && errlen)
        err[0] = '\0';
    rc = sb_platform_form_parse(query, query ? len : 0, &q, perr, sizeof(perr));
    if (rc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "query: %s", perr);
        return SB_EINVAL;
    }
    mode = sb_platform_params_get(q, "hub.mode");
    token = sb_platform_params_get(q, "hub.verify_token");
    chal = sb_platform_params_get(q, "hub.challenge");
    if (!mode || !token || !chal) {
        if (err && errlen)
            snprintf(err, errlen, "query: missing %s",
                     !mode ? "hub.mode" : !token ? "hub.verify_token" : "hub.challenge");
        rc = SB_EINVAL;
    } else if (strcmp(mode, "subscribe") != 0) {
        if (err && errlen)
            snprintf(err, errlen, "hub.mode: expected \"subscribe\"");
        rc = SB_EINVAL;
    } else if (!verify_token || !*verify_token) {
        if (err && errlen)
            snprintf(err, errlen, "no verify_token configured");
        rc = SB_EFORBIDDEN;
    } else if (sb_platform_check_telegram_secret(verify_token, token) != 0) {
        /* the same constant-time digest comparison as Telegram's secret */
        if (err && errlen)
            snprintf(err, errlen, "hub.verify_token: wrong token");
        rc = SB_EFORBIDDEN;
    } else if (!challenge_ok(chal)) {
        if (err && errlen)
            snprintf(err, errlen, "hub.challenge: must be 1-%d characters of [A-Za-z0-9._~-]",
                     CHALLENGE_MAX);
        rc = SB_EINVAL;
    } else {
        *challenge = sb_strdup(chal);
    }
    sb_platform_params_free(q);
    return rc;
}
