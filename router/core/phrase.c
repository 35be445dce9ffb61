/*
 * phrase.c - whole-word, case- and accent-insensitive phrase matching.
 *
 * Both the message and the phrase are brought to one matching form (see
 * phrase.h), then the phrase's form is looked for in the message's: the
 * spaces around each word make the match whole-word.
 */
#include "switchboard/phrase.h"

#include <stdlib.h>
#include <string.h>

/* Base letters of U+0100..U+017F (Latin Extended-A), two per upper/lower pair. */
static const char *const latin_ext_a[128] = {
    "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

/* Base letters of U+00C0..U+00FF (Latin-1 Supplement letters); NULL: separator. */
static const char *const latin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
};

/* Decodes one UTF-8 code point at s (n bytes left); *len gets its length.
 * Returns -1 (with *len 1) for a byte that does not start a valid sequence. */
static long decode(const unsigned char *s, size_t n, size_t *len)
{
    long cp;
    size_t need, i;

    *len = 1;
    if (s[0] < 0x80)
        return s[0];
    if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1f;
        need = 1;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0f;
        need = 2;
    } else if ((s[0] & 0xf8) == 0xf0) {
        cp = s[0] & 0x07;
        need = 3;
    } else {
        return -1;
    }
    if (n < need + 1)
        return -1;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    *len = need + 1;
    return cp;
}

static size_t encode(long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Marks and selectors that attach to the letter before them: dropped. */
static bool is_mark(long cp)
{
    return (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
           cp == 0x200d || (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x1dc0 && cp <= 0x1dff);
}

/* Punctuation, spaces, symbols and emoji: word separators. */
static bool is_separator(long cp)
{
    if (cp < 0x80)
        return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
                 (cp >= '0' && cp <= '9'));
    return (cp >= 0x80 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
           (cp >= 0x2000 && cp <= 0x2bff) ||      /* punctuation, arrows, math, symbols */
           (cp >= 0x3000 && cp <= 0x303f) ||      /* CJK punctuation */
           (cp >= 0xfe10 && cp <= 0xfe6f) ||      /* vertical and small forms */
           (cp >= 0xff00 && cp <= 0xff0f) || (cp >= 0xff1a && cp <= 0xff20) ||
           (cp >= 0x1f000 && cp <= 0x1faff) ||    /* emoji and pictographs */
           cp == 0x055d || cp == 0x060c || cp == 0x061f || cp == 0x06d4;
}

/* Lowercase for the scripts with simple case pairs we fold. */
static long fold(long cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2)     /* Greek */
        return cp + 32;
    if (cp == 0x3c2)                                    /* final sigma */
        return 0x3c3;
    if (cp >= 0x410 && cp <= 0x42f)                     /* Cyrillic */
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 80;
    return cp;
}

char *sb_phrase_normalize(const char *text)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s), o = 0;
    char *out = sb_malloc(2 * n + 3);    /* each byte yields at most 2 (ß -> ss) */
    bool in_word = false;

    out[o++] = ' ';
    while (n > 0) {
        size_t len;
        long cp = decode(s, n, &len);
        const char *base = NULL;

        s += len;
        n -= len;
        if (cp >= 0 && is_mark(cp))
            continue;
        if (cp < 0 || is_separator(cp)) {
            if (in_word)
                out[o++] = ' ';
            in_word = false;
            continue;
        }
        if (cp >= 0xc0 && cp <= 0xff)
            base = latin1[cp - 0xc0];
        else if (cp >= 0x100 && cp <= 0x17f)
            base = latin_ext_a[cp - 0x100];
        if (base) {
            size_t bl = strlen(base);
            memcpy(out + o, base, bl);
            o += bl;
        } else {
            o += encode(fold(cp), out + o);
        }
        in_word = true;
    }
    if (in_word)
        out[o++] = ' ';
    out[o] = '\0';
    return out;
}

bool sb_phrase_match(const char *text, const char *phrase)
{
    char *t = sb_phrase_normalize(text), *p = sb_phrase_normalize(phrase);
    bool hit = strlen(p) > 1 && strstr(t, p) != NULL;

    free(t);
    free(p);
    return hit;
}

int sb_phrase_find(const sb_config_t *cfg, int language, const char *text,
                   const char **matched)
{
    char *t = NULL;
    int found = -1;

    for (size_t r = 0; r < cfg->nphrases && found < 0; r++) {
        const sb_cfg_phrase_rule_t *rule = &cfg->phrases[r];
        if (rule->language != language)
            continue;
        if (!t)
            t = sb_phrase_normalize(text);
        for (size_t i = 0; i < rule->nmatch && found < 0; i++) {
            char *p = sb_phrase_normalize(rule->match[i]);
            if (strlen(p) > 1 && strstr(t, p)) {
                found = (int)r;
                if (matched)
                    *matched = rule->match[i];
            }
            free(p);
        }
    }
    free(t);
    return found;
}
