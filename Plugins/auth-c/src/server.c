/* The socket thread: one zmq_poll loop over the ROUTER socket and the password verifier's descriptor,
 * with a tick every second that expires tokens, looks at the auth file and publishes the AuthEvent
 * heartbeat. Nothing on this thread waits for bcrypt, so PINGs are answered at once. */
#include "server.h"

#include "etcetera/auth_service.pb-c.h"
#include "log.h"
#include "requests.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TICK_MILLISECONDS 1000
/* The bus heartbeat the ROUTER sets for ZeroMQ's own pings, as the Swift server's default. */
#define BUS_HEARTBEAT_MILLISECONDS 1000
/* Messages read per turn before timers and password results get their turn. */
#define MESSAGES_PER_TURN 1024
/* How often the count of dropped malformed messages is logged, at most. */
#define DROP_WARNING_MILLISECONDS 10000

static volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

uint64_t monotonic_milliseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static FileStamp file_stamp_of(const char *path) {
    struct stat status;
    if (stat(path, &status) != 0) return (FileStamp){.exists = false};
    return (FileStamp){true, status.st_dev, status.st_ino, status.st_size, status.st_mtim};
}

static bool file_stamp_equal(const FileStamp *left, const FileStamp *right) {
    if (!left->exists || !right->exists) return left->exists == right->exists;
    return left->device == right->device && left->inode == right->inode && left->size == right->size
        && left->modified.tv_sec == right->modified.tv_sec && left->modified.tv_nsec == right->modified.tv_nsec;
}

static void publish_event(Server *server) {
    Etcetera__Auth__AuthEvent event = ETCETERA__AUTH__AUTH_EVENT__INIT;
    event.revision = server->revision;
    event.enabled = server->state->enabled;
    event.instance = server->instance;
    uint8_t packed[64];
    size_t length = etcetera__auth__auth_event__pack(&event, packed);
    /* A PUB socket drops rather than blocks at its high-water mark; subscribers catch up on the next one. */
    zmq_send(server->publisher, packed, length, ZMQ_DONTWAIT);
}

/* Tokens end for users that are gone or whose password hash changed, as a password change ends them. */
static bool ends_tokens_of(const char *name, void *states) {
    const AuthState *before = ((const AuthState **)states)[0], *after = ((const AuthState **)states)[1];
    const User *old_user = auth_state_user(before, name), *new_user = auth_state_user(after, name);
    if (new_user == NULL || old_user == NULL) return true;
    if (old_user->password_hash == NULL || new_user->password_hash == NULL)
        return old_user->password_hash != new_user->password_hash;
    return strcmp(old_user->password_hash, new_user->password_hash) != 0;
}

/* Reloads the file when stat says it changed. A changed content raises the revision by one and is
 * published at once; a broken edit is logged and the last good state kept. */
static void check_file(Server *server) {
    FileStamp stamp = file_stamp_of(server->options.file_path);
    if (file_stamp_equal(&stamp, &server->file_stamp)) return;
    server->file_stamp = stamp;
    char problem[512];
    AuthState *next = auth_state_load(server->options.file_path, problem, sizeof problem);
    if (next == NULL) {
        log_message(LOG_WARN, "auth file %s: %s; keeping the state of revision %llu", server->options.file_path,
                    problem, (unsigned long long)server->revision);
        return;
    }
    if (auth_state_equal(next, server->state)) {
        auth_state_free(next);
        return;
    }
    if (!next->enabled) {
        token_store_end_all(server->tokens);
    } else {
        const AuthState *states[2] = {server->state, next};
        token_store_end_where(server->tokens, ends_tokens_of, states);
    }
    auth_state_free(server->state);
    server->state = next;
    server->revision++;
    log_message(LOG_INFO, "auth file reloaded: auth-revision=%llu auth-enabled=%s users=%zu roles=%zu",
                (unsigned long long)server->revision, next->enabled ? "true" : "false", next->user_count,
                next->role_count);
    publish_event(server);
}

static void tick(Server *server, uint64_t now, uint64_t *next_drop_warning) {
    token_store_remove_expired(server->tokens, now);
    check_file(server);
    publish_event(server);
    if (now >= *next_drop_warning) {
        uint64_t dropped = bus_take_dropped_count();
        if (dropped > 0) log_message(LOG_WARN, "dropped %llu malformed bus messages", (unsigned long long)dropped);
        *next_drop_warning = now + DROP_WARNING_MILLISECONDS;
    }
}

