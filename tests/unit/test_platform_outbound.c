/*
 * test_platform_outbound.c - requests to the platforms' send APIs (exact
 * bodies, parsed back with jansson; JSON escaping), TwiML escaping, the
 * Twilio Calls request, and reading the platforms' answers.
 */
#include "switchboard/platform.h"
#include "test.h"

#include <jansson.h>

/* A configuration with every channel; strings are literals (not freed). */
static sb_cfg_channels_t channels(void)
{
    sb_cfg_channels_t ch;

    memset(&ch, 0, sizeof(ch));
    ch.whatsapp = true;
    ch.wa_app_secret = "wa-secret";
    ch.wa_verify_token = "wa-verify";
    ch.wa_access_token = "EAAJB0wa-token";
    ch.wa_phone_number_id = "106540352242922";
    ch.wa_api_base = "https://graph.facebook.com/v21.0";
    ch.messenger = true;
    ch.ms_app_secret = "ms-secret";
    ch.ms_page_access_token = "EAAG page&token=1";
    ch.ms_api_base = "http://127.0.0.1:9999/graph/";
    ch.telegram = true;
    ch.tg_secret_token = "tg_secret";
    ch.tg_bot_token = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
    ch.tg_api_base = "https://api.telegram.org";
    ch.voice = true;
    ch.vo_auth_token = "tw1l10-t0ken";
    ch.vo_public_url = "https://router.example.com/";
    ch.vo_api_base = NULL;
    ch.wa_pool = ch.ms_pool = ch.tg_pool = ch.vo_pool = -1;
    return ch;
}

static const char *header(const sb_platform_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

static json_t *body_json(const sb_platform_request_t *req)
{
    json_error_t jerr;
    json_t *o = json_loadb(req->body, req->body_len, 0, &jerr);

    CHECK(o != NULL);
    CHECK_EQ_INT(strlen(req->body), req->body_len);
    return o;
}

/* Quotes, backslash, newline, tab, a control character, RTL, emoji. */
#define TRICKY "He said \"hi\\there\"\n\tok\x01 مرحبا 👍🏽 </script>"

static void test_whatsapp_request(void)
{
    sb_cfg_channels_t ch = channels();
    sb_platform_request_t *req = NULL;
    char err[160];
    json_t *o;

    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "16505551234", "Hello there", &req, err,
                                           sizeof(err)), 0);
    CHECK_EQ_STR(req->method, "POST");
    CHECK_EQ_STR(req->url, "https://graph.facebook.com/v21.0/106540352242922/messages");
    CHECK_EQ_STR(req->headers[0].name, "Content-Type");
    CHECK_EQ_STR(header(req, "Content-Type"), "application/json");
    CHECK_EQ_STR(header(req, "Authorization"), "Bearer EAAJB0wa-token");
    CHECK_EQ_INT(req->nheaders, 2);
    CHECK_EQ_STR(req->body,
                 "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                 "\"to\":\"16505551234\",\"type\":\"text\",\"text\":{\"preview_url\":false,"
                 "\"body\":\"Hello there\"}}");
    sb_platform_request_free(req);

    /* escaping: the text comes back byte for byte */
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "16505551234", TRICKY, &req, err, sizeof(err)), 0);
    CHECK_CONTAINS(req->body, "\\\"hi\\\\there\\\"\\n\\tok\\u0001");
    o = body_json(req);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(o, "text"), "body")), TRICKY);
    CHECK(json_is_false(json_object_get(json_object_get(o, "text"), "preview_url")));
    CHECK_EQ_STR(json_string_value(json_object_get(o, "to")), "16505551234");
    json_decref(o);
    sb_platform_request_free(req);

    /* api_base: trailing slashes dropped, default when unset */
    ch.wa_api_base = "http://127.0.0.1:8081/mock//";
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "x", &req, err, sizeof(err)), 0);
    CHECK_EQ_STR(req->url, "http://127.0.0.1:8081/mock/106540352242922/messages");
    sb_platform_request_free(req);
    ch.wa_api_base = NULL;
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "x", &req, err, sizeof(err)), 0);
    CHECK_EQ_STR(req->url, "https://graph.facebook.com/v21.0/106540352242922/messages");
    sb_platform_request_free(req);
}

