/*
 * test_platform_inbound.c - the platforms' published webhook payloads
 * (tests/unit/vectors/) to normalized events, and the malformed variants an
 * attacker or a platform change could send: not JSON, wrong types, missing
 * fields, huge numbers, empty arrays. A failed parse leaves the list as it
 * was; the sanitizer build checks that nothing leaks.
 */
#include "switchboard/platform.h"
#include "test.h"

#define WAMID_TEXT "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="

/* The bytes of tests/unit/vectors/NAME (malloc'd, NUL-terminated). */
typedef int (*parser_t)(const char *, size_t, sb_platform_events_t *, char *, size_t);

/* Parses a fixture into a new list; the parse must succeed. */
static sb_platform_events_t *parse_vector(parser_t fn, const char *name)
{
    size_t len;
    char *body = test_vector(name, &len), err[256] = "";
    sb_platform_events_t *evs = sb_platform_events_new();
    int rc = fn(body, len, evs, err, sizeof(err));

    if (rc != 0)
        fprintf(stderr, "%s: %s\n", name, err);
    CHECK_EQ_INT(rc, 0);
    free(body);
    return evs;
}

/* Parses text expecting SB_EINVAL with an error containing want; the list
 * must come back as it was (one sentinel event from a good parse first). */
static void parse_bad(parser_t fn, const char *good, const char *text, const char *want)
{
    sb_platform_events_t *evs = parse_vector(fn, good);
    size_t before = evs->n;
    char err[256] = "";
    int rc = fn(text, strlen(text), evs, err, sizeof(err));

    if (rc != SB_EINVAL)
        fprintf(stderr, "expected SB_EINVAL for: %s\n", text);
    CHECK_EQ_INT(rc, SB_EINVAL);
    CHECK_EQ_INT(evs->n, before);
    CHECK_CONTAINS(err, want);
    sb_platform_events_free(evs);
}

/* --- WhatsApp --------------------------------------------------------- */

static void test_whatsapp_text(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_whatsapp, "whatsapp_text.json");
    sb_platform_event_t *ev;

    CHECK_EQ_INT(evs->n, 1);
    ev = &evs->items[0];
    CHECK_EQ_INT(ev->kind, SB_PLATFORM_EV_MESSAGE);
    CHECK_EQ_INT(ev->platform, SB_PLATFORM_WHATSAPP);
    CHECK_EQ_STR(ev->channel, "whatsapp");
    CHECK_EQ_STR(ev->contact_id, "16505551234");
    CHECK_EQ_STR(ev->contact_name, "Sheena Nelson");
    CHECK(ev->language == NULL);
    CHECK_EQ_STR(ev->business_id, "106540352242922");
    CHECK_EQ_STR(ev->external_id, WAMID_TEXT);
    CHECK_EQ_STR(ev->text, "Does it come in another color?");
    CHECK_EQ_INT(ev->ts, 1749416383000LL);
    CHECK(ev->status == NULL && ev->reason == NULL && ev->ref_id == NULL);
    CHECK_EQ_INT(ev->duration_s, -1);
    sb_platform_events_free(evs);
}

static void test_whatsapp_statuses(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_whatsapp, "whatsapp_statuses.json");
    static const char *const want[] = { "sent", "delivered", "read", "failed" };

    CHECK_EQ_INT(evs->n, 4);
    for (size_t i = 0; i < 4; i++) {
        sb_platform_event_t *ev = &evs->items[i];

        CHECK_EQ_INT(ev->kind, SB_PLATFORM_EV_STATUS);
        CHECK_EQ_STR(ev->status, want[i]);
        CHECK_EQ_STR(ev->contact_id, "16505551234");
        CHECK(ev->text == NULL);
    }
    CHECK_EQ_STR(evs->items[0].ref_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA");
    CHECK_EQ_STR(evs->items[1].external_id,
                 "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA:delivered");
    CHECK_EQ_INT(evs->items[2].ts, 1750263801000LL);
    CHECK(evs->items[0].reason == NULL);
    CHECK_EQ_STR(evs->items[3].reason, "Re-engagement message (code 131047)");
    CHECK_EQ_STR(evs->items[3].ref_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBQkNERUYwMTIzNDU2Nzg5AA==");
    sb_platform_events_free(evs);
}

static void test_whatsapp_non_text_and_batch(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_whatsapp, "whatsapp_image.json");

    /* non-text: an event the router can answer politely */
    CHECK_EQ_INT(evs->n, 1);
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[0].reason, "image");
    CHECK_EQ_STR(evs->items[0].contact_id, "16505551234");
    CHECK_EQ_STR(evs->items[0].contact_name, "Sheena Nelson");
    CHECK_EQ_STR(evs->items[0].external_id,
                 "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUE3Q0IzQjJGQzkyMEIxRDhFMQA=");
    CHECK(evs->items[0].text == NULL);
    sb_platform_events_free(evs);

    evs = parse_vector(sb_platform_parse_whatsapp, "whatsapp_batch.json");
    CHECK_EQ_INT(evs->n, 4);
    /* RTL text with an emoji, the contact name matched by wa_id */
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_MESSAGE);
    CHECK_EQ_STR(evs->items[0].contact_id, "971501234567");
    CHECK_EQ_STR(evs->items[0].contact_name, "عمر الفاروق");
    CHECK_EQ_STR(evs->items[0].text, "مرحبا، أحتاج مساعدة في فاتورتي 🧾");
    /* quotes, newline, emoji with a skin tone modifier */
    CHECK_EQ_STR(evs->items[1].contact_name, "Sheena Nelson");
    CHECK_EQ_STR(evs->items[1].text, "Line one\nLine \"two\" 👍🏽");
    CHECK_EQ_INT(evs->items[2].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[2].reason, "sticker");
    /* an unknown change field */
    CHECK_EQ_INT(evs->items[3].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[3].reason, "field:account_update");
    CHECK(evs->items[3].contact_id == NULL);
    CHECK(strncmp(evs->items[3].external_id, "change:", 7) == 0);
    CHECK_EQ_INT(strlen(evs->items[3].external_id), 7 + 32);
    sb_platform_events_free(evs);
}

