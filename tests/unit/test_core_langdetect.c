/*
 * test_core_langdetect.c - guessing the language of customers' first words.
 */
#include "switchboard/langdetect.h"
#include "test.h"

static char *all[] = { "en", "es", "de", "fr", "pt" };
static char *two[] = { "en", "de" };

static const char *guess(char **languages, size_t n, const char *text)
{
    sb_config_t cfg;
    int l;

    memset(&cfg, 0, sizeof(cfg));
    cfg.languages = languages;
    cfg.nlanguages = n;
    l = sb_langdetect(&cfg, text);
    return l < 0 ? "?" : languages[l];
}

static void test_detects(void)
{
    CHECK_EQ_STR(guess(all, 5, "Hello, I have a problem with my invoice"), "en");
    CHECK_EQ_STR(guess(all, 5, "Hola, tengo un problema con mi factura"), "es");
    CHECK_EQ_STR(guess(all, 5, "Hallo, ich habe ein Problem mit meiner Rechnung"), "de");
    CHECK_EQ_STR(guess(all, 5, "Bonjour, j'ai un problème avec ma facture"), "fr");
    CHECK_EQ_STR(guess(all, 5, "Olá, preciso de ajuda com a minha fatura, não chegou"), "pt");
    CHECK_EQ_STR(guess(all, 5, "¿Dónde está mi pedido?"), "es");
    CHECK_EQ_STR(guess(all, 5, "Wo ist meine Bestellung? Die Größe passt nicht"), "de");
    /* case and punctuation do not matter */
    CHECK_EQ_STR(guess(all, 5, "THE ORDER IS NOT HERE!!!"), "en");
}

static void test_no_guess(void)
{
    CHECK_EQ_STR(guess(all, 5, ""), "?");
    CHECK_EQ_STR(guess(all, 5, "ok"), "?");
    CHECK_EQ_STR(guess(all, 5, "A-1234-XZ"), "?");
    CHECK_EQ_STR(guess(all, 5, "\xff\xfe invalid bytes"), "?");
    /* only configured languages compete */
    CHECK_EQ_STR(guess(two, 2, "Hola, tengo un problema con mi factura"), "?");
    CHECK_EQ_STR(guess(two, 2, "Ich habe ein Problem"), "de");
}

int main(void)
{
    RUN(test_detects);
    RUN(test_no_guess);
    fprintf(stderr, "test_core_langdetect: all passed\n");
    return 0;
}
