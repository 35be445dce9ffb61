/*
 * lookup.c - index lookups and template selection over a loaded configuration.
 */
#include "switchboard/config.h"

#include <string.h>
#include <strings.h>

const char *const sb_tpl_names[SB_TPL__COUNT] = {
    [SB_TPL_QUEUED] = "queued",
    [SB_TPL_AGENT_JOINED] = "agent_joined",
    [SB_TPL_TRANSFERRING] = "transferring",
    [SB_TPL_CLOSED] = "closed",
    [SB_TPL_REQUEUED] = "requeued",
    [SB_TPL_WELCOME] = "welcome",
    [SB_TPL_CALLBACK] = "callback",
    [SB_TPL_VOICE_GREETING] = "voice_greeting",
};

/* Built-in English, used when neither the language nor the default has one. */
static const char *const builtin[SB_TPL__COUNT] = {
    [SB_TPL_QUEUED] = "You are number {position} in line (about {eta}).",
    [SB_TPL_AGENT_JOINED] = "{agent} has joined the conversation.",
    [SB_TPL_TRANSFERRING] = "Connecting you with {pool}. Your conversation comes with you.",
    [SB_TPL_CLOSED] = "This conversation is closed. Thank you!",
    [SB_TPL_REQUEUED] = "Your agent was disconnected. You are back in line for {pool}.",
    [SB_TPL_WELCOME] = "Hello! How can we help?",
    [SB_TPL_CALLBACK] = "We will call you back at {phone}.",
    [SB_TPL_VOICE_GREETING] = "Thank you for calling. Please hold for the next agent.",
};

static int find_id(char *const *ids, size_t n, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return (int)i;
    return -1;
}

int sb_config_pool(const sb_config_t *cfg, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < cfg->npools; i++)
        if (strcmp(cfg->pools[i].id, id) == 0)
            return (int)i;
    return -1;
}

int sb_config_skill(const sb_config_t *cfg, const char *id)
{
    return find_id(cfg->skills, cfg->nskills, id);
}

int sb_config_topic(const sb_config_t *cfg, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (strcmp(cfg->topics[i].id, id) == 0)
            return (int)i;
    return -1;
}

int sb_config_agent(const sb_config_t *cfg, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < cfg->nagents; i++)
        if (strcmp(cfg->agents[i].id, id) == 0)
            return (int)i;
    return -1;
}

int sb_config_language(const sb_config_t *cfg, const char *tag)
{
    size_t primary;

    if (!tag || !*tag)
        return -1;
    for (size_t i = 0; i < cfg->nlanguages; i++)
        if (strcasecmp(cfg->languages[i], tag) == 0)
            return (int)i;
    primary = strcspn(tag, "-_");
    for (size_t i = 0; i < cfg->nlanguages; i++)
        if (strlen(cfg->languages[i]) == primary &&
            strncasecmp(cfg->languages[i], tag, primary) == 0)
            return (int)i;
    return -1;
}

const char *sb_config_template(const sb_config_t *cfg, int language, sb_tpl_key_t key)
{
    if (key < 0 || key >= SB_TPL__COUNT)
        return "";
    if (cfg->templates) {
        if (language >= 0 && (size_t)language < cfg->nlanguages &&
            cfg->templates[language][key])
            return cfg->templates[language][key];
        if (cfg->default_language >= 0 &&
            (size_t)cfg->default_language < cfg->nlanguages &&
            cfg->templates[cfg->default_language][key])
            return cfg->templates[cfg->default_language][key];
    }
    return builtin[key];
}