static void test_whatsapp_ids_are_stable(void)
{
    /* a redelivery gives the same external ids, including the content ids */
    sb_platform_events_t *a = parse_vector(sb_platform_parse_whatsapp, "whatsapp_batch.json");
    sb_platform_events_t *b = parse_vector(sb_platform_parse_whatsapp, "whatsapp_batch.json");
    const char *reordered =
        "{\"entry\":[{\"changes\":[{\"value\":{\"event\":\"VERIFIED_ACCOUNT\","
        "\"phone_number\":\"15550783881\"},\"field\":\"account_update\"}],"
        "\"id\":\"102290129340398\"}],\"object\":\"whatsapp_business_account\"}";
    char err[256];

    CHECK_EQ_INT(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        CHECK_EQ_STR(a->items[i].external_id, b->items[i].external_id);
    /* the same change with its keys in another order and other whitespace */
    CHECK_EQ_INT(sb_platform_parse_whatsapp(reordered, strlen(reordered), b, err, sizeof(err)), 0);
    CHECK_EQ_STR(b->items[b->n - 1].external_id, a->items[3].external_id);
    sb_platform_events_free(a);
    sb_platform_events_free(b);
}

static void test_whatsapp_edges(void)
{
    sb_platform_events_t *evs = sb_platform_events_new();
    char err[256];
    const char *s;

    /* empty arrays: no events, no error */
    s = "{\"object\":\"whatsapp_business_account\",\"entry\":[]}";
    CHECK_EQ_INT(sb_platform_parse_whatsapp(s, strlen(s), evs, err, sizeof(err)), 0);
    s = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[]}]}";
    CHECK_EQ_INT(sb_platform_parse_whatsapp(s, strlen(s), evs, err, sizeof(err)), 0);
    s = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\","
        "\"value\":{\"messages\":[],\"statuses\":[],\"contacts\":[]}}]}]}";
    CHECK_EQ_INT(sb_platform_parse_whatsapp(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 0);
    /* no contacts: no name; null optional members are absent */
    s = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\","
        "\"value\":{\"metadata\":null,\"messages\":[{\"from\":\"1\",\"id\":\"w1\",\"timestamp\":\"0\","
        "\"type\":\"text\",\"text\":{\"body\":\"\"}}]}}]}]}";
    CHECK_EQ_INT(sb_platform_parse_whatsapp(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 1);
    CHECK(evs->items[0].contact_name == NULL && evs->items[0].business_id == NULL);
    CHECK_EQ_STR(evs->items[0].text, "");
    CHECK_EQ_INT(evs->items[0].ts, 0);
    /* an unknown status and the account-level errors array */
    s = "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\","
        "\"value\":{\"statuses\":[{\"id\":\"w2\",\"status\":\"played\",\"timestamp\":\"5\"}],"
        "\"errors\":[{\"code\":131056,\"title\":\"Pair rate limit hit\"}]}}]}]}";
    CHECK_EQ_INT(sb_platform_parse_whatsapp(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 3);
    CHECK_EQ_INT(evs->items[1].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[1].reason, "status:played");
    CHECK(evs->items[1].contact_id == NULL);
    CHECK_EQ_STR(evs->items[2].reason, "errors: Pair rate limit hit (code 131056)");
    sb_platform_events_free(evs);
}

#define WA_HEAD "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":"
#define WA_MSG(fields) WA_HEAD "{\"messages\":[" fields "]}}]}]}"

static void test_whatsapp_malformed(void)
{
    parser_t p = sb_platform_parse_whatsapp;
    const char *good = "whatsapp_text.json";

    parse_bad(p, good, "", "empty body");
    parse_bad(p, good, "not json", "invalid JSON");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\",\"entry\":[", "invalid JSON");
    parse_bad(p, good, "[1,2]", "not a JSON object");
    parse_bad(p, good, "\"whatsapp\"", "invalid JSON");
    parse_bad(p, good, "{\"entry\":[]}", "object: missing");
    parse_bad(p, good, "{\"object\":\"page\",\"entry\":[]}", "object: expected");
    parse_bad(p, good, "{\"object\":7,\"entry\":[]}", "object: must be a string");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\"}", "entry: missing");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\",\"entry\":{}}",
              "entry: must be an array");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\",\"entry\":[1]}",
              "entry[0]: must be an object");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\",\"entry\":[{}]}",
              "entry[0].changes: missing");
    parse_bad(p, good, WA_HEAD "[]}]}]}", "entry[0].changes[0].value: must be an object");
    parse_bad(p, good, "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"value\":{}}]}]}",
              "entry[0].changes[0].field: missing");
    parse_bad(p, good, WA_HEAD "{\"messages\":{}}}]}]}",
              "entry[0].changes[0].value.messages: must be an array");
    parse_bad(p, good, WA_MSG("\"x\""), "value.messages[0]: must be an object");
    parse_bad(p, good, WA_MSG("{\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"x\"}}"),
              "value.messages[0].from: missing");
    parse_bad(p, good, WA_MSG("{\"from\":16505551234,\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":\"x\"}}"),
              "value.messages[0].from: must be a string");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":\"x\"}}"),
              "value.messages[0].id: empty");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":1749416383,\"type\":\"text\","
                              "\"text\":{\"body\":\"x\"}}"),
              "value.messages[0].timestamp: must be a string");
    /* huge and malformed times */
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"99999999999999999999999\","
                              "\"type\":\"text\",\"text\":{\"body\":\"x\"}}"),
              "value.messages[0].timestamp: not a time in seconds");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"-5\","
                              "\"type\":\"text\",\"text\":{\"body\":\"x\"}}"),
              "timestamp: not a time");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"\","
                              "\"type\":\"text\",\"text\":{\"body\":\"x\"}}"),
              "timestamp: not a time");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\"}"),
              "value.messages[0].text: missing");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":[\"x\"]}}"),
              "value.messages[0].text.body: must be a string");
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":null}"),
              "value.messages[0].type: missing");
    /* a good message before a bad one: nothing of the body stays */
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w1\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":\"fine\"}},"
                              "{\"from\":\"1\",\"id\":\"w2\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{}}"),
              "value.messages[1].text.body: missing");
    /* contacts, statuses */
    parse_bad(p, good, WA_HEAD "{\"contacts\":[{\"wa_id\":1}],\"messages\":[{\"from\":\"1\",\"id\":\"w\","
                       "\"timestamp\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"x\"}}]}}]}]}",
              "value.contacts[0].wa_id: must be a string");
    parse_bad(p, good, WA_HEAD "{\"contacts\":[{\"wa_id\":\"1\",\"profile\":{\"name\":5}}],"
                       "\"messages\":[{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\","
                       "\"text\":{\"body\":\"x\"}}]}}]}]}",
              "value.contacts[0].profile.name: must be a string");
    parse_bad(p, good, WA_HEAD "{\"statuses\":[{\"id\":\"w\",\"timestamp\":\"1\"}]}}]}]}",
              "value.statuses[0].status: missing");
    parse_bad(p, good, WA_HEAD "{\"statuses\":[{\"id\":\"w\",\"status\":\"failed\",\"timestamp\":\"1\","
                       "\"errors\":[\"boom\"]}]}}]}]}",
              "value.statuses[0].errors[0]: must be an object");
    /* NUL inside a string is refused by the JSON reader */
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":\"a\\u0000b\"}}"),
              "invalid JSON");
    /* invalid UTF-8 */
    parse_bad(p, good, WA_MSG("{\"from\":\"1\",\"id\":\"w\",\"timestamp\":\"1\",\"type\":\"text\","
                              "\"text\":{\"body\":\"\xff\xfe\"}}"),
              "invalid JSON");
}

