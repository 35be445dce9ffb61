/*
 * main.c - the switchboard binary: options, configuration, store, core and
 * hub, signals.
 */
#include "switchboard/common.h"
#include "switchboard/config.h"
#include "switchboard/core.h"
#include "switchboard/hub.h"
#include "switchboard/store.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sb_hub_t *the_hub;

/* What main owns: the configuration in force, and what uses it. */
typedef struct running {
    const char *path;
    sb_config_t *cfg;
    sb_core_t *core;
    sb_store_t *store;
} running_t;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (the_hub)
        sb_hub_stop(the_hub);
}

static void on_hup_signal(int sig)
{
    (void)sig;
    if (the_hub)
        sb_hub_request_reload(the_hub);
}

/* Keys that only a restart applies; a change is reported and not applied. */
static void warn_restart_keys(const sb_config_t *old, const sb_config_t *cfg)
{
#define DIFF_STR(a, b) (((a) == NULL) != ((b) == NULL) || ((a) && strcmp((a), (b)) != 0))
    if (DIFF_STR(old->listen_host, cfg->listen_host) || old->listen_port != cfg->listen_port)
        sb_warn("reload: server.listen changes only at restart");
    if (DIFF_STR(old->tls_cert, cfg->tls_cert) || DIFF_STR(old->tls_key, cfg->tls_key))
        sb_warn("reload: server.tls changes only at restart");
    if (DIFF_STR(old->store_path, cfg->store_path) || DIFF_STR(old->store_engine, cfg->store_engine) ||
        old->store_sync != cfg->store_sync)
        sb_warn("reload: store settings change only at restart");
    if (DIFF_STR(old->web_root, cfg->web_root) || old->demo != cfg->demo)
        sb_warn("reload: server.web_root and server.demo change only at restart");
#undef DIFF_STR
}

/*
 * SIGHUP: read and validate the file again. A file that does not validate is
 * reported (FILE:LINE lines) and the running configuration stays; a valid one
 * replaces agents, pools, topics, templates and limits without dropping a
 * connection.
 */
static void reload(sb_hub_t *hub, void *arg)
{
    running_t *run = arg;
    char err[8192];
    sb_config_t *cfg = sb_config_load(run->path, err, sizeof(err)), *old = run->cfg;
    char *line, *save = NULL;

    if (!cfg) {
        for (line = strtok_r(err, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            sb_error("reload: %s", line);
        sb_error("reload: %s does not validate; the running configuration stays", run->path);
        return;
    }
    warn_restart_keys(old, cfg);
    sb_core_reconfigure(run->core, cfg, sb_hub_now());
    sb_store_set_config(run->store, cfg);
    sb_hub_apply_config(hub, cfg, old);
    run->cfg = cfg;
    sb_config_free(old);
    sb_info("reload: %s applied (%zu pools, %zu agents, %zu topics)", run->path, cfg->npools,
            cfg->nagents, cfg->ntopics);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchboard -c FILE [--check] [--verbose]\n"
            "       switchboard --version | --help\n"
            "\n"
            "  -c, --config FILE   configuration file (libconfig; see docs/configuration.md)\n"
            "      --check         validate the configuration and exit (0: valid)\n"
            "  -v, --verbose       log debug messages\n"
            "      --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "\n"
            "Prints \"listening on HOST:PORT\" on stdout once it accepts connections.\n"
            "SIGINT/SIGTERM: finish the current commit, close sockets with 1001, exit 0.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'C' },
        { "verbose", no_argument, NULL, 'v' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = NULL;
    bool check = false;
    char err[8192];
    sb_config_t *cfg;
    sb_store_t *store = NULL;
    sb_core_t *core = NULL;
    struct sigaction sa;
    running_t run = { 0 };
    int c, rc = 1, serr = 0;

    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C': check = true; break;
        case 'v': sb_log_set_level(SB_LOG_DEBUG); break;
        case 'V': printf("switchboard %s\n", SB_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !path) {
        fprintf(stderr, "switchboard: %s\n", path ? "unexpected argument" : "-c FILE is required");
        usage(stderr);
        return 2;
    }

    cfg = sb_config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s", err);
        if (err[0] && err[strlen(err) - 1] != '\n')
            fputc('\n', stderr);
        fprintf(stderr, "switchboard: %s: configuration not valid\n", path);
        return 1;
    }
    if (check) {
        printf("%s: ok (%zu pools, %zu agents, %zu topics)\n", path, cfg->npools,
               cfg->nagents, cfg->ntopics);
        sb_config_free(cfg);
        return 0;
    }

    store = sb_store_open(cfg, &serr);
    if (!store) {
        sb_error("cannot open the store (%s at %s): %s", cfg->store_engine, cfg->store_path,
                 sb_strerror(serr));
        goto out;
    }
    core = sb_core_new(cfg);
    if (!core)
        goto out;
    the_hub = sb_hub_new(cfg, core, store);
    if (!the_hub)
        goto out;
    if (sb_hub_recover(the_hub) < 0)
        goto out;
    run.path = path;
    run.cfg = cfg;
    run.core = core;
    run.store = store;
    sb_hub_on_reload(the_hub, reload, &run);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup_signal;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = sb_hub_run(the_hub) < 0 ? 1 : 0;
    cfg = run.cfg;      /* the one in force, after any reloads */

out:
    sb_hub_free(the_hub);
    the_hub = NULL;
    sb_core_free(core);
    sb_store_close(store);
    sb_config_free(cfg);
    if (rc == 0)
        sb_info("stopped");
    return rc;
}
