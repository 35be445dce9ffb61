/*
 * detect.c - a small language guess for a customer's first message when the
 * platform declares no language (routing.detect_language).
 *
 * Counts the words of the text that are among the most frequent function
 * words of each language (articles, pronouns, prepositions, greetings) and
 * picks the configured language with the most, if it has at least two and
 * no other has as many. Short or ambiguous texts give no answer and the
 * conversation takes the default language: a wrong guess routes worse than
 * none. Words are compared after ASCII lowercasing; accented words are in
 * the lists as UTF-8.
 */
#include "switchboard/platform.h"

#include <string.h>

typedef struct lang_words {
    const char *tag;
    const char *const *words;
} lang_words_t;

static const char *const en[] = {
    "the", "and", "is", "are", "i", "you", "my", "to", "of", "it", "in", "for", "with",
    "this", "that", "have", "has", "was", "not", "can", "hello", "hi", "please", "thanks",
    "what", "how", "why", "do", "does", "order", "help", "would", "could", "your", "me",
    NULL
};
static const char *const es[] = {
    "el", "la", "los", "las", "de", "que", "y", "en", "un", "una", "es", "por", "con",
    "para", "mi", "no", "hola", "gracias", "pero", "como", "cómo", "qué", "está", "estoy",
    "tengo", "quiero", "mi", "su", "del", "al", "necesito", "ayuda", "pedido", "buenos",
    "usted", "yo", NULL
};
static const char *const pt[] = {
    "o", "a", "os", "as", "de", "que", "e", "em", "um", "uma", "é", "não", "para", "com",
    "meu", "minha", "olá", "oi", "obrigado", "obrigada", "você", "está", "estou", "tenho",
    "quero", "do", "da", "no", "na", "pedido", "ajuda", "preciso", "bom", "dia", "eu",
    NULL
};
static const char *const de[] = {
    "der", "die", "das", "und", "ist", "ich", "nicht", "sie", "es", "ein", "eine", "zu",
    "mit", "mein", "meine", "hallo", "danke", "bitte", "wie", "was", "habe", "haben",
    "bestellung", "hilfe", "auf", "für", "von", "den", "dem", "guten", "tag", "kann",
    NULL
};
static const char *const fr[] = {
    "le", "la", "les", "de", "des", "et", "est", "je", "vous", "un", "une", "pour", "avec",
    "pas", "mon", "ma", "mes", "bonjour", "merci", "que", "qui", "ne", "du", "au", "commande",
    "aide", "suis", "ai", "avez", "comment", "il", "elle", NULL
};
static const char *const it[] = {
    "il", "lo", "la", "gli", "le", "di", "che", "e", "è", "un", "una", "per", "con", "non",
    "mio", "mia", "ciao", "grazie", "sono", "ho", "come", "cosa", "ordine", "aiuto", "del",
    "della", "buongiorno", "vorrei", NULL
};
static const char *const nl[] = {
    "de", "het", "een", "en", "is", "ik", "niet", "je", "u", "van", "op", "met", "voor",
    "mijn", "hallo", "dank", "bedankt", "alstublieft", "wat", "hoe", "heb", "bestelling",
    "hulp", "graag", "dat", "er", NULL
};

static const lang_words_t lists[] = {
    { "en", en }, { "es", es }, { "pt", pt }, { "de", de }, { "fr", fr }, { "it", it },
    { "nl", nl },
};

static bool in_words(const char *const *words, const char *w)
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(words[i], w) == 0)
            return true;
    return false;
}

/* The length of the UTF-8 punctuation or space at p (inverted marks,
 * guillemets, no-break space, U+2000-U+206F), or 0. */
static size_t utf8_separator(const unsigned char *p)
{
    if (p[0] == 0xc2 && (p[1] == 0xa0 || p[1] == 0xa1 || p[1] == 0xab || p[1] == 0xbb ||
                         p[1] == 0xbf))
        return 2;
    if (p[0] == 0xe2 && (p[1] == 0x80 || p[1] == 0x81) && p[2] >= 0x80 && p[2] <= 0xbf)
        return 3;
    return 0;
}

/* A byte that belongs to a word: ASCII letters and non-ASCII bytes that are
 * not one of the separators above. */
static bool word_byte(const unsigned char *p)
{
    return (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= 0x80 && !utf8_separator(p));
}

/* The configured language for a two-letter tag: that tag, else the first
 * configured one with it as primary subtag ("pt" -> "pt-BR"); -1 for none. */
static int configured(const sb_config_t *cfg, const char *tag)
{
    int exact = sb_config_language(cfg, tag);

    if (exact >= 0)
        return exact;
    for (size_t i = 0; i < cfg->nlanguages; i++) {
        const char *l = cfg->languages[i];
        if (strlen(l) > 2 && (l[2] == '-' || l[2] == '_') &&
            (l[0] | 0x20) == tag[0] && (l[1] | 0x20) == tag[1])
            return (int)i;
    }
    return -1;
}

const char *sb_platform_detect_language(const sb_config_t *cfg, const char *text)
{
    int score[sizeof(lists) / sizeof(lists[0])] = { 0 };
    int lang_of[sizeof(lists) / sizeof(lists[0])];
    const unsigned char *p = (const unsigned char *)text;
    char word[32];
    int best = -1, best_score = 0, words = 0;
    bool tie = false;

    if (!cfg || !text)
        return NULL;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        lang_of[i] = configured(cfg, lists[i].tag);
    while (*p && words < 200) {
        size_t n = 0;
        while (*p && !word_byte(p))
            p += utf8_separator(p) ? utf8_separator(p) : 1;
        while (*p && word_byte(p)) {
            unsigned char c = *p;
            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            else if (n > 0 && (unsigned char)word[n - 1] == 0xc3 && c >= 0x80 && c <= 0x9e &&
                     c != 0x97)
                c = (unsigned char)(c + 0x20);      /* Latin-1 capitals: Á -> á */
            if (n + 1 < sizeof(word))
                word[n++] = (char)c;
            p++;
        }
        if (!n)
            break;
        word[n] = '\0';
        words++;
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
            if (lang_of[i] >= 0 && in_words(lists[i].words, word))
                score[i]++;
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (score[i] > best_score) {
            best = (int)i;
            best_score = score[i];
            tie = false;
        } else if (score[i] == best_score && score[i] > 0) {
            tie = true;
        }
    }
    if (best < 0 || best_score < 2 || tie)
        return NULL;
    return cfg->languages[lang_of[best]];
}
