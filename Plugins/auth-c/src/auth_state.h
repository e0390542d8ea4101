#ifndef ETCETERA_AUTH_C_AUTH_STATE_H
#define ETCETERA_AUTH_C_AUTH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte string that may hold NUL (keys and range ends are etcd bytes, not C strings). */
typedef struct {
    uint8_t *data;
    size_t length;
} Bytes;

/* Byte order, as etcd compares keys: memcmp, then the shorter first. */
int bytes_compare(const uint8_t *left, size_t left_length, const uint8_t *right, size_t right_length);

/* authpb.Permission.Type's numbers, so a permission goes on the wire as it is. */
typedef enum { PERMISSION_READ = 0, PERMISSION_WRITE = 1, PERMISSION_READWRITE = 2 } PermissionType;

typedef struct {
    PermissionType type;
    Bytes key;       /* never empty */
    Bytes range_end; /* empty: the single key; "\0": every key from `key` on */
} Permission;

/* Role and User start with their name (requests.c lists either by it). */
typedef struct {
    char *name;
    Permission *permissions; /* sorted by key, the file's order kept among equal keys (etcd's RoleGet order) */
    size_t permission_count;
} Role;

typedef struct {
    char *name;
    char *password_hash; /* a bcrypt string; NULL for a no_password user */
    char **roles;        /* sorted by bytes, no duplicates; may name roles that do not exist */
    size_t role_count;
} User;

/* Everything the auth file says, normalised so that equal files give equal states whatever their order:
 * users and roles sorted by name. Names hold no NUL, so C strings and strcmp (byte order) serve. */
typedef struct {
    bool enabled;
    User *users;
    size_t user_count;
    Role *roles;
    size_t role_count;
} AuthState;

/* Reads and checks the auth file (its rules are in README.md beside the Makefile). NULL on any problem, with one line
 * naming it in `problem`. */
AuthState *auth_state_load(const char *path, char *problem, size_t problem_size);
void auth_state_free(AuthState *state);

/* Whether two states answer every request alike. */
bool auth_state_equal(const AuthState *left, const AuthState *right);

const User *auth_state_user(const AuthState *state, const char *name);
const Role *auth_state_role(const AuthState *state, const char *name);
bool user_has_role(const User *user, const char *role);

/* The role etcd treats as "allowed everything, and the only admin". */
#define ROOT_ROLE "root"

#endif