/* --- Messenger -------------------------------------------------------- */

static void test_messenger_text(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_messenger, "messenger_text.json");
    sb_platform_event_t *ev = &evs->items[0];

    CHECK_EQ_INT(evs->n, 1);
    CHECK_EQ_INT(ev->kind, SB_PLATFORM_EV_MESSAGE);
    CHECK_EQ_STR(ev->channel, "messenger");
    CHECK_EQ_STR(ev->contact_id, "1254459154682919");
    CHECK(ev->contact_name == NULL);
    CHECK_EQ_STR(ev->business_id, "682498302938465");
    CHECK_EQ_STR(ev->external_id, "mid.1457764197618:41d102a3e1ae206a38");
    CHECK_EQ_STR(ev->text, "hello, world!");
    CHECK_EQ_INT(ev->ts, 1458692752478LL);
    sb_platform_events_free(evs);
}

static void test_messenger_events(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_messenger, "messenger_events.json");

    CHECK_EQ_INT(evs->n, 5);
    /* delivery with mids: one status per mid, ts from the watermark */
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_STATUS);
    CHECK_EQ_STR(evs->items[0].status, "delivered");
    CHECK_EQ_STR(evs->items[0].ref_id, "mid.1458668856218:ed81099e15d3f4f233");
    CHECK_EQ_STR(evs->items[0].external_id, "mid.1458668856218:ed81099e15d3f4f233:delivered");
    CHECK_EQ_STR(evs->items[0].contact_id, "1254459154682919");
    CHECK_EQ_INT(evs->items[0].ts, 1458668856253LL);
    /* read: a watermark, no message id */
    CHECK_EQ_INT(evs->items[1].kind, SB_PLATFORM_EV_STATUS);
    CHECK_EQ_STR(evs->items[1].status, "read");
    CHECK(evs->items[1].ref_id == NULL);
    CHECK_EQ_INT(evs->items[1].ts, 1458668856253LL);
    CHECK_EQ_STR(evs->items[1].external_id, "1254459154682919:1458668856253:read");
    /* echo of our own message: ignored, the customer is the recipient */
    CHECK_EQ_INT(evs->items[2].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[2].reason, "echo");
    CHECK_EQ_STR(evs->items[2].contact_id, "1254459154682919");
    CHECK_EQ_STR(evs->items[2].business_id, "682498302938465");
    CHECK(evs->items[2].text == NULL);
    /* attachment */
    CHECK_EQ_INT(evs->items[3].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[3].reason, "attachment:image");
    CHECK_EQ_STR(evs->items[3].external_id, "m_1457764197618:41d102a3e1ae206a40");
    /* reaction: named */
    CHECK_EQ_INT(evs->items[4].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[4].reason, "reaction");
    CHECK(strncmp(evs->items[4].external_id, "reaction:", 9) == 0);
    sb_platform_events_free(evs);
}

