/* Unit tests of the pieces that decide answers: the auth file's rules, the merged ranges of the permission
 * snapshot, the wire checks and the token store. `make check` runs them; the bus contract itself is tested
 * against the running executable by the shared backend contract suite. */
#include "auth_state.h"
#include "etcetera/auth_service.pb-c.h"
#include "key_ranges.h"
#include "snapshot.h"
#include "tokens.h"
#include "wire_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

#define EXPECT(condition)                                                                    \
    do {                                                                                     \
        if (condition) {                                                                     \
            passed++;                                                                        \
        } else {                                                                             \
            failed++;                                                                        \
            fprintf(stderr, "%s:%d: %s: expected %s\n", __FILE__, __LINE__, __func__, #condition); \
        }                                                                                    \
    } while (0)

/* A valid bcrypt string (of "pw"); only its form matters here. */
#define HASH "$2b$10$l5yWmLzXEtqNdbviKruV7OA068q0IoBsNXrVy98c29/77FPit9QnS"

static char file_path[64];

static AuthState *load_text(const char *text, char *problem, size_t problem_size) {
    FILE *file = fopen(file_path, "w");
    fputs(text, file);
    fclose(file);
    return auth_state_load(file_path, problem, problem_size);
}

/* Loaded; a refusal fails the test and shows the problem. */
static AuthState *load_valid(const char *text) {
    char problem[512] = "";
    AuthState *state = load_text(text, problem, sizeof problem);
    EXPECT(state != NULL);
    if (state == NULL) fprintf(stderr, "  refused: %s\n", problem);
    return state;
}

/* Refused, with a problem that contains `expected`. */
static bool refused_with(const char *text, const char *expected) {
    char problem[512] = "";
    AuthState *state = load_text(text, problem, sizeof problem);
    auth_state_free(state);
    bool matches = state == NULL && strstr(problem, expected) != NULL;
    if (!matches) fprintf(stderr, "  file %s\n  gave \"%s\", expected \"%s\"\n", text, problem, expected);
    return matches;
}

static void test_file_is_normalised(void) {
    AuthState *state = load_valid(
        "{\"enabled\": true,"
        " \"users\": [{\"name\": \"zed\", \"password_hash\": \"" HASH "\", \"roles\": [\"w\", \"r\", \"w\"]},"
        "             {\"name\": \"alice\", \"no_password\": true}],"
        " \"roles\": [{\"name\": \"w\", \"permissions\": ["
        "    {\"type\": \"WRITE\", \"key\": \"b\"}, {\"type\": \"READ\", \"key\": \"a\", \"range_end\": \"c\"},"
        "    {\"type\": \"READWRITE\", \"key\": \"a\"}]},"
        "   {\"name\": \"r\"}]}");
    if (state == NULL) return;
    EXPECT(state->enabled);
    EXPECT(state->user_count == 2 && strcmp(state->users[0].name, "alice") == 0 && strcmp(state->users[1].name, "zed") == 0);
    EXPECT(state->users[0].password_hash == NULL && state->users[0].role_count == 0);
    const User *zed = auth_state_user(state, "zed");
    EXPECT(zed != NULL && zed->role_count == 2 && strcmp(zed->roles[0], "r") == 0 && strcmp(zed->roles[1], "w") == 0);
    const Role *w = auth_state_role(state, "w");
    /* Sorted by key; the two permissions on "a" keep the file's order. */
    EXPECT(w != NULL && w->permission_count == 3);
    EXPECT(w->permissions[0].type == PERMISSION_READ && w->permissions[0].range_end.length == 1);
    EXPECT(w->permissions[1].type == PERMISSION_READWRITE && w->permissions[1].range_end.length == 0);
    EXPECT(w->permissions[2].key.length == 1 && w->permissions[2].key.data[0] == 'b');
    EXPECT(state->role_count == 2 && strcmp(state->roles[0].name, "r") == 0);

    AuthState *reordered = load_valid(
        "{\"roles\": [{\"name\": \"r\", \"permissions\": []}, {\"name\": \"w\", \"permissions\": ["
        "    {\"type\": \"READ\", \"key\": \"a\", \"range_end\": \"c\"}, {\"type\": \"WRITE\", \"key\": \"b\"},"
        "    {\"type\": \"READWRITE\", \"key\": \"a\", \"range_end\": \"\"}]}],"
        " \"users\": [{\"name\": \"alice\", \"no_password\": true, \"roles\": []},"
        "             {\"name\": \"zed\", \"password_hash\": \"" HASH "\", \"roles\": [\"r\", \"w\"]}],"
        " \"enabled\": true}");
    EXPECT(reordered != NULL && auth_state_equal(state, reordered));
    auth_state_free(reordered);
    AuthState *disabled = load_valid("{\"users\": [], \"roles\": []}");
    EXPECT(disabled != NULL && !disabled->enabled && !auth_state_equal(state, disabled));
    auth_state_free(disabled);
    auth_state_free(state);
}

static void test_file_rules(void) {
    EXPECT(refused_with("{\"enabled\": tru", "not valid JSON"));
    EXPECT(refused_with("[]", "not a JSON object"));
    EXPECT(refused_with("{\"enabled\": 1}", "\"enabled\" is not a boolean"));
    EXPECT(refused_with("{\"enabled\": true, \"enabled\": false}", "same key twice"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\"}]}", "exactly one of"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"no_password\": true, \"password_hash\": \"" HASH "\"}]}",
                        "exactly one of"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"password_hash\": \"$1$md5\"}]}", "not a bcrypt hash"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"\", \"no_password\": true}]}", "name is empty"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\\u0000b\", \"no_password\": true}]}", "NUL"));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"no_password\": true}, {\"name\": \"a\", \"no_password\": true}]}",
                        "two users are named \"a\""));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"no_password\": true, \"roles\": \"r\"}]}", "not an array"));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\"}, {\"name\": \"r\"}]}", "two roles are named \"r\""));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"ALL\", \"key\": \"k\"}]}]}",
                        "not READ, WRITE or READWRITE"));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\", \"key\": \"\"}]}]}",
                        "\"key\" is empty"));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\"}]}]}", "\"key\" is missing"));
    /* Misspelt keys, at every level, as the Swift file backend refuses them. */
    EXPECT(refused_with("{\"enabled\": true, \"user\": []}", "unknown key \"user\""));
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"no_password\": true, \"role\": []}]}", "unknown key \"role\""));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\", \"permisions\": []}]}", "unknown key \"permisions\""));
    EXPECT(refused_with("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\", \"key\": \"k\", \"rangeEnd\": \"z\"}]}]}",
                        "unknown key \"rangeEnd\""));
    /* A broken file is described without quoting it: the text near the error may be a hash. */
    EXPECT(refused_with("{\"users\": [{\"name\": \"a\", \"password_hash\": \"" HASH "\" x}]}", "not valid JSON"));
    char problem[512];
    AuthState *state = load_text("{\"users\": [{\"name\": \"a\", \"password_hash\": \"" HASH "\" x}]}", problem, sizeof problem);
    EXPECT(state == NULL && strstr(problem, "l5yWmLz") == NULL);
}

