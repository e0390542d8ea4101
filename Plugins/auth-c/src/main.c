/* etcetera-auth-c: a read-only auth backend for Etcetera, written in C, that serves the auth bus contract
 * (docs/auth-plugins.md) from a JSON file. See README.md beside the Makefile. */
#include "log.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ArgumentParser's status for a command-line error, as the Swift services exit with. */
#define EXIT_USAGE 64
/* etcd's --auth-token-ttl default, also used for 0. */
#define DEFAULT_TOKEN_TTL_SECONDS 300

static const char usage[] =
    "usage: etcetera-auth-c --listen ENDPOINT --events ENDPOINT --file PATH\n"
    "                       [--auth-token-ttl SECONDS] [--log-level LEVEL]\n"
    "\n"
    "Serves Etcetera's auth bus contract, read-only, from the JSON auth file PATH (reloaded when it changes).\n"
    "  --listen ENDPOINT         request/reply endpoint to bind (ROUTER), e.g. ipc:///run/etcetera/bus/auth.sock\n"
    "  --events ENDPOINT         event endpoint to bind (PUB); AuthEvent after each change and every second\n"
    "  --file PATH               the auth file\n"
    "  --auth-token-ttl SECONDS  an unused token ends after this long (etcd's default 300; 0 means 300)\n"
    "  --log-level LEVEL         debug, info, warn or error (default info)\n"
    "  --data-dir, --bcrypt-cost accepted and ignored: this backend keeps no data and hashes no password\n";

static int usage_error(const char *format, const char *argument) {
    fprintf(stderr, "etcetera-auth-c: ");
    fprintf(stderr, format, argument);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

static bool parse_unsigned(const char *text, uint64_t *value) {
    if (text[0] < '0' || text[0] > '9') return false;
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *value = parsed;
    return true;
}

/* The options, in the order of `names`. */
enum { LISTEN, EVENTS, FILE_PATH, AUTH_TOKEN_TTL, LOG_LEVEL, DATA_DIR, BCRYPT_COST, OPTION_COUNT };
static const char *const names[OPTION_COUNT] = {"--listen",    "--events",   "--file",       "--auth-token-ttl",
                                                "--log-level", "--data-dir", "--bcrypt-cost"};

/* Which option `argv[*index]` is, and its value (`--name value` or `--name=value`); OPTION_COUNT if none. */
static int option_at(int argc, char **argv, int *index, const char **value) {
    const char *argument = argv[*index];
    for (int option = 0; option < OPTION_COUNT; option++) {
        size_t length = strlen(names[option]);
        if (strncmp(argument, names[option], length) != 0) continue;
        if (argument[length] == '=') {
            *value = argument + length + 1;
            return option;
        }
        if (argument[length] == '\0' && *index + 1 < argc) {
            *value = argv[++*index];
            return option;
        }
    }
    return OPTION_COUNT;
}

int main(int argc, char **argv) {
    ServerOptions options = {.token_ttl_seconds = DEFAULT_TOKEN_TTL_SECONDS};
    const char *log_level = "info";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        const char *value = NULL;
        uint64_t ignored;
        switch (option_at(argc, argv, &i, &value)) {
        case LISTEN: options.listen_endpoint = value; break;
        case EVENTS: options.events_endpoint = value; break;
        case FILE_PATH: options.file_path = value; break;
        case AUTH_TOKEN_TTL:
            if (!parse_unsigned(value, &options.token_ttl_seconds))
                return usage_error("--auth-token-ttl needs a number of seconds, got %s", value);
            if (options.token_ttl_seconds == 0) options.token_ttl_seconds = DEFAULT_TOKEN_TTL_SECONDS;
            /* More than a million years changes nothing and keeps milliseconds from overflowing. */
            if (options.token_ttl_seconds > UINT64_MAX / 4000u) options.token_ttl_seconds = UINT64_MAX / 4000u;
            break;
        case LOG_LEVEL: log_level = value; break;
        case DATA_DIR: break;
        case BCRYPT_COST:
            if (!parse_unsigned(value, &ignored)) return usage_error("--bcrypt-cost needs a number, got %s", value);
            break;
        default: return usage_error("unknown option, or an option without its value: %s", argv[i]);
        }
    }
    if (options.listen_endpoint == NULL) return usage_error("%s is required", "--listen");
    if (options.events_endpoint == NULL) return usage_error("%s is required", "--events");
    if (options.file_path == NULL) return usage_error("%s is required", "--file");
    LogLevel level = LOG_INFO;
    bool known_level = log_level_parse(log_level, &level);
    log_set_level(level);
    if (!known_level) log_message(LOG_WARN, "unknown log level, using info: log-level=%s", log_level);
    return server_run(&options);
}