#define MS_HEAD "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"time\":1,\"messaging\":["
#define MS(ev) MS_HEAD ev "]}]}"

static void test_messenger_edges(void)
{
    sb_platform_events_t *evs = sb_platform_events_new();
    char err[256];
    const char *s;

    s = "{\"object\":\"page\",\"entry\":[]}";
    CHECK_EQ_INT(sb_platform_parse_messenger(s, strlen(s), evs, err, sizeof(err)), 0);
    s = MS("");
    CHECK_EQ_INT(sb_platform_parse_messenger(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 0);
    /* delivery without mids: one watermark status */
    s = MS("{\"sender\":{\"id\":\"7\"},\"recipient\":{\"id\":\"1\"},\"delivery\":{\"watermark\":1458668856253}}");
    CHECK_EQ_INT(sb_platform_parse_messenger(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 1);
    CHECK(evs->items[0].ref_id == NULL);
    CHECK_EQ_STR(evs->items[0].external_id, "7:1458668856253:delivered");
    /* standby (handover protocol) entries are not ours */
    s = "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"time\":1,\"standby\":[{\"sender\":{\"id\":\"7\"}}]}]}";
    CHECK_EQ_INT(sb_platform_parse_messenger(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 2);
    CHECK_EQ_STR(evs->items[1].reason, "standby");
    /* a message without text or attachments; an empty text is still text */
    s = MS("{\"sender\":{\"id\":\"7\"},\"message\":{\"mid\":\"m1\"}},"
           "{\"sender\":{\"id\":\"7\"},\"message\":{\"mid\":\"m2\",\"text\":\"\"}}");
    CHECK_EQ_INT(sb_platform_parse_messenger(s, strlen(s), evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 4);
    CHECK_EQ_STR(evs->items[2].reason, "no text");
    CHECK(evs->items[2].business_id == NULL);
    CHECK_EQ_INT(evs->items[3].kind, SB_PLATFORM_EV_MESSAGE);
    CHECK_EQ_STR(evs->items[3].text, "");
    sb_platform_events_free(evs);
}

static void test_messenger_malformed(void)
{
    parser_t p = sb_platform_parse_messenger;
    const char *good = "messenger_text.json";

    parse_bad(p, good, "{", "invalid JSON");
    parse_bad(p, good, "{\"object\":\"instagram\",\"entry\":[]}", "object: expected \"page\"");
    parse_bad(p, good, "{\"object\":\"page\",\"entry\":\"x\"}", "entry: must be an array");
    parse_bad(p, good, "{\"object\":\"page\",\"entry\":[{\"messaging\":{}}]}",
              "entry[0].messaging: must be an array");
    parse_bad(p, good, MS("{\"recipient\":{\"id\":\"1\"},\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "entry[0].messaging[0].sender: missing");
    parse_bad(p, good, MS("{\"sender\":{\"id\":1254459154682919},\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "entry[0].messaging[0].sender.id: must be a string");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"\"},\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "entry[0].messaging[0].sender.id: empty");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"timestamp\":\"1458692752478\","
                          "\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "entry[0].messaging[0].timestamp: must be an integer");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"timestamp\":1.5e12,"
                          "\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "timestamp: must be an integer");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"timestamp\":9223372036854775807,"
                          "\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "timestamp: not a time in milliseconds");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"timestamp\":92233720368547758070,"
                          "\"message\":{\"mid\":\"m\",\"text\":\"x\"}}"),
              "invalid JSON");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"message\":{\"text\":\"x\"}}"),
              "entry[0].messaging[0].message.mid: missing");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"message\":{\"mid\":\"m\",\"text\":{\"t\":1}}}"),
              "message.text: must be a string");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"message\":{\"mid\":\"m\",\"is_echo\":\"true\"}}"),
              "message.is_echo: must be true or false");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"message\":\"hi\"}"),
              "entry[0].messaging[0].message: must be an object");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"delivery\":{\"mids\":[\"a\",2],\"watermark\":1}}"),
              "delivery.mids[1]: must be a non-empty string");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"delivery\":{\"mids\":[\"a\"]}}"),
              "delivery.watermark: missing");
    parse_bad(p, good, MS("{\"sender\":{\"id\":\"7\"},\"read\":{\"watermark\":-1}}"),
              "read.watermark: not a time");
}

