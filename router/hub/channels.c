/*
 * channels.c - the table of channel adapters. A new channel is a new file
 * in channels/ and one line here.
 */
#include "switchboard/channel.h"

#include <string.h>

static const sb_channel_methods_t *const channels[] = {
    &sb_channel_webchat,
};

const sb_channel_methods_t *sb_channel_find(const char *name)
{
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
        if (strcmp(channels[i]->name, name) == 0)
            return channels[i];
    return NULL;
}

const sb_channel_methods_t *sb_channel_for_path(const char *path)
{
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
        if (channels[i]->ws_path && strcmp(channels[i]->ws_path, path) == 0)
            return channels[i];
    return NULL;
}