static void test_text_limits_and_errors(void)
{
    sb_cfg_channels_t ch = channels();
    sb_platform_request_t *req = (sb_platform_request_t *)1;
    char err[160], *big;
    size_t n;

    /* 4096 four-byte characters fit WhatsApp; one more does not */
    n = 4096 * 4;
    big = malloc(n + 5);
    for (size_t i = 0; i < 4096; i++)
        memcpy(big + 4 * i, "\xF0\x9F\x98\x80", 4);   /* U+1F600 */
    big[n] = '\0';
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", big, &req, err, sizeof(err)), 0);
    sb_platform_request_free(req);
    memcpy(big + n, "x", 2);
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", big, &req, err, sizeof(err)), SB_ETOOLARGE);
    CHECK(req == NULL);
    CHECK_CONTAINS(err, "4097 characters");
    CHECK_EQ_INT(sb_platform_telegram_send(&ch, "1", big, &req, err, sizeof(err)), SB_ETOOLARGE);
    /* Messenger takes 2000 */
    big[2000 * 4] = '\0';
    CHECK_EQ_INT(sb_platform_messenger_send(&ch, "1", big, &req, err, sizeof(err)), 0);
    sb_platform_request_free(req);
    memcpy(big + 2000 * 4, "x", 2);
    CHECK_EQ_INT(sb_platform_messenger_send(&ch, "1", big, &req, err, sizeof(err)), SB_ETOOLARGE);
    free(big);

    /* bad text, bad contact */
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "text: empty");
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", NULL, &req, err, sizeof(err)), SB_EINVAL);
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "bad \xC3\x28 utf8", &req, err, sizeof(err)),
                 SB_EINVAL);
    CHECK_CONTAINS(err, "UTF-8");
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "overlong \xC0\xAF", &req, err, sizeof(err)),
                 SB_EINVAL);
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "surrogate \xED\xA0\x80", &req, err,
                                           sizeof(err)), SB_EINVAL);
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "contact_id");
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, NULL, "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_EQ_INT(sb_platform_messenger_send(&ch, "12\n34", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK(req == NULL);

    /* unconfigured channels and credentials */
    ch.whatsapp = false;
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "not configured");
    ch = channels();
    ch.wa_access_token = NULL;
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "access_token");
    ch = channels();
    ch.wa_phone_number_id = "1065/../me";
    CHECK_EQ_INT(sb_platform_whatsapp_send(&ch, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "phone_number_id");
    ch = channels();
    ch.ms_page_access_token = "";
    CHECK_EQ_INT(sb_platform_messenger_send(&ch, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    ch = channels();
    ch.tg_bot_token = "123:abc/../x";
    CHECK_EQ_INT(sb_platform_telegram_send(&ch, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "bot_token");
    CHECK_EQ_INT(sb_platform_whatsapp_send(NULL, "1", "x", &req, err, sizeof(err)), SB_EINVAL);
    CHECK(req == NULL);
    sb_platform_request_free(NULL);
}

static void test_messenger_request(void)
{
    sb_cfg_channels_t ch = channels();
    sb_platform_request_t *req = NULL;
    char err[160];
    json_t *o;

    CHECK_EQ_INT(sb_platform_messenger_send(&ch, "1254459154682919", TRICKY, &req, err,
                                            sizeof(err)), 0);
    /* the token is form-encoded into the query; the base loses its slash */
    CHECK_EQ_STR(req->url, "http://127.0.0.1:9999/graph/me/messages?access_token=EAAG+page%26token%3D1");
    CHECK_EQ_STR(header(req, "Content-Type"), "application/json");
    CHECK(header(req, "Authorization") == NULL);
    o = body_json(req);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(o, "recipient"), "id")),
                 "1254459154682919");
    CHECK_EQ_STR(json_string_value(json_object_get(o, "messaging_type")), "RESPONSE");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(o, "message"), "text")), TRICKY);
    CHECK_EQ_INT(json_object_size(o), 3);
    json_decref(o);
    sb_platform_request_free(req);

    CHECK_EQ_INT(sb_platform_send_request(&ch, SB_PLATFORM_MESSENGER, "1", "hi", &req, err,
                                          sizeof(err)), 0);
    CHECK_EQ_STR(req->body, "{\"recipient\":{\"id\":\"1\"},\"messaging_type\":\"RESPONSE\","
                            "\"message\":{\"text\":\"hi\"}}");
    sb_platform_request_free(req);
}