/* --- Telegram --------------------------------------------------------- */

static void test_telegram_guide_update(void)
{
    /* Telegram's own webhook guide example: chat without "type" */
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_telegram, "telegram_webhook_guide.json");
    sb_platform_event_t *ev = &evs->items[0];

    CHECK_EQ_INT(evs->n, 1);
    CHECK_EQ_INT(ev->kind, SB_PLATFORM_EV_MESSAGE);
    CHECK_EQ_STR(ev->channel, "telegram");
    CHECK_EQ_STR(ev->contact_id, "1111111");
    CHECK_EQ_STR(ev->contact_name, "Test Test Lastname");
    CHECK(ev->language == NULL);
    CHECK_EQ_STR(ev->external_id, "1111111:1365");
    CHECK_EQ_STR(ev->text, "/start");
    CHECK_EQ_INT(ev->ts, 1441645532000LL);
    sb_platform_events_free(evs);
}

static void test_telegram_private_and_groups(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_telegram, "telegram_private.json");
    sb_platform_event_t *ev = &evs->items[0];

    /* 2^53 + 1: would round to ...992 through a double */
    CHECK_EQ_STR(ev->contact_id, "9007199254740993");
    CHECK_EQ_STR(ev->external_id, "9007199254740993:4521");
    CHECK_EQ_STR(ev->contact_name, "Zoë Ribeiro");
    CHECK_EQ_STR(ev->language, "pt-br");
    CHECK_EQ_STR(ev->text, "Olá! Preciso de ajuda 🙏 \"urgente\"\nobrigada");
    CHECK_EQ_INT(ev->ts, 1763800000000LL);
    sb_platform_events_free(evs);

    /* a supergroup: the chat (negative id) is the contact, the sender names it */
    evs = parse_vector(sb_platform_parse_telegram, "telegram_supergroup.json");
    ev = &evs->items[0];
    CHECK_EQ_STR(ev->contact_id, "-1001234567890");
    CHECK_EQ_STR(ev->external_id, "-1001234567890:77");
    CHECK_EQ_STR(ev->contact_name, "Alex");
    CHECK_EQ_STR(ev->language, "en");
    sb_platform_events_free(evs);
}