static Permission permission(PermissionType type, const char *key, size_t key_length, const char *range_end,
                             size_t range_end_length) {
    return (Permission){type, {(uint8_t *)key, key_length}, {(uint8_t *)range_end, range_end_length}};
}

static bool bound_is(const KeyBound *bound, const char *bytes, size_t length) {
    if (bound->infinite) return bytes == NULL;
    if (bytes == NULL || bound->length + bound->zero_appended != length) return false;
    return memcmp(bound->data, bytes, bound->length) == 0 && (!bound->zero_appended || bytes[length - 1] == 0);
}

static void test_ranges_merge_as_keyintervalset(void) {
    Permission permissions[] = {
        permission(PERMISSION_READ, "b", 1, "c", 1),          /* [b, c) */
        permission(PERMISSION_READ, "a", 1, "b", 1),          /* [a, b): adjacent to [b, c), so one range */
        permission(PERMISSION_READ, "k", 1, "", 0),           /* [k, k\0) */
        permission(PERMISSION_READ, "k\0", 2, "", 0),         /* [k\0, k\0\0): adjacent again */
        permission(PERMISSION_READ, "z", 1, "m", 1),          /* inverted: covers nothing */
        permission(PERMISSION_READ, "x", 1, "\0", 1),         /* [x, +inf) */
        permission(PERMISSION_READ, "y", 1, "y1", 2),         /* inside [x, +inf) */
        permission(PERMISSION_READ, "bb", 2, "bc", 2),        /* inside [a, c) */
    };
    size_t count = sizeof permissions / sizeof permissions[0];
    KeyInterval intervals[sizeof permissions / sizeof permissions[0]];
    for (size_t i = 0; i < count; i++) intervals[i] = key_interval_of(&permissions[i]);
    size_t merged = key_intervals_merge(intervals, count);
    EXPECT(merged == 3);
    if (merged != 3) return;
    EXPECT(bound_is(&intervals[0].begin, "a", 1) && bound_is(&intervals[0].end, "c", 1));
    EXPECT(bound_is(&intervals[1].begin, "k", 1) && bound_is(&intervals[1].end, "k\0\0", 3));
    EXPECT(bound_is(&intervals[2].begin, "x", 1) && bound_is(&intervals[2].end, NULL, 0));
}

static void test_ranges_with_a_gap_stay_apart(void) {
    Permission permissions[] = {
        permission(PERMISSION_READ, "k", 1, "", 0),   /* [k, k\0) */
        permission(PERMISSION_READ, "k\1", 2, "", 0), /* [k\1, k\1\0): k\0 lies between */
    };
    KeyInterval intervals[2] = {key_interval_of(&permissions[0]), key_interval_of(&permissions[1])};
    EXPECT(key_intervals_merge(intervals, 2) == 2);
}