static void test_telegram_request(void)
{
    sb_cfg_channels_t ch = channels();
    sb_platform_request_t *req = NULL;
    char err[160];
    json_t *o;

    /* 2^53 + 1 stays an exact JSON integer */
    CHECK_EQ_INT(sb_platform_telegram_send(&ch, "9007199254740993", "Olá 🙏", &req, err,
                                           sizeof(err)), 0);
    CHECK_EQ_STR(req->url, "https://api.telegram.org/bot7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage");
    CHECK_EQ_STR(header(req, "Content-Type"), "application/json");
    CHECK_EQ_STR(req->body, "{\"chat_id\":9007199254740993,\"text\":\"Olá 🙏\"}");
    o = body_json(req);
    CHECK(json_is_integer(json_object_get(o, "chat_id")));
    CHECK(json_integer_value(json_object_get(o, "chat_id")) == 9007199254740993LL);
    json_decref(o);
    sb_platform_request_free(req);

    CHECK_EQ_INT(sb_platform_send_request(&ch, SB_PLATFORM_TELEGRAM, "-1001234567890", TRICKY,
                                          &req, err, sizeof(err)), 0);
    o = body_json(req);
    CHECK(json_integer_value(json_object_get(o, "chat_id")) == -1001234567890LL);
    CHECK_EQ_STR(json_string_value(json_object_get(o, "text")), TRICKY);
    json_decref(o);
    sb_platform_request_free(req);

    ch.tg_api_base = NULL;
    CHECK_EQ_INT(sb_platform_telegram_send(&ch, "-9223372036854775808", "x", &req, err, sizeof(err)), 0);
    CHECK_EQ_STR(req->body, "{\"chat_id\":-9223372036854775808,\"text\":\"x\"}");
    CHECK(strncmp(req->url, "https://api.telegram.org/bot", 28) == 0);
    sb_platform_request_free(req);

    /* chat ids that are not int64 */
    static const char *const bad[] = { "9223372036854775808", "12a", "-", "1.5", " 12", "+12",
                                       "0x10", "abc" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(sb_platform_telegram_send(&ch, bad[i], "x", &req, err, sizeof(err)), SB_EINVAL);
        CHECK(req == NULL);
    }
    CHECK_EQ_INT(sb_platform_send_request(&ch, SB_PLATFORM_VOICE, "+1555", "x", &req, err,
                                          sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "voice");
}

static void test_twiml(void)
{
    char *x;

    x = sb_platform_twiml_enqueue("es", "Un momento, por favor.", "frontline",
                                  "https://router.example.com/v1/webhooks/voice/wait");
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"
                    "<Say language=\"es\">Un momento, por favor.</Say>"
                    "<Enqueue waitUrl=\"https://router.example.com/v1/webhooks/voice/wait\">frontline</Enqueue>"
                    "</Response>");
    free(x);

    /* escaping in text and attributes, control characters */
    x = sb_platform_twiml_enqueue("en\"><Hangup/>", "Tom & Jerry's <b>\"best\"</b>\x01\x0b\nok",
                                  "q<1>&", "https://x.example/w?a=1&b=\"2\"");
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"
                    "<Say language=\"en&quot;&gt;&lt;Hangup/&gt;\">"
                    "Tom &amp; Jerry&apos;s &lt;b&gt;&quot;best&quot;&lt;/b&gt;  \nok</Say>"
                    "<Enqueue waitUrl=\"https://x.example/w?a=1&amp;b=&quot;2&quot;\">q&lt;1&gt;&amp;</Enqueue>"
                    "</Response>");
    free(x);

    /* no greeting, no language, no wait URL; UTF-8 passes through */
    x = sb_platform_twiml_enqueue(NULL, NULL, "voice", NULL);
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Enqueue>voice</Enqueue></Response>");
    free(x);
    x = sb_platform_twiml_enqueue("", "Grüße 👋", "voice", "");
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Grüße 👋</Say>"
                    "<Enqueue>voice</Enqueue></Response>");
    free(x);
    CHECK(sb_platform_twiml_enqueue("en", "hi", NULL, NULL) == NULL);
    CHECK(sb_platform_twiml_enqueue("en", "hi", "", NULL) == NULL);

    x = sb_platform_twiml_say_hangup("de", "Leider <geschlossen> & tschüss");
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"
                    "<Say language=\"de\">Leider &lt;geschlossen&gt; &amp; tschüss</Say>"
                    "<Hangup/></Response>");
    free(x);
    x = sb_platform_twiml_say_hangup(NULL, NULL);
    CHECK_EQ_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>");
    free(x);
}

