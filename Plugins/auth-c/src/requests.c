/* The AuthRequest → AuthReply contract (docs/auth-plugins.md) for a read-only state: reads are answered as
 * etcetera-auth answers them, every change is refused with auth.read_only. */
#include "requests.h"

#include "etcetera/auth_service.pb-c.h"
#include "log.h"
#include "snapshot.h"
#include "wire_check.h"

#include <stdlib.h>
#include <string.h>

/* How often Authenticate checks a password again when the file was reloaded during the check. */
#define AUTHENTICATE_ATTEMPTS 3
/* bcrypt reads at most this many bytes of a password; longer ones are cut, as Go, OpenBSD and Swift do. */
#define SIGNIFICANT_PASSWORD_BYTES 72

/* The string fields that are looked up, by their numbers in rpc.proto and auth_service.proto. */
enum {
    AUTHENTICATE_NAME = 1,
    AUTHENTICATE_PASSWORD = 2,
    USER_GET_NAME = 1,
    ROLE_GET_ROLE = 1,
    RESOLVE_TOKEN_TOKEN = 1,
};

/* An Authenticate waiting for its password check. The check comes first so the verifier's pointer is
 * this one. */
typedef struct {
    PasswordCheck check;
    BusCaller caller;
    char *name;
    bool name_has_nul;
    bool password_has_nul;
    uint64_t checked_revision;
    int attempt;
} PendingAuthentication;

static void send_reply(Server *server, const BusCaller *caller, Etcetera__Auth__AuthReply *reply) {
    reply->auth_revision = server->revision;
    size_t length = etcetera__auth__auth_reply__get_packed_size(reply);
    uint8_t *packed = malloc(length + 1);
    if (packed == NULL) {
        log_message(LOG_ERROR, "out of memory for a reply of %zu bytes; the client will time out", length);
        return;
    }
    etcetera__auth__auth_reply__pack(reply, packed);
    bus_send_final(server->router, caller, packed, length);
    /* It may have held a token. */
    explicit_bzero(packed, length);
    free(packed);
}

static void send_error(Server *server, const BusCaller *caller, const char *code, const char *detail) {
    Etcetera__Kv__ServiceError error = ETCETERA__KV__SERVICE_ERROR__INIT;
    error.code = (char *)code;
    error.detail = (char *)detail;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_ERROR;
    reply.error = &error;
    send_reply(server, caller, &reply);
}

/* Every change is refused: the file is the only way to change this backend's state. The detail is the
 * file's path, as the contract asks: the gateway shows it to the client. */
static void refuse_change(Server *server, const BusCaller *caller) {
    send_error(server, caller, "auth.read_only", server->options.file_path);
}

/* Authenticate */

static void pending_free(PendingAuthentication *pending) {
    explicit_bzero(pending->check.password, sizeof pending->check.password);
    free(pending->name);
    free(pending);
}

static void refuse_authentication(Server *server, PendingAuthentication *pending, const char *code) {
    log_message(LOG_DEBUG, "authentication refused: user=\"%s\" error=%s", pending->name, code);
    send_error(server, &pending->caller, code, "");
    pending_free(pending);
}

/* etcd's checks in etcd's order, then the password check off this thread; finish_authentication takes
 * over once it is done. */
static void start_authentication(Server *server, PendingAuthentication *pending) {
    const User *user = NULL;
    if (!server->state->enabled) return refuse_authentication(server, pending, "auth.not_enabled");
    if (!pending->name_has_nul) user = auth_state_user(server->state, pending->name);
    if (user == NULL) return refuse_authentication(server, pending, "auth.failed");
    if (user->password_hash == NULL) return refuse_authentication(server, pending, "auth.no_password_user");
    /* C's crypt cannot see past a NUL, so such a password could match a shorter one: it matches nothing. */
    if (pending->password_has_nul) return refuse_authentication(server, pending, "auth.failed");
    snprintf(pending->check.hash, sizeof pending->check.hash, "%s", user->password_hash);
    pending->checked_revision = server->revision;
    password_verifier_submit(server->verifier, &pending->check);
}