static void test_telegram_ignored(void)
{
    sb_platform_events_t *evs = parse_vector(sb_platform_parse_telegram, "telegram_photo.json");

    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[0].reason, "photo");
    CHECK_EQ_STR(evs->items[0].contact_id, "111222333");
    CHECK_EQ_STR(evs->items[0].language, "de");
    CHECK_EQ_STR(evs->items[0].external_id, "111222333:4522");
    sb_platform_events_free(evs);

    evs = parse_vector(sb_platform_parse_telegram, "telegram_edited.json");
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[0].reason, "edited_message");
    CHECK_EQ_STR(evs->items[0].contact_id, "111222333");
    CHECK_EQ_STR(evs->items[0].external_id, "update:872049533");
    CHECK(evs->items[0].text == NULL);
    sb_platform_events_free(evs);

    evs = parse_vector(sb_platform_parse_telegram, "telegram_callback_query.json");
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_IGNORED);
    CHECK_EQ_STR(evs->items[0].reason, "callback_query");
    CHECK(evs->items[0].contact_id == NULL);
    CHECK_EQ_STR(evs->items[0].external_id, "update:872049534");
    sb_platform_events_free(evs);

    {
        sb_platform_events_t *l = sb_platform_events_new();
        const char *s = "{\"update_id\":5}";
        char err[256];

        CHECK_EQ_INT(sb_platform_parse_telegram(s, strlen(s), l, err, sizeof(err)), 0);
        CHECK_EQ_STR(l->items[0].reason, "empty update");
        /* an odd language code is dropped, not trusted */
        s = "{\"update_id\":6,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":2},"
            "\"from\":{\"id\":2,\"first_name\":\"A\",\"language_code\":\"en\\\"><\"},\"text\":\"t\"}}";
        CHECK_EQ_INT(sb_platform_parse_telegram(s, strlen(s), l, err, sizeof(err)), 0);
        CHECK(l->items[1].language == NULL);
        /* no from, a channel-like chat with a title */
        s = "{\"update_id\":7,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":-100,"
            "\"title\":\"News\",\"type\":\"channel\"},\"text\":\"t\"}}";
        CHECK_EQ_INT(sb_platform_parse_telegram(s, strlen(s), l, err, sizeof(err)), 0);
        CHECK_EQ_STR(l->items[2].contact_name, "News");
        /* the largest and smallest int64 chat ids */
        s = "{\"update_id\":8,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":9223372036854775807},\"text\":\"t\"}}";
        CHECK_EQ_INT(sb_platform_parse_telegram(s, strlen(s), l, err, sizeof(err)), 0);
        CHECK_EQ_STR(l->items[3].contact_id, "9223372036854775807");
        s = "{\"update_id\":9,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":-9223372036854775808},\"text\":\"t\"}}";
        CHECK_EQ_INT(sb_platform_parse_telegram(s, strlen(s), l, err, sizeof(err)), 0);
        CHECK_EQ_STR(l->items[4].contact_id, "-9223372036854775808");
        sb_platform_events_free(l);
    }
}

#define TG(msg) "{\"update_id\":1,\"message\":" msg "}"

static void test_telegram_malformed(void)
{
    parser_t p = sb_platform_parse_telegram;
    const char *good = "telegram_webhook_guide.json";

    parse_bad(p, good, "update_id=1", "invalid JSON");
    parse_bad(p, good, "[]", "not a JSON object");
    parse_bad(p, good, "{\"message\":{}}", "update_id: missing");
    parse_bad(p, good, "{\"update_id\":\"1\"}", "update_id: must be an integer");
    parse_bad(p, good, "{\"update_id\":-1}", "update_id: negative");
    parse_bad(p, good, "{\"update_id\":1,\"message\":[]}", "message: must be an object");
    parse_bad(p, good, TG("{\"date\":1,\"chat\":{\"id\":1},\"text\":\"t\"}"), "message.message_id: missing");
    parse_bad(p, good, TG("{\"message_id\":1,\"chat\":{\"id\":1},\"text\":\"t\"}"), "message.date: missing");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"text\":\"t\"}"), "message.chat: missing");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{},\"text\":\"t\"}"), "message.chat.id: missing");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":\"1\"},\"text\":\"t\"}"),
              "message.chat.id: must be an integer");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":1.0},\"text\":\"t\"}"),
              "message.chat.id: must be an integer");
    /* beyond int64: the JSON reader refuses it rather than rounding */
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":9223372036854775808},\"text\":\"t\"}"),
              "invalid JSON");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1e30,\"chat\":{\"id\":1},\"text\":\"t\"}"),
              "message.date: must be an integer");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":253402300800,\"chat\":{\"id\":1},\"text\":\"t\"}"),
              "message.date: not a time in seconds");
    parse_bad(p, good, TG("{\"message_id\":-1,\"date\":1,\"chat\":{\"id\":1},\"text\":\"t\"}"),
              "message.message_id: negative");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":1},\"text\":5}"),
              "message.text: must be a string");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":1},\"from\":{\"first_name\":\"A\"},\"text\":\"t\"}"),
              "message.from.id: missing");
    parse_bad(p, good, TG("{\"message_id\":1,\"date\":1,\"chat\":{\"id\":1},\"from\":{\"id\":1,\"first_name\":[]},\"text\":\"t\"}"),
              "message.from.first_name: must be a string");
    parse_bad(p, good, "{\"update_id\":1,\"edited_message\":{\"message_id\":1,\"date\":1}}",
              "edited_message.chat: missing");
}