static void receive_requests(Server *server) {
    for (int i = 0; i < MESSAGES_PER_TURN; i++) {
        BusRequest request;
        int received = bus_receive(server->router, &request);
        if (received < 0) return;
        if (received == 0) continue;
        uint8_t *payload = zmq_msg_data(&request.payload);
        size_t length = zmq_msg_size(&request.payload);
        requests_handle(server, &request.caller, payload, length);
        /* The payload may have held a password. */
        explicit_bzero(payload, length);
        zmq_msg_close(&request.payload);
    }
}

static void serve(Server *server) {
    uint64_t next_tick = monotonic_milliseconds() + TICK_MILLISECONDS;
    uint64_t next_drop_warning = 0;
    while (!stop_requested) {
        uint64_t now = monotonic_milliseconds();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        zmq_pollitem_t items[2] = {
            {.socket = server->router, .events = ZMQ_POLLIN},
            {.fd = password_verifier_descriptor(server->verifier), .events = ZMQ_POLLIN},
        };
        if (zmq_poll(items, 2, timeout) < 0) {
            if (errno == EINTR) continue;
            log_message(LOG_ERROR, "zmq_poll failed: %s", zmq_strerror(errno));
            return;
        }
        if (items[0].revents & ZMQ_POLLIN) receive_requests(server);
        if (items[1].revents & ZMQ_POLLIN) requests_finish_password_checks(server);
        now = monotonic_milliseconds();
        if (now >= next_tick) {
            tick(server, now, &next_drop_warning);
            next_tick = now + TICK_MILLISECONDS;
        }
    }
}

static uint64_t random_instance(void) {
    uint64_t instance = 0;
    while (instance == 0)
        if (getrandom(&instance, sizeof instance, 0) != (ssize_t)sizeof instance) instance = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    return instance;
}

/* Workers get no SIGTERM or SIGINT: those must interrupt the socket thread's poll. */
static PasswordVerifier *start_verifier(void) {
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    PasswordVerifier *verifier = password_verifier_start(cores > 2 ? (size_t)cores : 2);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return verifier;
}

/* The signal mask is inherited across exec: a parent that starts us from a thread blocking SIGTERM would
 * leave it pending forever, so unblock the stop signals explicitly. */
static void install_signal_handlers(void) {
    struct sigaction action = {.sa_handler = request_stop};
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
}

static void server_close(Server *server) {
    if (server->verifier != NULL) requests_discard_password_checks(password_verifier_stop(server->verifier));
    if (server->router != NULL) zmq_close(server->router);
    if (server->publisher != NULL) zmq_close(server->publisher);
    if (server->context != NULL) zmq_ctx_term(server->context);
    token_store_free(server->tokens);
    auth_state_free(server->state);
    free(server->snapshot_reply);
}

int server_run(const ServerOptions *options) {
    Server server = {.options = *options, .revision = 1, .instance = random_instance()};
    char problem[512];
    server.file_stamp = file_stamp_of(options->file_path);
    server.state = auth_state_load(options->file_path, problem, sizeof problem);
    if (server.state == NULL) {
        fprintf(stderr, "etcetera-auth-c: auth file %s: %s\n", options->file_path, problem);
        return 1;
    }
    install_signal_handlers();
    server.tokens = token_store_new(options->token_ttl_seconds * 1000u);
    server.verifier = start_verifier();
    server.context = zmq_ctx_new();
    if (server.tokens == NULL || server.verifier == NULL || server.context == NULL) {
        log_message(LOG_ERROR, "could not start: out of memory or threads");
        server_close(&server);
        return 1;
    }
    server.publisher = bus_bind_publisher(server.context, options->events_endpoint);
    if (server.publisher == NULL) {
        log_message(LOG_ERROR, "cannot bind the events endpoint %s: %s", options->events_endpoint, zmq_strerror(errno));
        server_close(&server);
        return 1;
    }
    server.router = bus_bind(server.context, options->listen_endpoint, BUS_HEARTBEAT_MILLISECONDS);
    if (server.router == NULL) {
        log_message(LOG_ERROR, "cannot bind the listen endpoint %s: %s", options->listen_endpoint, zmq_strerror(errno));
        server_close(&server);
        return 1;
    }
    log_message(LOG_INFO,
                "auth backend serving: listen=%s events=%s file=%s auth-revision=%llu auth-enabled=%s users=%zu roles=%zu "
                "token-ttl=%llus",
                options->listen_endpoint, options->events_endpoint, options->file_path,
                (unsigned long long)server.revision, server.state->enabled ? "true" : "false", server.state->user_count,
                server.state->role_count, (unsigned long long)options->token_ttl_seconds);
    publish_event(&server);
    serve(&server);
    log_message(LOG_INFO, "auth backend stopping");
    server_close(&server);
    return 0;
}
