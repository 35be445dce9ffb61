/*
 * http_client.c - an asynchronous HTTP(S) client on the service loop, for the
 * platforms' send APIs: lws client connections on a vhost of their own (no
 * listener), one connection per request, HTTP/1.1.
 *
 * Nothing here blocks the loop. Host names are resolved by one resolver
 * thread (this lws build has no asynchronous DNS): the loop queues a name,
 * the thread calls getaddrinfo and wakes the loop with lws_cancel_service,
 * the loop connects to the address (the name still goes in Host and SNI and
 * is what the certificate is checked against). Answers are cached for a
 * minute. Numeric addresses skip all that.
 *
 * Every call ends exactly once, through a zero-delay timer, so the owner's
 * callback never runs inside hub__http_call or inside an lws callback of the
 * connection: a finished or abandoned connection is detached (its opaque
 * pointer cleared) and closed asynchronously. Request URLs may carry secrets
 * (Messenger's token): they are never logged.
 */
#include "chan_private.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RESP_MAX      (256u << 10)    /* answer bytes kept (the rest is read and dropped) */
#define DNS_TTL_MS    60000
#define DNS_CACHE     16
#define PROTOCOL_NAME "sb-http-client"

struct hub_http_call {
    sb_hub_t *hub;
    hub_http_call_t *prev, *next;      /* client->calls */
    uint64_t serial;
    struct lws *wsi;                   /* while connected, else NULL */
    bool resolving, finished, body_sent;

    char *method, *host, *host_header, *path;
    int port;
    bool tls;
    char addr[64];
    char **hname, **hvalue;            /* "content-type:" style names */
    size_t nheaders;
    char *body;
    size_t body_len;

    int status, retry_after;
    char *resp;
    size_t resp_len, resp_cap;
    char err[160];

    hub_http_done_fn done;
    void *arg;
    lws_sorted_usec_list_t sul_timeout, sul_done;
};

typedef struct dns_job {
    struct dns_job *next;
    uint64_t serial;
    char *host;
    char addr[64];
    char err[96];
} dns_job_t;

struct hub_http_client {
    struct lws_vhost *vhost;
    hub_http_call_t *calls;
    uint64_t next_serial;

    pthread_t thread;
    bool thread_started, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dns_job_t *todo, *todo_tail, *resolved;
    struct lws_context *ctx;

    struct {
        char *host;
        char addr[64];
        sb_ms_t expires;
    } cache[DNS_CACHE];
    size_t cache_next;
};

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len);