#define ACCOUNT "AC0123456789abcdef0123456789abcdef"

static void test_twilio_call(void)
{
    sb_cfg_channels_t ch = channels();
    sb_platform_request_t *req = NULL;
    sb_platform_params_t *form = NULL;
    char err[160];

    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+14155550100", NULL,
                                         &req, err, sizeof(err)), 0);
    CHECK_EQ_STR(req->method, "POST");
    CHECK_EQ_STR(req->url, "https://api.twilio.com/2010-04-01/Accounts/" ACCOUNT "/Calls.json");
    CHECK_EQ_STR(header(req, "Content-Type"), "application/x-www-form-urlencoded");
    /* base64("AC...:tw1l10-t0ken"), computed with Python */
    CHECK_EQ_STR(header(req, "Authorization"),
                 "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0dzFsMTAtdDBrZW4=");
    /* the same bytes Python's urlencode gives */
    CHECK_EQ_STR(req->body,
                 "To=%2B14155550100&From=%2B18005551212"
                 "&Url=https%3A%2F%2Frouter.example.com%2Fv1%2Fwebhooks%2Fvoice&Method=POST"
                 "&StatusCallback=https%3A%2F%2Frouter.example.com%2Fv1%2Fwebhooks%2Fvoice"
                 "&StatusCallbackMethod=POST");
    CHECK_EQ_INT(sb_platform_form_parse(req->body, req->body_len, &form, err, sizeof(err)), 0);
    CHECK_EQ_STR(sb_platform_params_get(form, "To"), "+14155550100");
    CHECK_EQ_STR(sb_platform_params_get(form, "Url"), "https://router.example.com/v1/webhooks/voice");
    sb_platform_params_free(form);
    sb_platform_request_free(req);

    /* an explicit TwiML URL with a query; a configured API base */
    ch.vo_api_base = "http://127.0.0.1:7000/";
    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+4930123456",
                                         "https://r.example/v1/webhooks/voice?conv=c 1&x=é",
                                         &req, err, sizeof(err)), 0);
    CHECK_EQ_STR(req->url, "http://127.0.0.1:7000/2010-04-01/Accounts/" ACCOUNT "/Calls.json");
    CHECK_EQ_INT(sb_platform_form_parse(req->body, req->body_len, &form, err, sizeof(err)), 0);
    CHECK_EQ_STR(sb_platform_params_get(form, "Url"), "https://r.example/v1/webhooks/voice?conv=c 1&x=é");
    CHECK_EQ_STR(sb_platform_params_get(form, "StatusCallback"),
                 "https://r.example/v1/webhooks/voice?conv=c 1&x=é");
    sb_platform_params_free(form);
    sb_platform_request_free(req);

    /* what the configuration cannot give must be right */
    static const char *const bad_sid[] = { NULL, "", "AC0123", "XX0123456789abcdef0123456789abcdef",
                                           "AC0123456789abcdef0123456789abcdeg",
                                           "AC0123456789abcdef0123456789abcdef/" };
    for (size_t i = 0; i < sizeof(bad_sid) / sizeof(bad_sid[0]); i++) {
        CHECK_EQ_INT(sb_platform_twilio_call(&ch, bad_sid[i], "+18005551212", "+14155550100",
                                             NULL, &req, err, sizeof(err)), SB_EINVAL);
        CHECK_CONTAINS(err, "account_sid");
        CHECK(req == NULL);
    }
    static const char *const bad_num[] = { NULL, "", "+", "14155550100", "+0123", "+1 415 555",
                                           "+12345678901234567", "client:bob" };
    for (size_t i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
        CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", bad_num[i], NULL,
                                             &req, err, sizeof(err)), SB_EINVAL);
        CHECK_CONTAINS(err, "to:");
        CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, bad_num[i], "+14155550100", NULL,
                                             &req, err, sizeof(err)), SB_EINVAL);
        CHECK_CONTAINS(err, "from:");
    }
    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+14155550100",
                                         "ftp://x", &req, err, sizeof(err)), SB_EINVAL);
    ch.vo_public_url = NULL;
    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+14155550100", NULL,
                                         &req, err, sizeof(err)), SB_EINVAL);
    CHECK_CONTAINS(err, "public_url");
    ch = channels();
    ch.vo_auth_token = NULL;
    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+14155550100", NULL,
                                         &req, err, sizeof(err)), SB_EINVAL);
    ch.voice = false;
    CHECK_EQ_INT(sb_platform_twilio_call(&ch, ACCOUNT, "+18005551212", "+14155550100", NULL,
                                         &req, err, sizeof(err)), SB_EINVAL);
}

