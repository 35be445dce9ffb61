/*
 * http.c - the plain HTTP endpoints: /healthz, and a clear 404 for the rest.
 */
#include "hub_private.h"

#include <stdio.h>
#include <string.h>

static void reply(hub_http_t *h, int status, const char *type, const char *body)
{
    h->status = status;
    snprintf(h->content_type, sizeof(h->content_type), "%s", type);
    free(h->resp);
    h->resp = sb_strdup(body);
    h->resp_len = strlen(body);
}

static void reply_json(hub_http_t *h, int status, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);

    reply(h, status, "application/json", text);
    free(text);
    json_decref(obj);
}

static void reply_error(hub_http_t *h, int status, const char *code, const char *message)
{
    reply_json(h, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

void hub__http_route(sb_hub_t *hub, struct lws *wsi, hub_http_t *h)
{
    (void)wsi;
    if (h->too_large) {
        reply_error(h, 413, "too_large", "request body too large");
        return;
    }
    if (strcmp(h->path, "/healthz") == 0) {
        if (strcmp(h->method, "GET") != 0) {
            reply_error(h, 405, "bad_request", "use GET");
            return;
        }
        reply_json(h, 200, json_pack("{s:s,s:i,s:i}", "status", "ok",
                                     "connections", (int)hub->nsessions,
                                     "conversations", (int)sb_core_conv_count(hub->core)));
        return;
    }
    reply_error(h, 404, "not_found", "no such endpoint");
}
