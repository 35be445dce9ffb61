/*
 * test_codec.c - frame parsing, field validation, error codes, and the wire
 * encoding of messages and the context envelope.
 */
#include "switchboard/codec.h"
#include "switchboard/common.h"
#include "test.h"

static json_t *parse(const char *text, const char **type, const char **ref, char *refbuf,
                     const char **code, char *msg)
{
    return sb_codec_parse(text, strlen(text), type, ref, refbuf, code, msg, 200);
}

static void test_parse_ok(void)
{
    const char *type, *ref, *code;
    char refbuf[65], msg[200];
    json_t *o = parse("{\"type\":\"message\",\"ref\":\"m1\",\"text\":\"hi\",\"extra\":1}",
                      &type, &ref, refbuf, &code, msg);

    CHECK(o != NULL);
    CHECK_EQ_STR(type, "message");
    CHECK_EQ_STR(ref, "m1");
    json_decref(o);
    /* no ref is fine */
    o = parse("{\"type\":\"hello\"}", &type, &ref, refbuf, &code, msg);
    CHECK(o != NULL);
    CHECK(ref == NULL);
    json_decref(o);
}

static void test_parse_errors(void)
{
    const char *type, *ref, *code;
    char refbuf[65], msg[200];
    char longref[100];

    CHECK(parse("{not json", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_json");
    CHECK_CONTAINS(msg, "invalid JSON");

    CHECK(parse("", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_json");

    CHECK(parse("[1,2]", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");
    CHECK_CONTAINS(msg, "object");
    CHECK(parse("\"text\"", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");
    CHECK(parse("null", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");

    CHECK(parse("{\"text\":\"x\"}", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");
    CHECK_CONTAINS(msg, "'type'");

    CHECK(parse("{\"type\":5,\"ref\":\"r9\"}", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");
    CHECK_EQ_STR(ref, "r9");          /* the error can still echo the ref */

    CHECK(parse("{\"type\":\"x\",\"ref\":7}", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_request");
    CHECK_CONTAINS(msg, "'ref'");

    memset(longref, 'a', 65);
    longref[65] = '\0';
    {
        char frame[200];
        snprintf(frame, sizeof(frame), "{\"type\":\"x\",\"ref\":\"%s\"}", longref);
        CHECK(parse(frame, &type, &ref, refbuf, &code, msg) == NULL);
        CHECK_CONTAINS(msg, "1 to 64");
    }
    /* duplicate keys are refused rather than silently picking one */
    CHECK(parse("{\"type\":\"a\",\"type\":\"b\"}", &type, &ref, refbuf, &code, msg) == NULL);
    CHECK_EQ_STR(code, "bad_json");
}

static void test_fields(void)
{
    json_t *o = json_loads("{\"text\":5,\"name\":\"Ann\",\"empty\":\"\",\"on\":\"yes\","
                           "\"n\":1.5,\"attrs\":{\"a\":1,\"b\":[1]},\"flat\":{\"x\":true}}",
                           0, NULL);
    const char *s = NULL;
    bool b;
    int64_t n;
    json_t *attrs = NULL;
    char msg[200];

    CHECK_EQ_INT(sb_codec_str(o, "text", true, &s, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "'text'");
    CHECK_EQ_INT(sb_codec_str(o, "name", true, &s, msg, sizeof(msg)), 0);
    CHECK_EQ_STR(s, "Ann");
    CHECK_EQ_INT(sb_codec_str(o, "missing", true, &s, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "required");
    s = NULL;
    CHECK_EQ_INT(sb_codec_str(o, "missing", false, &s, msg, sizeof(msg)), 0);
    CHECK(s == NULL);
    CHECK_EQ_INT(sb_codec_str(o, "empty", true, &s, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "empty");
    CHECK_EQ_INT(sb_codec_bool(o, "on", &b, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "boolean");
    CHECK_EQ_INT(sb_codec_int(o, "n", true, &n, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "integer");
    CHECK_EQ_INT(sb_codec_flat_object(o, "attrs", &attrs, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "attrs.b");
    CHECK_EQ_INT(sb_codec_flat_object(o, "flat", &attrs, msg, sizeof(msg)), 0);
    CHECK(json_is_object(attrs));
    CHECK_EQ_INT(sb_codec_flat_object(o, "name", &attrs, msg, sizeof(msg)), SB_EINVAL);
    json_decref(o);
}

static void test_error_codes(void)
{
    CHECK_EQ_STR(sb_error_code(SB_EINVAL), "bad_request");
    CHECK_EQ_STR(sb_error_code(SB_ENOTFOUND), "not_found");
    CHECK_EQ_STR(sb_error_code(SB_EFORBIDDEN), "forbidden");
    CHECK_EQ_STR(sb_error_code(SB_ECONFLICT), "conflict");
    CHECK_EQ_STR(sb_error_code(SB_EAUTH), "unauthorized");
    CHECK_EQ_STR(sb_error_code(SB_ETOOLARGE), "too_large");
    CHECK_EQ_STR(sb_error_code(SB_ELIMIT), "rate_limited");
    CHECK_EQ_STR(sb_error_code(SB_EUNAVAIL), "unavailable");
    CHECK_EQ_STR(sb_error_code(SB_EIO), "unavailable");
    CHECK_EQ_STR(sb_error_code(SB_ENOMEM), "unavailable");
}

/* A tiny configuration and conversation built by hand. */
static void test_context(void)
{
    char *skills[] = { "billing", "technical" };
    char *languages[] = { "en", "es" };
    sb_cfg_pool_t pools[2] = { { .id = "frontline" }, { .id = "experts" } };
    sb_config_t cfg = { 0 };
    sb_conv_t conv;
    sb_skill_req_t req[1] = { { .skill = 0, .level = 5 } };
    sb_message_t msgs[3] = {
        { .seq = 1, .from = SB_FROM_CUSTOMER, .name = "Ann", .text = "hola", .ts = 10 },
        { .seq = 2, .from = SB_FROM_AGENT, .name = "Bo", .agent_id = "bo", .text = "hi", .ts = 11 },
        { .seq = 3, .from = SB_FROM_SYSTEM, .text = "x\xc3\xa9", .ts = 12 },
    };
    sb_note_t notes[1] = { { .agent_id = "bo", .text = "vip", .ts = 11 } };
    sb_event_t hist[2] = {
        { .kind = SB_EV_CREATED, .ts = 9, .pool = 0, .from_pool = -1 },
        { .kind = SB_EV_TRANSFERRED, .ts = 12, .pool = 1, .from_pool = 0, .agent_id = "bo",
          .esc_kind = "functional", .note = "needs expert" },
    };
    json_t *ctx, *t;

    cfg.skills = skills;
    cfg.nskills = 2;
    cfg.languages = languages;
    cfg.nlanguages = 2;
    cfg.pools = pools;
    cfg.npools = 2;
    cfg.transcript_limit = 2;

    memset(&conv, 0, sizeof(conv));
    strcpy(conv.id, "c1");
    strcpy(conv.channel, "webchat");
    conv.state = SB_CONV_QUEUED;
    conv.customer_name = "Ann";
    conv.language = 1;
    conv.topic = -1;
    conv.pool = 1;
    conv.skills = req;
    conv.nskills = 1;
    conv.relaxed = 2;
    conv.msgs = msgs;
    conv.nmsgs = 3;
    conv.last_seq = 3;
    conv.notes = notes;
    conv.nnotes = 1;
    conv.history = hist;
    conv.nhistory = 2;

    ctx = sb_codec_context(&cfg, &conv, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "id")), "c1");
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "state")), "queued");
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "language")), "es");
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "pool")), "experts");
    CHECK(json_is_null(json_object_get(ctx, "topic")));
    /* skills as currently required: 5 relaxed by 2 */
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(ctx, "skills"), "billing")), 3);
    /* bounded transcript: the last 2 of 3, with the count */
    t = json_object_get(ctx, "transcript");
    CHECK_EQ_INT(json_array_size(t), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(t, 0), "seq")), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(t, 0), "from")), "agent");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(t, 1), "text")), "x\xc3\xa9");
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx, "transcript_total")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx, "transcript_first_seq")), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(
        json_array_get(json_object_get(ctx, "notes"), 0), "text")), "vip");
    t = json_array_get(json_object_get(ctx, "history"), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(t, "event")), "transferred");
    CHECK_EQ_STR(json_string_value(json_object_get(t, "from_pool")), "frontline");
    CHECK_EQ_STR(json_string_value(json_object_get(t, "pool")), "experts");
    CHECK_EQ_STR(json_string_value(json_object_get(t, "kind")), "functional");
    CHECK_EQ_STR(json_string_value(json_object_get(t, "note")), "needs expert");
    json_decref(ctx);
    /* the admin API asks for everything */
    ctx = sb_codec_context(&cfg, &conv, SIZE_MAX);
    CHECK_EQ_INT(json_array_size(json_object_get(ctx, "transcript")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx, "transcript_first_seq")), 1);
    json_decref(ctx);

    /* a message on the wire */
    ctx = sb_codec_message(&conv, &msgs[1]);
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "type")), "message");
    CHECK_EQ_STR(json_string_value(json_object_get(ctx, "conversation_id")), "c1");
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx, "seq")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(ctx, "ts")), 11);
    json_decref(ctx);
}