static void finish_authentication(Server *server, PendingAuthentication *pending) {
    if (!pending->check.matches) return refuse_authentication(server, pending, "auth.failed");
    if (!server->state->enabled) return refuse_authentication(server, pending, "auth.not_enabled");
    if (pending->checked_revision != server->revision) {
        /* The file changed while bcrypt ran: check against what it says now, as etcd checks again. */
        if (pending->attempt >= AUTHENTICATE_ATTEMPTS) return refuse_authentication(server, pending, "auth.old_revision");
        pending->attempt++;
        log_message(LOG_DEBUG, "checking a password again: the auth file changed meanwhile: user=\"%s\"", pending->name);
        return start_authentication(server, pending);
    }
    if (auth_state_user(server->state, pending->name) == NULL) return refuse_authentication(server, pending, "auth.failed");
    const char *token = token_store_issue(server->tokens, pending->name, monotonic_milliseconds());
    if (token == NULL) {
        log_message(LOG_ERROR, "could not issue a token (out of memory or randomness)");
        send_error(server, &pending->caller, "storage.failure", "could not issue a token");
        return pending_free(pending);
    }
    Etcdserverpb__AuthenticateResponse response = ETCDSERVERPB__AUTHENTICATE_RESPONSE__INIT;
    response.token = (char *)token;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_AUTHENTICATE;
    reply.authenticate = &response;
    send_reply(server, &pending->caller, &reply);
    log_message(LOG_DEBUG, "authenticated a user: user=\"%s\"", pending->name);
    pending_free(pending);
}

static void authenticate(Server *server, const BusCaller *caller, const Etcdserverpb__AuthenticateRequest *request,
                         uint64_t fields_with_nul) {
    PendingAuthentication *pending = calloc(1, sizeof *pending);
    if (pending == NULL || (pending->name = strdup(request->name)) == NULL) {
        free(pending);
        log_message(LOG_ERROR, "out of memory for an authentication");
        return send_error(server, caller, "storage.failure", "out of memory");
    }
    pending->caller = *caller;
    pending->attempt = 1;
    pending->name_has_nul = fields_with_nul & FIELD_BIT(AUTHENTICATE_NAME);
    pending->password_has_nul = fields_with_nul & FIELD_BIT(AUTHENTICATE_PASSWORD);
    size_t length = strlen(request->password);
    if (length > SIGNIFICANT_PASSWORD_BYTES) length = SIGNIFICANT_PASSWORD_BYTES;
    memcpy(pending->check.password, request->password, length);
    start_authentication(server, pending);
}

void requests_finish_password_checks(Server *server) {
    PasswordCheck *done = password_verifier_take_done(server->verifier);
    while (done != NULL) {
        PasswordCheck *next = done->next;
        finish_authentication(server, (PendingAuthentication *)done);
        done = next;
    }
}

void requests_discard_password_checks(PasswordCheck *checks) {
    while (checks != NULL) {
        PasswordCheck *next = checks->next;
        pending_free((PendingAuthentication *)checks);
        checks = next;
    }
}

/* Reads */

static void user_get(Server *server, const BusCaller *caller, const Etcdserverpb__AuthUserGetRequest *request,
                     uint64_t fields_with_nul) {
    const User *user = fields_with_nul & FIELD_BIT(USER_GET_NAME) ? NULL : auth_state_user(server->state, request->name);
    if (user == NULL) return send_error(server, caller, "auth.user_not_found", "");
    Etcdserverpb__AuthUserGetResponse response = ETCDSERVERPB__AUTH_USER_GET_RESPONSE__INIT;
    response.roles = user->roles;
    response.n_roles = user->role_count;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_USER_GET;
    reply.user_get = &response;
    send_reply(server, caller, &reply);
}

/* The names of `count` users or roles (both start with their name) for a list reply, borrowed. */
static char **names_of(const void *items, size_t count, size_t item_size) {
    char **names = calloc(count + 1, sizeof(char *));
    for (size_t i = 0; names != NULL && i < count; i++) names[i] = *(char *const *)((const char *)items + i * item_size);
    return names;
}

static void user_list(Server *server, const BusCaller *caller) {
    char **names = names_of(server->state->users, server->state->user_count, sizeof(User));
    if (names == NULL) return send_error(server, caller, "storage.failure", "out of memory");
    Etcdserverpb__AuthUserListResponse response = ETCDSERVERPB__AUTH_USER_LIST_RESPONSE__INIT;
    response.users = names;
    response.n_users = server->state->user_count;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_USER_LIST;
    reply.user_list = &response;
    send_reply(server, caller, &reply);
    free(names);
}

static void role_get(Server *server, const BusCaller *caller, const Etcdserverpb__AuthRoleGetRequest *request,
                     uint64_t fields_with_nul) {
    const Role *role = fields_with_nul & FIELD_BIT(ROLE_GET_ROLE) ? NULL : auth_state_role(server->state, request->role);
    if (role == NULL) return send_error(server, caller, "auth.role_not_found", "");
    Authpb__Permission *permissions = calloc(role->permission_count + 1, sizeof *permissions);
    Authpb__Permission **pointers = calloc(role->permission_count + 1, sizeof *pointers);
    if (permissions == NULL || pointers == NULL) {
        free(permissions);
        free(pointers);
        return send_error(server, caller, "storage.failure", "out of memory");
    }
    for (size_t i = 0; i < role->permission_count; i++) {
        const Permission *permission = &role->permissions[i];
        authpb__permission__init(&permissions[i]);
        permissions[i].permtype = (Authpb__Permission__Type)permission->type;
        permissions[i].key = (ProtobufCBinaryData){permission->key.length, permission->key.data};
        permissions[i].range_end = (ProtobufCBinaryData){permission->range_end.length, permission->range_end.data};
        pointers[i] = &permissions[i];
    }
    Etcdserverpb__AuthRoleGetResponse response = ETCDSERVERPB__AUTH_ROLE_GET_RESPONSE__INIT;
    response.perm = pointers;
    response.n_perm = role->permission_count;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_ROLE_GET;
    reply.role_get = &response;
    send_reply(server, caller, &reply);
    free(permissions);
    free(pointers);
}

