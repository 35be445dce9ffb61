/*
 * langdetect.h - guessing a conversation's language from a customer's text
 * (routing.detect_language), when neither the client nor the channel said.
 *
 * Small and pure: words are scored against short lists of the most common
 * function words of each language, plus a few letters that only some
 * languages use (ñ, ß, ã, ç ...). Only the configured languages compete, and
 * a guess needs enough evidence; otherwise the answer is "don't know".
 */
#ifndef SWITCHBOARD_LANGDETECT_H
#define SWITCHBOARD_LANGDETECT_H

#include "switchboard/config.h"

/*
 * The configured language (index into cfg->languages) the text is most
 * likely written in, or -1 when the text gives too little evidence or only
 * languages this build does not know are configured. Known: en, es, de, fr,
 * pt, it, nl (matched on the primary subtag of each configured tag).
 */
int sb_langdetect(const sb_config_t *cfg, const char *text);

#endif
