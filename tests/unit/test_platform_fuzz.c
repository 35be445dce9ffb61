/*
 * test_platform_fuzz.c - every prefix of every fixture, and every fixture
 * with each byte replaced by a few troublesome ones, through every parser.
 * Deterministic. Each parse must end in 0 or SB_EINVAL; a failed parse must
 * leave the list as it was; the sanitizer build checks memory.
 */
#include "switchboard/platform.h"
#include "test.h"

typedef int (*parser_t)(const char *, size_t, sb_platform_events_t *, char *, size_t);

static const char *const json_vectors[] = {
    "whatsapp_text.json", "whatsapp_statuses.json", "whatsapp_image.json", "whatsapp_batch.json",
    "messenger_text.json", "messenger_events.json", "telegram_webhook_guide.json",
    "telegram_private.json", "telegram_supergroup.json", "telegram_photo.json",
    "telegram_edited.json", "telegram_callback_query.json", "whatsapp_send_ok.json",
    "graph_error_throughput.json", "telegram_error_429.json", NULL,
};

static const char *const form_vectors[] = {
    "twilio_incoming_call.form", "twilio_status_completed.form", "twilio_status_no_answer.form",
    NULL,
};

static const parser_t parsers[] = {
    sb_platform_parse_whatsapp, sb_platform_parse_messenger, sb_platform_parse_telegram,
};

static size_t parses, failures;

/* One body through every JSON parser, the form parser (+ voice), and the
 * response reader. evs holds one event that failed parses must not touch. */
static void all(const char *body, size_t len, sb_platform_events_t *evs)
{
    char err[256];
    sb_platform_params_t *form = NULL;

    for (size_t p = 0; p < sizeof(parsers) / sizeof(parsers[0]); p++) {
        sb_platform_events_t *fresh = sb_platform_events_new();
        int rc = parsers[p](body, len, fresh, err, sizeof(err));

        CHECK(rc == 0 || rc == SB_EINVAL);
        if (rc != 0) {
            size_t before = evs->n;

            CHECK_EQ_INT(fresh->n, 0);
            CHECK(err[0] != '\0');
            /* again onto a list that holds an event: it must come back as it was */
            CHECK_EQ_INT(parsers[p](body, len, evs, err, sizeof(err)), rc);
            CHECK_EQ_INT(evs->n, before);
            failures++;
        }
        parses++;
        sb_platform_events_free(fresh);
    }
    if (sb_platform_form_parse(body, len, &form, err, sizeof(err)) == 0) {
        sb_platform_events_t *v = sb_platform_events_new();
        int rc = sb_platform_parse_voice(form, v, err, sizeof(err));

        CHECK(rc == 0 || rc == SB_EINVAL);
        CHECK(rc == 0 ? v->n == 1 : v->n == 0);
        sb_platform_events_free(v);
        sb_platform_params_free(form);
    }
    for (sb_platform_t p = SB_PLATFORM_WHATSAPP; p <= SB_PLATFORM_VOICE; p++) {
        char *id = NULL;
        int after = -1;
        /* 200 for Meta and Twilio answers, 400 for Telegram's error bodies */
        sb_platform_outcome_t o = sb_platform_read_response(p, p == SB_PLATFORM_TELEGRAM ? 400 : 200,
                                                            body, len, &id, &after, err, sizeof(err));

        CHECK(o == SB_PLATFORM_SENT || o == SB_PLATFORM_FAILED || o == SB_PLATFORM_RETRY);
        CHECK(after >= 0);
        CHECK(o == SB_PLATFORM_SENT || id == NULL);
        free(id);
    }
}

static void sweep(const char *name, sb_platform_events_t *evs)
{
    static const unsigned char swaps[] = { 0x00, '"', '}', 0xFF };
    size_t len;
    char *body = test_vector(name, &len), *copy = malloc(len + 1);

    /* every prefix (a copy of exactly that size, so reading past it is caught) */
    for (size_t n = 0; n <= len; n++) {
        char *prefix = malloc(n ? n : 1);

        memcpy(prefix, body, n);
        all(prefix, n, evs);
        free(prefix);
    }
    /* each byte replaced */
    for (size_t i = 0; i < len; i++) {
        for (size_t s = 0; s < sizeof(swaps); s++) {
            memcpy(copy, body, len);
            copy[i] = (char)swaps[s];
            all(copy, len, evs);
        }
    }
    free(copy);
    free(body);
}

static void test_sweep(void)
{
    sb_platform_events_t *evs = sb_platform_events_new();
    size_t len;
    char *seed = test_vector("telegram_webhook_guide.json", &len), err[256];

    /* a sentinel event that must survive every failed parse */
    CHECK_EQ_INT(sb_platform_parse_telegram(seed, len, evs, err, sizeof(err)), 0);
    free(seed);
    for (int i = 0; json_vectors[i]; i++)
        sweep(json_vectors[i], evs);
    for (int i = 0; form_vectors[i]; i++)
        sweep(form_vectors[i], evs);
    CHECK_EQ_INT(evs->n, 1);
    CHECK_EQ_STR(evs->items[0].text, "/start");
    fprintf(stderr, "   %zu parses, %zu refused\n", parses, failures);
    CHECK(failures > 0 && failures < parses);
    sb_platform_events_free(evs);
}

int main(void)
{
    RUN(test_sweep);
    return 0;
}
