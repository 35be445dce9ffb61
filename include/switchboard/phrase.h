/*
 * phrase.h - escalation phrases in customer messages (escalation.phrases).
 *
 * A phrase matches when its words appear in the message as whole words, in
 * order and next to each other, ignoring case (ASCII, Latin, Greek,
 * Cyrillic), accents on Latin letters (precomposed or combining), and
 * punctuation, symbols and emoji between words. Pure and UTF-8 safe: bytes
 * that are not valid UTF-8 separate words and never match anything.
 */
#ifndef SWITCHBOARD_PHRASE_H
#define SWITCHBOARD_PHRASE_H

#include "switchboard/config.h"

/*
 * The matching form of UTF-8 text: words lowercased and stripped of Latin
 * accents, each followed by one space, and a leading space (" hablar con un
 * supervisor "). Returns a new string (free()); never NULL.
 */
char *sb_phrase_normalize(const char *text);

/* Whether text contains phrase as whole words (both raw UTF-8). */
bool sb_phrase_match(const char *text, const char *phrase);

/*
 * The index in cfg->phrases of the first rule for the given language (a
 * language index) with a phrase that text contains; -1 when none.
 * *matched, when not NULL, borrows the phrase as configured.
 */
int sb_phrase_find(const sb_config_t *cfg, int language, const char *text,
                   const char **matched);

#endif