static const struct lws_protocols client_protocols[] = {
    { PROTOCOL_NAME, client_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* --- the resolver thread ---------------------------------------------------- */

static void *resolver_main(void *arg)
{
    hub_http_client_t *cl = arg;

    pthread_mutex_lock(&cl->mu);
    for (;;) {
        dns_job_t *job;
        struct addrinfo hints, *res = NULL;
        int rc;

        while (!cl->todo && !cl->quit)
            pthread_cond_wait(&cl->cv, &cl->mu);
        if (cl->quit)
            break;
        job = cl->todo;
        cl->todo = job->next;
        if (!cl->todo)
            cl->todo_tail = NULL;
        pthread_mutex_unlock(&cl->mu);

        /* IPv4 first: the listener's context may have IPv6 turned off. */
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_family = AF_INET;
        rc = getaddrinfo(job->host, NULL, &hints, &res);
        if (rc != 0) {
            hints.ai_family = AF_UNSPEC;
            rc = getaddrinfo(job->host, NULL, &hints, &res);
        }
        if (rc == 0 && res) {
            const void *a = res->ai_family == AF_INET6
                ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
            if (!inet_ntop(res->ai_family, a, job->addr, sizeof(job->addr)))
                snprintf(job->err, sizeof(job->err), "cannot format the address");
        } else {
            snprintf(job->err, sizeof(job->err), "%s", gai_strerror(rc));
        }
        if (res)
            freeaddrinfo(res);

        pthread_mutex_lock(&cl->mu);
        job->next = cl->resolved;
        cl->resolved = job;
        if (cl->ctx)
            lws_cancel_service(cl->ctx);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

static void job_free(dns_job_t *job)
{
    if (job) {
        free(job->host);
        free(job);
    }
}

/* --- calls -------------------------------------------------------------------- */

static hub_http_client_t *client_get(sb_hub_t *hub)
{
    struct hub_chan *ch = hub__chan(hub);
    hub_http_client_t *cl = ch->client;
    struct lws_context_creation_info info;

    if (cl)
        return cl;
    if (!hub->ctx || ch->stopping)
        return NULL;
    cl = sb_calloc(1, sizeof(*cl));
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.vhost_name = "sb-client";
    /* Makes lws create the vhost's client TLS context (system CA store). */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    cl->vhost = lws_create_vhost(hub->ctx, &info);
    if (!cl->vhost) {
        sb_error("outbox: cannot create the HTTP client");
        free(cl);
        return NULL;
    }
    cl->ctx = hub->ctx;
    pthread_mutex_init(&cl->mu, NULL);
    pthread_cond_init(&cl->cv, NULL);
    ch->client = cl;
    return cl;
}

static void call_unlink(hub_http_client_t *cl, hub_http_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (cl->calls == c)
        cl->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void call_free(hub_http_call_t *c)
{
    for (size_t i = 0; i < c->nheaders; i++) {
        free(c->hname[i]);
        free(c->hvalue[i]);
    }
    free(c->hname);
    free(c->hvalue);
    free(c->method);
    free(c->host);
    free(c->host_header);
    free(c->path);
    free(c->body);
    free(c->resp);
    free(c);
}

/* Detaches the connection and closes it soon, from outside its callbacks. */
static void call_detach(hub_http_call_t *c)
{
    struct lws *wsi = c->wsi;

    c->wsi = NULL;
    if (wsi) {
        lws_set_opaque_user_data(wsi, NULL);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

static void call_done(lws_sorted_usec_list_t *sul)
{
    hub_http_call_t *c = lws_container_of(sul, hub_http_call_t, sul_done);
    hub_http_client_t *cl = hub__chan(c->hub)->client;

    if (cl)
        call_unlink(cl, c);
    c->done(c->arg, c->status, c->resp, c->resp_len, c->retry_after,
            c->err[0] ? c->err : NULL);
    call_free(c);
}

/* The result is known: status (0: none) and err. The owner hears it soon. */
static void call_finish(hub_http_call_t *c, int status, const char *err)
{
    if (c->finished)
        return;
    c->finished = true;
    c->status = status;
    if (err && !c->err[0])
        snprintf(c->err, sizeof(c->err), "%s", err);
    if (c->wsi) {
        /* A connection that finished by itself closes by itself; only detach. */
        lws_set_opaque_user_data(c->wsi, NULL);
        c->wsi = NULL;
    }
    lws_sul_cancel(&c->sul_timeout);
    lws_sul_schedule(c->hub->ctx, 0, &c->sul_done, call_done, 1);
}

static void call_timeout(lws_sorted_usec_list_t *sul)
{
    hub_http_call_t *c = lws_container_of(sul, hub_http_call_t, sul_timeout);

    if (c->finished)
        return;
    call_detach(c);
    call_finish(c, 0, "timed out");
}

static void call_connect(hub_http_call_t *c)
{
    hub_http_client_t *cl = hub__chan(c->hub)->client;
    struct lws_client_connect_info i;

    memset(&i, 0, sizeof(i));
    i.context = c->hub->ctx;
    i.vhost = cl->vhost;
    i.address = c->addr;
    i.port = c->port;
    i.path = c->path;
    i.host = c->host_header;
    i.method = c->method;
    i.protocol = PROTOCOL_NAME;
    i.local_protocol_name = PROTOCOL_NAME;
    i.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT | (c->tls ? LCCSCF_USE_SSL : 0);
    i.alpn = "http/1.1";
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&i)) {
        c->wsi = NULL;
        call_finish(c, 0, "cannot connect");
    }
}

/* The host part of a URL: http(s)://host[:port][/path][?query]. 0 or SB_EINVAL. */
static int parse_url(const char *url, hub_http_call_t *c)
{
    const char *p, *auth, *end, *h0, *h1;
    size_t n;

    if (strncasecmp(url, "https://", 8) == 0) {
        c->tls = true;
        c->port = 443;
        auth = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        c->tls = false;
        c->port = 80;
        auth = url + 7;
    } else {
        return SB_EINVAL;
    }
    end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(end - auth)))
        return SB_EINVAL;
    if (*auth == '[') {
        h0 = auth + 1;
        h1 = memchr(h0, ']', (size_t)(end - h0));
        if (!h1)
            return SB_EINVAL;
        p = h1 + 1;
    } else {
        h0 = auth;
        h1 = memchr(auth, ':', (size_t)(end - auth));
        if (!h1)
            h1 = end;
        p = h1;
    }
    if (h1 == h0)
        return SB_EINVAL;
    if (p < end) {
        long port = 0;
        if (*p != ':' || p + 1 == end)
            return SB_EINVAL;
        for (p++; p < end; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return SB_EINVAL;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return SB_EINVAL;
        c->port = (int)port;
    }
    c->host = sb_strndup(h0, (size_t)(h1 - h0));
    n = (size_t)(end - auth) + 1;
    c->host_header = sb_malloc(n);
    memcpy(c->host_header, auth, n - 1);
    c->host_header[n - 1] = '\0';
    if (*end == '#' || *end == '\0') {
        c->path = sb_strdup("/");
    } else if (*end == '?') {
        size_t m = strcspn(end, "#");
        c->path = sb_malloc(m + 2);
        c->path[0] = '/';
        memcpy(c->path + 1, end, m);
        c->path[m + 1] = '\0';
    } else {
        c->path = sb_strndup(end, strcspn(end, "#"));
    }
    return 0;
}

static bool is_numeric(const char *host)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static const char *cache_get(hub_http_client_t *cl, const char *host)
{
    sb_ms_t now = sb_hub_now();

    for (size_t i = 0; i < DNS_CACHE; i++)
        if (cl->cache[i].host && strcasecmp(cl->cache[i].host, host) == 0 &&
            cl->cache[i].expires > now)
            return cl->cache[i].addr;
    return NULL;
}

static void cache_put(hub_http_client_t *cl, const char *host, const char *addr)
{
    size_t i = cl->cache_next++ % DNS_CACHE;

    for (size_t j = 0; j < DNS_CACHE; j++)
        if (cl->cache[j].host && strcasecmp(cl->cache[j].host, host) == 0)
            i = j;
    free(cl->cache[i].host);
    cl->cache[i].host = sb_strdup(host);
    snprintf(cl->cache[i].addr, sizeof(cl->cache[i].addr), "%s", addr);
    cl->cache[i].expires = sb_hub_now() + DNS_TTL_MS;
}

static void resolve(hub_http_client_t *cl, hub_http_call_t *c)
{
    dns_job_t *job = sb_calloc(1, sizeof(*job));

    job->serial = c->serial;
    job->host = sb_strdup(c->host);
    c->resolving = true;
    pthread_mutex_lock(&cl->mu);
    if (!cl->thread_started) {
        if (pthread_create(&cl->thread, NULL, resolver_main, cl) != 0) {
            pthread_mutex_unlock(&cl->mu);
            job_free(job);
            c->resolving = false;
            call_finish(c, 0, "cannot start the resolver thread");
            return;
        }
        cl->thread_started = true;
    }
    if (cl->todo_tail)
        cl->todo_tail->next = job;
    else
        cl->todo = job;
    cl->todo_tail = job;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

/* Names the thread resolved: connect the calls still waiting for them. */
static void resolved(hub_http_client_t *cl)
{
    dns_job_t *jobs, *next;

    pthread_mutex_lock(&cl->mu);
    jobs = cl->resolved;
    cl->resolved = NULL;
    pthread_mutex_unlock(&cl->mu);
    for (; jobs; jobs = next) {
        next = jobs->next;
        if (!jobs->err[0])
            cache_put(cl, jobs->host, jobs->addr);
        for (hub_http_call_t *c = cl->calls; c; c = c->next) {
            if (c->serial != jobs->serial || !c->resolving || c->finished)
                continue;
            c->resolving = false;
            if (jobs->err[0]) {
                char err[160];
                snprintf(err, sizeof(err), "cannot resolve the API host: %s", jobs->err);
                call_finish(c, 0, err);
            } else {
                snprintf(c->addr, sizeof(c->addr), "%s", jobs->addr);
                call_connect(c);
            }
            break;
        }
        job_free(jobs);
    }
}

hub_http_call_t *hub__http_call(sb_hub_t *hub, const sb_platform_request_t *req,
                                int timeout_s, hub_http_done_fn done, void *arg,
                                char *err, size_t errlen)
{
    hub_http_client_t *cl = client_get(hub);
    hub_http_call_t *c;
    const char *addr;

    if (!cl) {
        snprintf(err, errlen, "the HTTP client is not available");
        return NULL;
    }
    c = sb_calloc(1, sizeof(*c));
    c->hub = hub;
    if (parse_url(req->url, c) < 0) {
        snprintf(err, errlen, "the API URL is not an http(s) URL with a host");
        call_free(c);
        return NULL;
    }
    c->method = sb_strdup(req->method ? req->method : "POST");
    c->hname = sb_calloc(req->nheaders + 1, sizeof(char *));
    c->hvalue = sb_calloc(req->nheaders + 1, sizeof(char *));
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t n = strlen(req->headers[i].name);
        char *name = sb_malloc(n + 2);
        for (size_t j = 0; j < n; j++) {
            char ch = req->headers[i].name[j];
            name[j] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        name[n] = ':';
        name[n + 1] = '\0';
        c->hname[c->nheaders] = name;
        c->hvalue[c->nheaders++] = sb_strdup(req->headers[i].value);
    }
    c->body_len = req->body ? req->body_len : 0;
    c->body = sb_malloc(c->body_len + 1);
    if (c->body_len)
        memcpy(c->body, req->body, c->body_len);
    c->body[c->body_len] = '\0';
    c->done = done;
    c->arg = arg;
    c->serial = ++cl->next_serial;
    c->next = cl->calls;
    if (cl->calls)
        cl->calls->prev = c;
    cl->calls = c;
    lws_sul_schedule(hub->ctx, 0, &c->sul_timeout, call_timeout,
                     (lws_usec_t)(timeout_s > 0 ? timeout_s : 30) * LWS_US_PER_SEC);

    if (is_numeric(c->host)) {
        snprintf(c->addr, sizeof(c->addr), "%s", c->host);
        call_connect(c);
    } else if ((addr = cache_get(cl, c->host))) {
        snprintf(c->addr, sizeof(c->addr), "%s", addr);
        call_connect(c);
    } else {
        resolve(cl, c);
    }
    return c;
}

void hub__http_call_cancel(hub_http_call_t *c)
{
    hub_http_client_t *cl;

    if (!c)
        return;
    cl = hub__chan(c->hub)->client;
    call_detach(c);
    lws_sul_cancel(&c->sul_timeout);
    lws_sul_cancel(&c->sul_done);
    if (cl)
        call_unlink(cl, c);
    call_free(c);
}

void hub__http_client_stop(sb_hub_t *hub)
{
    hub_http_client_t *cl = hub->chan ? hub->chan->client : NULL;
    dns_job_t *j, *next;

    if (!cl)
        return;
    while (cl->calls)
        hub__http_call_cancel(cl->calls);
    pthread_mutex_lock(&cl->mu);
    cl->quit = true;
    cl->ctx = NULL;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (cl->thread_started)
        pthread_join(cl->thread, NULL);
    for (j = cl->todo; j; j = next) {
        next = j->next;
        job_free(j);
    }
    for (j = cl->resolved; j; j = next) {
        next = j->next;
        job_free(j);
    }
    for (size_t i = 0; i < DNS_CACHE; i++)
        free(cl->cache[i].host);
    pthread_mutex_destroy(&cl->mu);
    pthread_cond_destroy(&cl->cv);
    hub->chan->client = NULL;
    free(cl);               /* the vhost goes with the context */
}

/* --- the lws side ------------------------------------------------------------- */

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    hub_http_call_t *c = lws_get_opaque_user_data(wsi);

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        sb_hub_t *hub = lws_context_user(lws_get_context(wsi));
        if (hub && hub->chan && hub->chan->client)
            resolved(hub->chan->client);
        return 0;
    }

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            char err[160];
            snprintf(err, sizeof(err), "connection failed: %s",
                     in && len ? (const char *)in : "unknown error");
            c->wsi = NULL;
            call_finish(c, 0, err);
        }
        return 0;

    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end;
        char clen[24];
        if (!c)
            return -1;
        end = *p + len;
        for (size_t i = 0; i < c->nheaders; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)c->hname[i],
                                            (const unsigned char *)c->hvalue[i],
                                            (int)strlen(c->hvalue[i]), p, end))
                return -1;
        snprintf(clen, sizeof(clen), "%zu", c->body_len);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
                                        (const unsigned char *)clen, (int)strlen(clen), p, end))
            return -1;
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        unsigned char *buf;
        int n;
        if (!c)
            return -1;
        if (c->finished || c->body_sent)
            return 0;
        c->body_sent = true;
        buf = sb_malloc(LWS_PRE + c->body_len + 1);
        memcpy(buf + LWS_PRE, c->body, c->body_len);
        lws_client_http_body_pending(wsi, 0);
        n = lws_write(wsi, buf + LWS_PRE, c->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        if (n < (int)c->body_len) {
            call_finish(c, 0, "connection failed while sending the request");
            return -1;
        }
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: {
        char ra[32];
        if (!c)
            return -1;
        c->status = (int)lws_http_client_http_response(wsi);
        if (lws_hdr_copy(wsi, ra, sizeof(ra), WSI_TOKEN_HTTP_RETRY_AFTER) > 0 &&
            ra[0] >= '0' && ra[0] <= '9')
            c->retry_after = atoi(ra);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 4096], *px = buf + LWS_PRE;
        int n = (int)sizeof(buf) - LWS_PRE;
        if (lws_http_client_read(wsi, &px, &n) < 0)
            return -1;
        return 0;
    }

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (!c)
            return 0;
        if (c->resp_len + len <= RESP_MAX) {
            if (c->resp_len + len + 1 > c->resp_cap) {
                c->resp_cap = (c->resp_len + len + 1) * 2;
                c->resp = sb_realloc(c->resp, c->resp_cap);
            }
            memcpy(c->resp + c->resp_len, in, len);
            c->resp_len += len;
            c->resp[c->resp_len] = '\0';
        }
        return 0;

    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (c)
            call_finish(c, c->status, NULL);
        return -1;                  /* one request per connection */

    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (c) {
            c->wsi = NULL;
            if (c->status > 0)
                call_finish(c, c->status, NULL);
            else
                call_finish(c, 0, "connection closed before an answer");
        }
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