static sb_platform_outcome_t read_vector(sb_platform_t p, int status, const char *name,
                                         char **id, int *after, char *err)
{
    size_t len;
    char *body = test_vector(name, &len);
    sb_platform_outcome_t o = sb_platform_read_response(p, status, body, len, id, after, err, 200);

    free(body);
    return o;
}

static sb_platform_outcome_t read_text(sb_platform_t p, int status, const char *body,
                                       char **id, int *after, char *err)
{
    return sb_platform_read_response(p, status, body, body ? strlen(body) : 0, id, after, err, 200);
}

static void test_read_response(void)
{
    char *id = NULL, err[200];
    int after = -1;

    /* sent: the platform's message id */
    CHECK_EQ_INT(read_vector(SB_PLATFORM_WHATSAPP, 200, "whatsapp_send_ok.json", &id, &after, err),
                 SB_PLATFORM_SENT);
    CHECK_EQ_STR(id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
    CHECK_EQ_INT(after, 0);
    free(id);
    CHECK_EQ_INT(read_vector(SB_PLATFORM_MESSENGER, 200, "messenger_send_ok.json", &id, &after, err),
                 SB_PLATFORM_SENT);
    CHECK(strncmp(id, "AG5Hz2Uq7tuwNEhX", 16) == 0);
    free(id);
    CHECK_EQ_INT(read_vector(SB_PLATFORM_TELEGRAM, 200, "telegram_send_ok.json", &id, &after, err),
                 SB_PLATFORM_SENT);
    CHECK_EQ_STR(id, "9007199254740993:4523");   /* the scheme of inbound ids */
    free(id);
    CHECK_EQ_INT(read_text(SB_PLATFORM_VOICE, 201, "{\"sid\":\"CA0123456789abcdef0123456789abcdef\","
                                                   "\"status\":\"queued\"}", &id, &after, err),
                 SB_PLATFORM_SENT);
    CHECK_EQ_STR(id, "CA0123456789abcdef0123456789abcdef");
    free(id);

    /* a 2xx we cannot read is still sent: never send it twice */
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 200, "<html>ok</html>", &id, &after, err),
                 SB_PLATFORM_SENT);
    CHECK(id == NULL);
    CHECK_CONTAINS(err, "without a message id");
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 200, "{\"messages\":[]}", &id, NULL, err),
                 SB_PLATFORM_SENT);
    CHECK(id == NULL);
    CHECK_EQ_INT(read_text(SB_PLATFORM_MESSENGER, 200, "{\"message_id\":12}", NULL, NULL, err),
                 SB_PLATFORM_SENT);

    /* retry: no answer, 5xx, 429, rate-limit codes in a 400 */
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 0, NULL, &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_CONTAINS(err, "no answer");
    CHECK_EQ_INT(read_text(SB_PLATFORM_TELEGRAM, -1, "garbage", &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(read_text(SB_PLATFORM_MESSENGER, 503, "", &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_CONTAINS(err, "HTTP 503");
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 429, "{}", &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(read_vector(SB_PLATFORM_WHATSAPP, 400, "graph_error_throughput.json", &id, &after,
                             err), SB_PLATFORM_RETRY);
    CHECK_CONTAINS(err, "(code 130429)");
    CHECK_EQ_INT(read_text(SB_PLATFORM_MESSENGER, 400,
                           "{\"error\":{\"message\":\"odd\",\"code\":999,\"is_transient\":true}}",
                           &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(read_text(SB_PLATFORM_MESSENGER, 400,
                           "{\"error\":{\"message\":\"(#613) Calls to this api have exceeded the rate limit.\",\"code\":613}}",
                           &id, &after, err), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(read_vector(SB_PLATFORM_TELEGRAM, 429, "telegram_error_429.json", &id, &after, err),
                 SB_PLATFORM_RETRY);
    CHECK_EQ_INT(after, 35);
    CHECK_CONTAINS(err, "Too Many Requests");
    CHECK(id == NULL);

    /* failed: other 4xx with the platform's words */
    CHECK_EQ_INT(read_vector(SB_PLATFORM_WHATSAPP, 400, "graph_error_invalid.json", &id, &after, err),
                 SB_PLATFORM_FAILED);
    CHECK_EQ_STR(err, "(#100) Invalid parameter (code 100)");
    CHECK_EQ_INT(read_vector(SB_PLATFORM_TELEGRAM, 400, "telegram_error_400.json", &id, &after, err),
                 SB_PLATFORM_FAILED);
    CHECK_EQ_STR(err, "Bad Request: chat not found (error_code 400)");
    CHECK_EQ_INT(after, 0);
    CHECK_EQ_INT(read_text(SB_PLATFORM_TELEGRAM, 403,
                           "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked by the user\"}",
                           &id, &after, err), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(read_text(SB_PLATFORM_VOICE, 400,
                           "{\"code\":21211,\"message\":\"The 'To' number +1555 is not a valid phone number.\","
                           "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
                           &id, &after, err), SB_PLATFORM_FAILED);
    CHECK_CONTAINS(err, "(code 21211)");
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 401, "not json", &id, &after, err),
                 SB_PLATFORM_FAILED);
    CHECK_EQ_STR(err, "HTTP 401");
    CHECK_EQ_INT(read_text(SB_PLATFORM_WHATSAPP, 302, "", &id, &after, err), SB_PLATFORM_FAILED);
    /* Telegram's ok:false inside a 200 is read by its error_code */
    CHECK_EQ_INT(read_text(SB_PLATFORM_TELEGRAM, 200,
                           "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message text is empty\"}",
                           &id, &after, err), SB_PLATFORM_FAILED);
    CHECK(id == NULL);
    CHECK_EQ_INT(read_text(SB_PLATFORM_TELEGRAM, 200, "{\"ok\":false,\"error_code\":200}",
                           &id, &after, err), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(read_text(SB_PLATFORM_TELEGRAM, 502, "{\"ok\":false,\"error_code\":502,"
                           "\"description\":\"Bad Gateway\"}", &id, &after, err), SB_PLATFORM_RETRY);
}

static void test_classify(void)
{
    CHECK_EQ_INT(sb_platform_classify_status(200), SB_PLATFORM_SENT);
    CHECK_EQ_INT(sb_platform_classify_status(201), SB_PLATFORM_SENT);
    CHECK_EQ_INT(sb_platform_classify_status(0), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(-1), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(408), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(429), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(500), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(502), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(599), SB_PLATFORM_RETRY);
    CHECK_EQ_INT(sb_platform_classify_status(400), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(sb_platform_classify_status(401), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(sb_platform_classify_status(403), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(sb_platform_classify_status(404), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(sb_platform_classify_status(301), SB_PLATFORM_FAILED);
    CHECK_EQ_INT(sb_platform_classify_status(100), SB_PLATFORM_FAILED);
    CHECK_EQ_STR(sb_platform_outcome_name(SB_PLATFORM_RETRY), "retry");
}

int main(void)
{
    RUN(test_whatsapp_request);
    RUN(test_text_limits_and_errors);
    RUN(test_messenger_request);
    RUN(test_telegram_request);
    RUN(test_twiml);
    RUN(test_twilio_call);
    RUN(test_read_response);
    RUN(test_classify);
    return 0;
}