static void role_list(Server *server, const BusCaller *caller) {
    char **names = names_of(server->state->roles, server->state->role_count, sizeof(Role));
    if (names == NULL) return send_error(server, caller, "storage.failure", "out of memory");
    Etcdserverpb__AuthRoleListResponse response = ETCDSERVERPB__AUTH_ROLE_LIST_RESPONSE__INIT;
    response.roles = names;
    response.n_roles = server->state->role_count;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_ROLE_LIST;
    reply.role_list = &response;
    send_reply(server, caller, &reply);
    free(names);
}

/* Whose a token is; each resolution renews it. An empty token, or one with NUL, is never valid. */
static void resolve_token(Server *server, const BusCaller *caller, const Etcetera__Auth__ResolveTokenRequest *request,
                          uint64_t fields_with_nul) {
    const char *user = NULL;
    if (request->token[0] != '\0' && !(fields_with_nul & FIELD_BIT(RESOLVE_TOKEN_TOKEN)))
        user = token_store_resolve(server->tokens, request->token, monotonic_milliseconds());
    if (user == NULL) return send_error(server, caller, "auth.invalid_token", "");
    Etcetera__Auth__ResolvedToken resolved = ETCETERA__AUTH__RESOLVED_TOKEN__INIT;
    resolved.user = (char *)user;
    resolved.auth_revision = server->revision;
    Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
    reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_RESOLVE_TOKEN;
    reply.resolve_token = &resolved;
    send_reply(server, caller, &reply);
}

/* The snapshot is packed once per revision and sent as it is until the next change. */
static void permissions(Server *server, const BusCaller *caller) {
    if (server->snapshot_reply == NULL || server->snapshot_revision != server->revision) {
        free(server->snapshot_reply);
        server->snapshot_reply = snapshot_reply_pack(server->state, server->revision, &server->snapshot_reply_length);
        server->snapshot_revision = server->revision;
        if (server->snapshot_reply == NULL) return send_error(server, caller, "storage.failure", "out of memory");
    }
    bus_send_final(server->router, caller, server->snapshot_reply, server->snapshot_reply_length);
}

void requests_handle(Server *server, const BusCaller *caller, const uint8_t *payload, size_t length) {
    Etcetera__Auth__AuthRequest *request = etcetera__auth__auth_request__unpack(NULL, length, payload);
    uint64_t fields_with_nul = 0;
    if (request == NULL || request->request_case == ETCETERA__AUTH__AUTH_REQUEST__REQUEST__NOT_SET
        || !auth_request_strings_check(payload, length, &fields_with_nul)) {
        log_message(LOG_ERROR, "auth request failed: error=bus.malformed_request (%zu bytes)", length);
        send_error(server, caller, "bus.malformed_request", "undecodable AuthRequest");
        if (request != NULL) etcetera__auth__auth_request__free_unpacked(request, NULL);
        return;
    }
    switch (request->request_case) {
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_AUTHENTICATE:
        authenticate(server, caller, request->authenticate, fields_with_nul);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_USER_GET:
        user_get(server, caller, request->user_get, fields_with_nul);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_USER_LIST:
        user_list(server, caller);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_ROLE_GET:
        role_get(server, caller, request->role_get, fields_with_nul);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_ROLE_LIST:
        role_list(server, caller);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_RESOLVE_TOKEN:
        resolve_token(server, caller, request->resolve_token, fields_with_nul);
        break;
    case ETCETERA__AUTH__AUTH_REQUEST__REQUEST_PERMISSIONS:
        permissions(server, caller);
        break;
    default:
        refuse_change(server, caller);
        break;
    }
    /* The request's strings are copied where they are kept (a pending authentication's name and password). */
    if (request->request_case == ETCETERA__AUTH__AUTH_REQUEST__REQUEST_AUTHENTICATE)
        explicit_bzero(request->authenticate->password, strlen(request->authenticate->password));
    etcetera__auth__auth_request__free_unpacked(request, NULL);
}
