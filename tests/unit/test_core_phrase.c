/*
 * test_core_phrase.c - the escalation phrase matcher: case, accents, word
 * boundaries, multi-word phrases, UTF-8 (valid and not).
 */
#include "switchboard/phrase.h"
#include "test.h"

static void check_norm(const char *in, const char *want)
{
    char *got = sb_phrase_normalize(in);
    CHECK_EQ_STR(got, want);
    free(got);
}

static void test_normalize(void)
{
    check_norm("Hello, World!", " hello world ");
    check_norm("", " ");
    check_norm("  ¿Dónde está   el GERENTE?  ", " donde esta el gerente ");
    check_norm("Straße Œuvre Łódź", " strasse oeuvre lodz ");
    check_norm("e\xcc\x81" "cole", " ecole ");                 /* combining acute */
    check_norm("МЕНЕДЖЕР Ёлка", " менеджер ёлка ");              /* Cyrillic case */
    check_norm("ΜΑΝΑΓΕΡ", " μαναγερ ");                          /* Greek case */
    check_norm("manager\xf0\x9f\x98\xa1please", " manager please ");  /* emoji separates */
    check_norm("a\xff" "b\xc3", " a b ");                        /* invalid bytes separate */
    check_norm("\xe2\x80\x8f" "مدير", " مدير ");                  /* RTL mark, Arabic kept */
}

static void test_match(void)
{
    /* case and whole words */
    CHECK(sb_phrase_match("I want to speak to your MANAGER!", "manager"));
    CHECK(!sb_phrase_match("a managerial question", "manager"));
    CHECK(!sb_phrase_match("the supervisors' lounge", "supervisor"));
    CHECK(sb_phrase_match("manager.", "Manager"));
    /* multi-word, across punctuation and spaces, in order only */
    CHECK(sb_phrase_match("Can I speak to a human, please?", "speak to a human"));
    CHECK(sb_phrase_match("speak  to\ta\nhuman", "speak to a human"));
    CHECK(!sb_phrase_match("a human to speak", "speak to a human"));
    CHECK(!sb_phrase_match("speak to a humane person", "speak to a human"));
    /* accents either side */
    CHECK(sb_phrase_match("Quiero HABLAR con un SUPERVISÓR ya", "hablar con un supervisor"));
    CHECK(sb_phrase_match("quiero al gerente", "gérente"));
    CHECK(sb_phrase_match("Je veux parler au RESPONSABLE", "responsable"));
    CHECK(sb_phrase_match("rechtliche Schritte gegen Sie", "rechtliche schritte"));
    /* non-Latin scripts: case-folded, never accent-stripped */
    CHECK(sb_phrase_match("Позовите МЕНЕДЖЕРА", "менеджера"));
    CHECK(!sb_phrase_match("Позовите менеджера", "менеджер"));
    /* empty and punctuation-only phrases never match */
    CHECK(!sb_phrase_match("anything", ""));
    CHECK(!sb_phrase_match("anything", "!!"));
    /* invalid UTF-8 neither crashes nor matches across it */
    CHECK(!sb_phrase_match("mana\xffger", "manager"));
    CHECK(sb_phrase_match("\xc3(manager", "manager"));
}

static void test_find(void)
{
    char *langs[] = { "en", "es" };
    char *en_h[] = { "manager", "speak to a human" };
    char *en_f[] = { "lawyer", "legal action" };
    char *es_h[] = { "hablar con un supervisor", "gerente" };
    sb_cfg_phrase_rule_t rules[3] = {
        { .language = 0, .match = en_h, .nmatch = 2, .kind = SB_ESC_HIERARCHICAL, .to = -1 },
        { .language = 0, .match = en_f, .nmatch = 2, .kind = SB_ESC_FUNCTIONAL, .to = 2 },
        { .language = 1, .match = es_h, .nmatch = 2, .kind = SB_ESC_HIERARCHICAL, .to = -1 },
    };
    sb_config_t cfg = { 0 };
    const char *matched = NULL;

    cfg.languages = langs;
    cfg.nlanguages = 2;
    cfg.phrases = rules;
    cfg.nphrases = 3;
    CHECK_EQ_INT(sb_phrase_find(&cfg, 0, "I will take LEGAL ACTION", &matched), 1);
    CHECK_EQ_STR(matched, "legal action");
    CHECK_EQ_INT(sb_phrase_find(&cfg, 0, "get me your manager", &matched), 0);
    CHECK_EQ_STR(matched, "manager");
    /* rules are per language: the Spanish phrase in an English conversation does nothing */
    CHECK_EQ_INT(sb_phrase_find(&cfg, 0, "quiero hablar con un supervisor", NULL), -1);
    CHECK_EQ_INT(sb_phrase_find(&cfg, 1, "Quiero hablar con un supervisór", &matched), 2);
    CHECK_EQ_INT(sb_phrase_find(&cfg, 1, "gracias", NULL), -1);
}

int main(void)
{
    RUN(test_normalize);
    RUN(test_match);
    RUN(test_find);
    fprintf(stderr, "test_core_phrase: all passed\n");
    return 0;
}
