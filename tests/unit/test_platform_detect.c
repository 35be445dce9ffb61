/*
 * test_platform_detect.c - the language guess for a customer's first message
 * (sb_platform_detect_language): only configured languages, at least two
 * common words, no answer on a tie, UTF-8 words, case, punctuation.
 */
#include "switchboard/platform.h"
#include "test.h"

static char *langs_all[] = { "en", "es", "pt-BR", "de", "fr" };
static char *langs_en_es[] = { "en", "es" };

static sb_config_t config(char **langs, size_t n)
{
    sb_config_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.languages = langs;
    cfg.nlanguages = n;
    cfg.default_language = 0;
    return cfg;
}

#define GUESS(cfg, text) sb_platform_detect_language(&(cfg), (text))

static void test_detects_configured_languages(void)
{
    sb_config_t cfg = config(langs_all, 5);

    CHECK_EQ_STR(GUESS(cfg, "Hola, necesito ayuda con mi pedido por favor"), "es");
    CHECK_EQ_STR(GUESS(cfg, "Hello, I need help with my order please"), "en");
    CHECK_EQ_STR(GUESS(cfg, "Guten Tag, ich habe eine Frage zu meiner Bestellung"), "de");
    CHECK_EQ_STR(GUESS(cfg, "Bonjour, je voudrais des nouvelles de ma commande"), "fr");
    /* "pt" words give the configured tag "pt-BR" (primary subtag match). */
    CHECK_EQ_STR(GUESS(cfg, "Olá, não recebi o meu pedido, você pode me ajudar?"), "pt-BR");
    /* Case and punctuation do not matter; accented words are whole words. */
    CHECK_EQ_STR(GUESS(cfg, "¡¡HOLA!! ¿CÓMO ESTÁ USTED?"), "es");
}

static void test_no_answer_when_unsure(void)
{
    sb_config_t cfg = config(langs_all, 5);
    sb_config_t two = config(langs_en_es, 2);

    CHECK(GUESS(cfg, NULL) == NULL);
    CHECK(GUESS(cfg, "") == NULL);
    CHECK(GUESS(cfg, "ok") == NULL);                  /* no known word */
    CHECK(GUESS(cfg, "hola") == NULL);                /* one word is not enough */
    CHECK(GUESS(cfg, "12345 !!! ???") == NULL);
    CHECK(GUESS(cfg, "de que") == NULL);              /* es and pt tie */
    /* German text with only en and es configured: no answer, not a wrong one. */
    CHECK(GUESS(two, "Guten Tag, ich habe eine Bestellung") == NULL);
    CHECK(sb_platform_detect_language(NULL, "hello and thanks") == NULL);
}

static void test_long_and_odd_input(void)
{
    sb_config_t cfg = config(langs_all, 5);
    char big[20000];
    const char bad_utf8[] = "the \xff\xfe order \xc3 and";

    for (size_t i = 0; i + 1 < sizeof(big); i++)
        big[i] = "the and x "[i % 10];
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_STR(GUESS(cfg, big), "en");              /* bounded: first 200 words */
    memset(big, 'a', sizeof(big) - 1);                /* one huge word */
    CHECK(GUESS(cfg, big) == NULL);
    CHECK_EQ_STR(GUESS(cfg, bad_utf8), "en");         /* stray bytes are not words it knows */
}

int main(void)
{
    RUN(test_detects_configured_languages);
    RUN(test_no_answer_when_unsure);
    RUN(test_long_and_odd_input);
    fprintf(stderr, "test_platform_detect: ok\n");
    return 0;
}