/* --- Twilio voice ----------------------------------------------------- */

static sb_platform_params_t *form_vector(const char *name)
{
    size_t len;
    char *body = test_vector(name, &len), err[160];
    sb_platform_params_t *p = NULL;

    CHECK_EQ_INT(sb_platform_form_parse(body, len, &p, err, sizeof(err)), 0);
    free(body);
    return p;
}

static void test_voice_incoming_call(void)
{
    sb_platform_params_t *p = form_vector("twilio_incoming_call.form");
    sb_platform_events_t *evs = sb_platform_events_new();
    sb_platform_event_t *ev;
    char err[160];

    CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->n, 1);
    ev = &evs->items[0];
    CHECK_EQ_INT(ev->kind, SB_PLATFORM_EV_CALL);
    CHECK_EQ_STR(ev->channel, "voice");
    CHECK_EQ_STR(ev->contact_id, "+14155550100");
    CHECK_EQ_STR(ev->contact_name, "Ana García");
    CHECK_EQ_STR(ev->business_id, "+18005551212");
    CHECK_EQ_STR(ev->status, "ringing");
    CHECK_EQ_STR(ev->direction, "inbound");
    CHECK_EQ_STR(ev->account_id, "AC0123456789abcdef0123456789abcdef");
    CHECK_EQ_STR(ev->ref_id, "CA5f2b1e0e3c4d8a9b7c6d5e4f3a2b1c0d");
    CHECK_EQ_STR(ev->external_id, "CA5f2b1e0e3c4d8a9b7c6d5e4f3a2b1c0d:ringing");
    CHECK_EQ_INT(ev->ts, 0);
    CHECK_EQ_INT(ev->duration_s, -1);
    CHECK(ev->reason == NULL);
    sb_platform_events_free(evs);
    sb_platform_params_free(p);
}

static void test_voice_status_callbacks(void)
{
    sb_platform_params_t *p = form_vector("twilio_status_completed.form");
    sb_platform_events_t *evs = sb_platform_events_new();
    char err[160];

    CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->items[0].kind, SB_PLATFORM_EV_CALL_ENDED);
    CHECK_EQ_STR(evs->items[0].reason, "completed");
    CHECK_EQ_INT(evs->items[0].duration_s, 184);
    /* Sat, 22 Nov 2025 08:26:40 +0000 */
    CHECK_EQ_INT(evs->items[0].ts, 1763800000000LL);
    CHECK_EQ_STR(evs->items[0].external_id, "CA5f2b1e0e3c4d8a9b7c6d5e4f3a2b1c0d:completed");
    sb_platform_params_free(p);

    /* an outbound callback nobody answered: the callee is the contact */
    p = form_vector("twilio_status_no_answer.form");
    CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), 0);
    CHECK_EQ_INT(evs->items[1].kind, SB_PLATFORM_EV_CALL_ENDED);
    CHECK_EQ_STR(evs->items[1].reason, "no-answer");
    CHECK_EQ_STR(evs->items[1].direction, "outbound-api");
    CHECK_EQ_STR(evs->items[1].contact_id, "+14155550100");
    CHECK_EQ_STR(evs->items[1].business_id, "+18005551212");
    CHECK_EQ_INT(evs->items[1].ts, 1763800205000LL);
    sb_platform_params_free(p);

    /* every ending, a zone offset, an unknown status */
    {
        static const char *const ended[] = { "busy", "failed", "no-answer", "canceled" };

        for (size_t i = 0; i < 4; i++) {
            p = sb_platform_params_new();
            sb_platform_params_add(p, "CallSid", "CA01");
            sb_platform_params_add(p, "CallStatus", ended[i]);
            sb_platform_params_add(p, "From", "+15551234567");
            sb_platform_params_add(p, "Timestamp", "Sat, 22 Nov 2025 09:26:40 +0100");
            CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), 0);
            CHECK_EQ_INT(evs->items[evs->n - 1].kind, SB_PLATFORM_EV_CALL_ENDED);
            CHECK_EQ_STR(evs->items[evs->n - 1].reason, ended[i]);
            CHECK_EQ_INT(evs->items[evs->n - 1].ts, 1763800000000LL);
            sb_platform_params_free(p);
        }
        p = sb_platform_params_new();
        sb_platform_params_add(p, "CallSid", "CA01");
        sb_platform_params_add(p, "CallStatus", "answered-by-robot");
        CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), 0);
        CHECK_EQ_INT(evs->items[evs->n - 1].kind, SB_PLATFORM_EV_IGNORED);
        CHECK_EQ_STR(evs->items[evs->n - 1].reason, "status:answered-by-robot");
        sb_platform_params_free(p);
    }
    sb_platform_events_free(evs);
}