static void test_skills(void)
{
    char *skills[] = { "billing", "technical" };
    sb_config_t cfg = { 0 };
    sb_skill_req_t *reqs;
    size_t n;
    bool present;
    char msg[200];
    json_t *o;

    cfg.skills = skills;
    cfg.nskills = 2;
    o = json_loads("{\"a\":{\"technical\":4},\"b\":{\"cooking\":1},\"c\":{\"billing\":11},"
                   "\"d\":[1]}", 0, NULL);
    CHECK_EQ_INT(sb_codec_skills(&cfg, o, "a", &reqs, &n, &present, msg, sizeof(msg)), 0);
    CHECK(present);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(reqs[0].skill, 1);
    CHECK_EQ_INT(reqs[0].level, 4);
    free(reqs);
    CHECK_EQ_INT(sb_codec_skills(&cfg, o, "b", &reqs, &n, &present, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "no such skill");
    CHECK_EQ_INT(sb_codec_skills(&cfg, o, "c", &reqs, &n, &present, msg, sizeof(msg)), SB_EINVAL);
    CHECK_CONTAINS(msg, "0 to 10");
    CHECK_EQ_INT(sb_codec_skills(&cfg, o, "d", &reqs, &n, &present, msg, sizeof(msg)), SB_EINVAL);
    CHECK_EQ_INT(sb_codec_skills(&cfg, o, "zz", &reqs, &n, &present, msg, sizeof(msg)), 0);
    CHECK(!present);
    json_decref(o);
}

/* A random valid UTF-8 text, heavy on what needs escaping. */
static void random_text(char *buf, size_t cap, unsigned *seed)
{
    static const char *const pieces[] = {
        "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f", "/", "\x7f",
        "a", "Z", " ", "{}", "\u00e9", "\u20ac", "\U0001F600", "\u2028", "x\\\"y",
    };
    size_t n = 0, count = (size_t)(rand_r(seed) % 40);

    for (size_t i = 0; i < count; i++) {
        const char *p = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t len = strlen(p);
        if (n + len + 1 > cap)
            break;
        memcpy(buf + n, p, len);
        n += len;
    }
    buf[n] = '\0';
}

/* The hot frames written straight to text say exactly what jansson says. */
static void test_message_text(void)
{
    sb_conv_t conv;
    sb_message_t m;
    sb_text_t t = { 0 };
    char text[400], name[100];
    unsigned seed = 7;

    memset(&conv, 0, sizeof(conv));
    snprintf(conv.id, sizeof(conv.id), "c_0123456789abcdef");
    for (int i = 0; i < 3000; i++) {
        json_t *o;
        char *want;

        random_text(text, sizeof(text), &seed);
        random_text(name, sizeof(name), &seed);
        memset(&m, 0, sizeof(m));
        m.seq = (uint64_t)rand_r(&seed) * 1000u;
        m.from = (sb_from_t)(i % 4);
        m.name = i % 5 == 0 ? NULL : name;
        m.agent_id = i % 3 == 0 ? NULL : "agent-\"7\"";
        m.text = i % 97 == 0 ? NULL : text;
        m.ts = (sb_ms_t)rand_r(&seed) * 1000;
        o = sb_codec_message(&conv, &m);
        want = json_dumps(o, JSON_COMPACT);
        sb_text_reset(&t);
        sb_codec_message_text(&t, &conv, &m);
        CHECK_EQ_STR(t.buf, want);
        CHECK_EQ_INT(t.len, strlen(want));
        free(want);
        json_decref(o);
    }
    sb_text_reset(&t);
    sb_text_int(&t, INT64_MIN);
    sb_text_raw(&t, " ", 1);
    sb_text_int(&t, 0);
    sb_text_raw(&t, " ", 1);
    sb_text_int(&t, INT64_MAX);
    sb_text_raw(&t, " ", 1);
    sb_text_jstr(&t, NULL);
    CHECK_EQ_STR(t.buf, "-9223372036854775808 0 9223372036854775807 null");
    sb_text_free(&t);
}

/* What sb_codec_scan takes, sb_codec_parse reads the same: every field, the
 * same value. Returns whether the scan took it. */
static bool scan_agrees(const char *frame, size_t len)
{
    char buf[600];
    sb_flat_t flat;
    json_error_t jerr;
    json_t *o;

    CHECK(len < sizeof(buf));
    memcpy(buf, frame, len);
    if (sb_codec_scan(buf, len, &flat) != 0)
        return false;
    o = json_loadb(frame, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!o || !json_is_object(o)) {
        fprintf(stderr, "scan took what jansson refuses: %.*s\n", (int)len, frame);
        CHECK(0);
    }
    CHECK_EQ_INT(json_object_size(o), flat.n);
    for (size_t i = 0; i < flat.n; i++) {
        json_t *v = json_object_get(o, flat.f[i].key);
        CHECK(v != NULL);
        if (flat.f[i].str) {
            CHECK(json_is_string(v));
            CHECK_EQ_INT(json_string_length(v), flat.f[i].len);
            CHECK(memcmp(json_string_value(v), flat.f[i].str, flat.f[i].len) == 0);
        } else {
            CHECK(json_is_boolean(v));
            CHECK_EQ_INT(json_is_true(v), flat.f[i].boolean);
        }
    }
    json_decref(o);
    return true;
}

/* The fast path for the hot request: takes the usual frames, leaves
 * everything else (escapes, numbers, nesting, bad UTF-8, duplicates, junk) to
 * sb_codec_parse, and never takes what jansson would read differently: a
 * sweep of 200,000 mutations of real frames. */
static void test_scan(void)
{
    static const char *const takes[] = {
        "{\"type\":\"message\",\"text\":\"hola\",\"ref\":\"r1\"}",
        " { \"type\" : \"message\" ,\n\t\"conversation_id\":\"c_1\", \"text\":\"\u00f1 \u20ac "
        "\U0001F600\", \"fallback\":true }\r\n",
        "{\"type\":\"message\",\"text\":\"\",\"fallback\":false}",
    };
    static const char *const leaves[] = {
        "{\"type\":\"message\",\"text\":\"a\\nb\"}",              /* an escape */
        "{\"type\":\"message\",\"n\":1}",                          /* a number */
        "{\"type\":\"message\",\"a\":{}}",                         /* nesting */
        "{\"type\":\"message\",\"a\":null}",
        "{\"type\":\"message\",\"type\":\"note\"}",                /* a key twice */
        "{\"type\":\"message\",\"text\":\"\xc3\x28\"}",              /* bad UTF-8 */
        "{\"type\":\"message\",\"text\":\"\xed\xa0\x80\"}",          /* a surrogate */
        "{\"type\":\"message\",\"text\":\"\xe0\x80\xaf\"}",          /* overlong */
        "{\"type\":\"message\",\"text\":\"\xf4\x90\x80\x80\"}",      /* above U+10FFFF */
        "{\"type\":\"message\",\"text\":\"a\tb\"}",                /* a raw control */
        "{\"type\":\"message\"} x", "{\"type\":\"message\",}", "{}", "[]", "",
        "{\"type\":\"message\"", "{\"type\" \"message\"}", "{\"a\":tru}",
        "{\"1\":\"\",\"2\":\"\",\"3\":\"\",\"4\":\"\",\"5\":\"\",\"6\":\"\",\"7\":\"\",\"8\":\"\",\"9\":\"\"}",
    };
    static const char alphabet[] = "{}[]\":,\\ \t\nabtrufelsn0-\x01\x7f\xc3\xa9\xe2\x82\xac\xed\xf0";
    unsigned seed = 11;
    size_t took = 0;

    for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++)
        CHECK(scan_agrees(takes[i], strlen(takes[i])));
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
        CHECK(!scan_agrees(leaves[i], strlen(leaves[i])));
    for (int k = 0; k < 200000; k++) {
        char buf[400];
        const char *base = takes[k % 3];
        size_t len = strlen(base), edits = 1 + (size_t)(rand_r(&seed) % 3);
        memcpy(buf, base, len);
        for (size_t e = 0; e < edits && len > 0; e++) {
            size_t at = (size_t)rand_r(&seed) % len;
            char c = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
            switch (rand_r(&seed) % 3) {
            case 0: buf[at] = c; break;                                  /* replace */
            case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
            default:
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
            }
        }
        took += scan_agrees(buf, len);
    }
    CHECK(took > 1000);          /* the sweep also reached frames the scan takes */
}

int main(void)
{
    RUN(test_parse_ok);
    RUN(test_parse_errors);
    RUN(test_fields);
    RUN(test_error_codes);
    RUN(test_context);
    RUN(test_skills);
    RUN(test_message_text);
    RUN(test_scan);
    fprintf(stderr, "test_codec: all passed\n");
    return 0;
}
