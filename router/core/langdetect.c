/*
 * langdetect.c - function-word scoring over the configured languages.
 *
 * Each word of the text (lowercased, accents kept) that is one of a
 * language's most common function words scores a point for that language;
 * letters specific to a language score too. The best language wins when it
 * has at least two points and leads the runner-up by at least one; short or
 * ambiguous text ("ok", "hello", a product code) gets no guess, so the
 * default language stays.
 */
#include "switchboard/langdetect.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef struct lang_words {
    const char *tag;
    const char *const *words;   /* NULL-terminated, lowercase UTF-8 */
    const char *const *marks;   /* letters (UTF-8) typical of the language */
} lang_words_t;

static const char *const en_w[] = {
    "the", "and", "is", "are", "you", "i", "my", "to", "of", "it", "this", "that", "with",
    "have", "has", "not", "can", "please", "for", "what", "how", "why", "was", "be", "me",
    "your", "do", "does", "don't", "i'm", "want", "need", "help", "hello", "hi", "thanks", NULL };
static const char *const es_w[] = {
    "el", "la", "los", "las", "de", "que", "y", "es", "en", "un", "una", "mi", "por", "para",
    "con", "no", "se", "lo", "como", "pero", "hola", "gracias", "quiero", "tengo", "necesito",
    "ayuda", "está", "estoy", "puede", "mis", "del", "al", "muy", "qué", "cómo", NULL };
static const char *const de_w[] = {
    "der", "die", "das", "und", "ist", "nicht", "ich", "sie", "mit", "ein", "eine", "zu",
    "auf", "für", "mein", "meine", "hallo", "danke", "bitte", "habe", "kann", "wie", "was",
    "warum", "es", "im", "den", "dem", "von", "möchte", "brauche", "hilfe", NULL };
static const char *const fr_w[] = {
    "le", "la", "les", "et", "est", "je", "vous", "un", "une", "de", "des", "du", "pas", "ne",
    "pour", "avec", "mon", "ma", "mes", "bonjour", "merci", "que", "qui", "ce", "cette", "il",
    "elle", "sur", "dans", "ai", "suis", "veux", "besoin", "aide", "comment", "pourquoi", NULL };
static const char *const pt_w[] = {
    "o", "a", "os", "as", "de", "que", "e", "é", "em", "um", "uma", "meu", "minha", "para",
    "com", "não", "se", "por", "olá", "oi", "obrigado", "obrigada", "quero", "tenho", "preciso",
    "ajuda", "está", "estou", "pode", "do", "da", "no", "na", "como", "você", NULL };
static const char *const it_w[] = {
    "il", "lo", "la", "gli", "le", "e", "è", "di", "che", "un", "una", "per", "con", "non",
    "mio", "mia", "ciao", "grazie", "voglio", "ho", "bisogno", "aiuto", "sono", "come",
    "perché", "questo", "della", "del", NULL };
static const char *const nl_w[] = {
    "de", "het", "een", "en", "is", "niet", "ik", "je", "u", "met", "van", "voor", "op",
    "mijn", "hallo", "dank", "bedankt", "alstublieft", "wil", "heb", "kan", "hoe", "wat",
    "waarom", "dit", "dat", "hulp", NULL };

static const char *const es_m[] = { "ñ", "¿", "¡", NULL };
static const char *const de_m[] = { "ß", "ä", "ö", "ü", NULL };
static const char *const fr_m[] = { "ç", "è", "ê", "à", "ù", "œ", NULL };
static const char *const pt_m[] = { "ã", "õ", "ç", NULL };
static const char *const none_m[] = { NULL };

static const lang_words_t langs[] = {
    { "en", en_w, none_m }, { "es", es_w, es_m }, { "de", de_w, de_m },
    { "fr", fr_w, fr_m }, { "pt", pt_w, pt_m }, { "it", it_w, none_m },
    { "nl", nl_w, none_m },
};
#define NLANGS (sizeof(langs) / sizeof(langs[0]))

static const lang_words_t *known(const char *tag)
{
    size_t n = strcspn(tag, "-_");

    for (size_t i = 0; i < NLANGS; i++)
        if (strlen(langs[i].tag) == n && strncasecmp(langs[i].tag, tag, n) == 0)
            return &langs[i];
    return NULL;
}

static bool in_list(const char *const *list, const char *w, size_t len)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == len && memcmp(list[i], w, len) == 0)
            return true;
    return false;
}

int sb_langdetect(const sb_config_t *cfg, const char *text)
{
    int score[64] = { 0 };
    size_t n = cfg->nlanguages < 64 ? cfg->nlanguages : 64;
    char word[64];
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    int best = -1, second = 0;

    /* words: runs of letters, digits, apostrophes and any non-ASCII byte */
    while (*p) {
        size_t len = 0;
        while (*p && !(isalnum(*p) || *p == '\'' || *p >= 0x80))
            p++;
        while (*p && (isalnum(*p) || *p == '\'' || *p >= 0x80)) {
            if (len < sizeof(word) - 1)
                word[len++] = (char)(*p < 0x80 ? tolower(*p) : *p);
            p++;
        }
        if (!len)
            continue;
        word[len] = '\0';
        for (size_t l = 0; l < n; l++) {
            const lang_words_t *lw = known(cfg->languages[l]);
            if (lw && in_list(lw->words, word, len))
                score[l]++;
        }
    }
    for (size_t l = 0; l < n; l++) {
        const lang_words_t *lw = known(cfg->languages[l]);
        for (size_t m = 0; lw && lw->marks[m]; m++)
            if (strstr(text ? text : "", lw->marks[m]))
                score[l] += 2;
    }
    for (size_t l = 0; l < n; l++) {
        if (best < 0 || score[l] > score[best]) {
            if (best >= 0)
                second = score[best];
            best = (int)l;
        } else if (score[l] > second) {
            second = score[l];
        }
    }
    if (best < 0 || score[best] < 2 || score[best] - second < 1)
        return -1;
    return best;
}