static void voice_bad(const char *const *pairs, const char *want)
{
    sb_platform_params_t *p = sb_platform_params_new();
    sb_platform_events_t *evs = sb_platform_events_new();
    char err[160] = "";

    for (size_t i = 0; pairs[i]; i += 2)
        sb_platform_params_add(p, pairs[i], pairs[i + 1]);
    CHECK_EQ_INT(sb_platform_parse_voice(p, evs, err, sizeof(err)), SB_EINVAL);
    CHECK_EQ_INT(evs->n, 0);
    CHECK_CONTAINS(err, want);
    sb_platform_events_free(evs);
    sb_platform_params_free(p);
}

static void test_voice_malformed(void)
{
    static const char *const a[] = { "CallStatus", "ringing", "From", "+1555", NULL };
    static const char *const b[] = { "CallSid", "CA../../x", "CallStatus", "ringing", "From", "+1555", NULL };
    static const char *const c[] = { "CallSid", "CA01", "From", "+1555", NULL };
    static const char *const d[] = { "CallSid", "CA01", "CallStatus", "Ringing!", "From", "+1", NULL };
    static const char *const e[] = { "CallSid", "CA01", "CallStatus", "ringing", NULL };
    static const char *const f[] = { "CallSid", "CA01", "CallStatus", "no-answer",
                                     "Direction", "outbound-api", "From", "+1", NULL };
    static const char *const g[] = { "CallSid", "CA01", "CallStatus", "completed", "From", "+1",
                                     "CallDuration", "12s", NULL };
    static const char *const h[] = { "CallSid", "CA01", "CallStatus", "completed", "From", "+1",
                                     "CallDuration", "99999999999999999999", NULL };
    static const char *const i[] = { "CallSid", "CA01", "CallStatus", "completed", "From", "+1",
                                     "Timestamp", "yesterday", NULL };
    static const char *const j[] = { "CallSid", "CA01", "CallStatus", "completed", "From", "+1",
                                     "Timestamp", "Sat, 22 Foo 2025 08:26:40 +0000", NULL };
    static const char *const k[] = { "CallSid", "", "CallStatus", "ringing", "From", "+1", NULL };

    voice_bad(a, "CallSid: missing");
    voice_bad(b, "CallSid: must be");
    voice_bad(c, "CallStatus: missing");
    voice_bad(d, "CallStatus: must be");
    voice_bad(e, "From: missing");
    voice_bad(f, "To: missing");
    voice_bad(g, "CallDuration");
    voice_bad(h, "CallDuration");
    voice_bad(i, "Timestamp");
    voice_bad(j, "Timestamp");
    voice_bad(k, "CallSid: must be");
    {
        sb_platform_events_t *evs = sb_platform_events_new();
        char err[160];

        CHECK_EQ_INT(sb_platform_parse_voice(NULL, evs, err, sizeof(err)), SB_EINVAL);
        sb_platform_events_free(evs);
    }
}

static void test_names(void)
{
    CHECK_EQ_STR(sb_platform_event_kind_name(SB_PLATFORM_EV_CALL_ENDED), "call_ended");
    CHECK_EQ_STR(sb_platform_name(SB_PLATFORM_TELEGRAM), "telegram");
    sb_platform_events_free(NULL);
}

int main(void)
{
    RUN(test_whatsapp_text);
    RUN(test_whatsapp_statuses);
    RUN(test_whatsapp_non_text_and_batch);
    RUN(test_whatsapp_ids_are_stable);
    RUN(test_whatsapp_edges);
    RUN(test_whatsapp_malformed);
    RUN(test_messenger_text);
    RUN(test_messenger_events);
    RUN(test_messenger_edges);
    RUN(test_messenger_malformed);
    RUN(test_telegram_guide_update);
    RUN(test_telegram_private_and_groups);
    RUN(test_telegram_ignored);
    RUN(test_telegram_malformed);
    RUN(test_voice_incoming_call);
    RUN(test_voice_status_callbacks);
    RUN(test_voice_malformed);
    RUN(test_names);
    return 0;
}