static void test_snapshot(void) {
    AuthState *state = load_valid(
        "{\"enabled\": true, \"users\": ["
        "  {\"name\": \"root\", \"no_password\": true, \"roles\": [\"root\"]},"
        "  {\"name\": \"alice\", \"no_password\": true, \"roles\": [\"w\", \"ghost\", \"r\"]}],"
        " \"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\", \"key\": \"/a/\", \"range_end\": \"/a0\"},"
        "                                              {\"type\": \"READWRITE\", \"key\": \"cfg\"}]},"
        "            {\"name\": \"w\", \"permissions\": [{\"type\": \"WRITE\", \"key\": \"logs/\", \"range_end\": \"\\u0000\"}]}]}");
    if (state == NULL) return;
    size_t length;
    uint8_t *packed = snapshot_reply_pack(state, 7, &length);
    Etcetera__Auth__AuthReply *reply = etcetera__auth__auth_reply__unpack(NULL, length, packed);
    EXPECT(reply != NULL && reply->auth_revision == 7 && reply->reply_case == ETCETERA__AUTH__AUTH_REPLY__REPLY_PERMISSIONS);
    if (reply != NULL && reply->reply_case == ETCETERA__AUTH__AUTH_REPLY__REPLY_PERMISSIONS) {
        Etcetera__Auth__PermissionSnapshot *snapshot = reply->permissions;
        EXPECT(snapshot->enabled && snapshot->revision == 7 && snapshot->n_users == 2);
        Etcetera__Auth__UserPermissions *alice = snapshot->users[0], *root = snapshot->users[1];
        EXPECT(strcmp(alice->name, "alice") == 0 && !alice->is_root);
        EXPECT(alice->n_roles == 3 && strcmp(alice->roles[0], "ghost") == 0 && strcmp(alice->roles[2], "w") == 0);
        EXPECT(alice->n_read == 2 && alice->n_write == 2);
        if (alice->n_read == 2 && alice->n_write == 2) {
            EXPECT(alice->read[1]->range_end.len == 4 && memcmp(alice->read[1]->range_end.data, "cfg", 4) == 0);
            EXPECT(alice->write[1]->key.len == 5 && alice->write[1]->range_end.len == 1 && alice->write[1]->range_end.data[0] == 0);
        }
        EXPECT(strcmp(root->name, "root") == 0 && root->is_root && root->n_read == 0);
    }
    etcetera__auth__auth_reply__free_unpacked(reply, NULL);
    free(packed);
    auth_state_free(state);
}

static void test_wire_checks(void) {
    uint8_t user_get[] = {0x2a, 0x07, 0x0a, 0x05, 'a', 'l', 'i', 'c', 'e'}; /* user_get { name: "alice" } */
    uint64_t fields_with_nul;
    EXPECT(auth_request_strings_check(user_get, sizeof user_get, &fields_with_nul) && fields_with_nul == 0);
    user_get[6] = 0;
    EXPECT(auth_request_strings_check(user_get, sizeof user_get, &fields_with_nul) && fields_with_nul == FIELD_BIT(1));
    user_get[6] = 0xff;
    EXPECT(!auth_request_strings_check(user_get, sizeof user_get, &fields_with_nul));
    uint8_t overlong[] = {0x2a, 0x04, 0x0a, 0x02, 0xc0, 0xaf}; /* "/" encoded in two bytes */
    EXPECT(!auth_request_strings_check(overlong, sizeof overlong, &fields_with_nul));
    uint8_t cut_short[] = {0x2a, 0x07, 0x0a, 0x05, 'a'};
    EXPECT(!auth_request_strings_check(cut_short, sizeof cut_short, &fields_with_nul));
}

static bool is_alice(const char *user, void *context) {
    (void)context;
    return strcmp(user, "alice") == 0;
}

static void test_tokens(void) {
    TokenStore *store = token_store_new(1000);
    char alice[64], bob[64];
    snprintf(alice, sizeof alice, "%s", token_store_issue(store, "alice", 0));
    snprintf(bob, sizeof bob, "%s", token_store_issue(store, "bob", 0));
    EXPECT(strcmp(alice, bob) != 0 && strlen(alice) > 17 && alice[16] == '.');
    const char *user = token_store_resolve(store, alice, 1000);
    EXPECT(user != NULL && strcmp(user, "alice") == 0);
    /* The use at 1000 renewed alice's token; bob's expired at 1000. */
    EXPECT(token_store_resolve(store, alice, 1900) != NULL);
    EXPECT(token_store_resolve(store, bob, 1001) == NULL);
    token_store_end_where(store, is_alice, NULL);
    EXPECT(token_store_resolve(store, alice, 1901) == NULL);
    char carol[64];
    snprintf(carol, sizeof carol, "%s", token_store_issue(store, "carol", 2000));
    token_store_remove_expired(store, 3001);
    EXPECT(token_store_resolve(store, carol, 3000) == NULL);
    token_store_free(store);
}

int main(void) {
    snprintf(file_path, sizeof file_path, "/tmp/etcetera-auth-c-test-%ld.json", (long)getpid());
    test_file_is_normalised();
    test_file_rules();
    test_ranges_merge_as_keyintervalset();
    test_ranges_with_a_gap_stay_apart();
    test_snapshot();
    test_wire_checks();
    test_tokens();
    unlink(file_path);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
