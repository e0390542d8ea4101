#ifndef ETCETERA_AUTH_C_SERVER_H
#define ETCETERA_AUTH_C_SERVER_H

#include "auth_state.h"
#include "bus.h"
#include "password_verifier.h"
#include "tokens.h"

#include <sys/types.h>

typedef struct {
    const char *listen_endpoint;
    const char *events_endpoint;
    const char *file_path;
    uint64_t token_ttl_seconds;
} ServerOptions;

/* What stat says about the auth file; a different stamp means it may have changed. */
typedef struct {
    bool exists;
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified;
} FileStamp;

/* Everything the socket thread owns. Only password checks run elsewhere (password_verifier.h). */
typedef struct {
    ServerOptions options;
    void *context;
    void *router;
    void *publisher;
    AuthState *state;
    FileStamp file_stamp;
    /* The auth revision: 1 at start, +1 per reload that changed what the file says. */
    uint64_t revision;
    /* Random and non-zero, chosen at start: tells gateways that the tokens they cached are gone. */
    uint64_t instance;
    TokenStore *tokens;
    PasswordVerifier *verifier;
    /* The packed `permissions` reply for snapshot_revision, built on the first request after a change. */
    uint8_t *snapshot_reply;
    size_t snapshot_reply_length;
    uint64_t snapshot_revision;
} Server;

/* Serves until SIGTERM or SIGINT. Returns the process exit status. */
int server_run(const ServerOptions *options);

uint64_t monotonic_milliseconds(void);

#endif
