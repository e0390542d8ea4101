#include "auth_state.h"

#include <stdlib.h>
#include <string.h>

int bytes_compare(const uint8_t *left, size_t left_length, const uint8_t *right, size_t right_length) {
    size_t common = left_length < right_length ? left_length : right_length;
    int order = common == 0 ? 0 : memcmp(left, right, common);
    if (order != 0) return order;
    return (left_length > right_length) - (left_length < right_length);
}

static bool bytes_equal(const Bytes *left, const Bytes *right) {
    return left->length == right->length && (left->length == 0 || memcmp(left->data, right->data, left->length) == 0);
}

static bool optional_string_equal(const char *left, const char *right) {
    if (left == NULL || right == NULL) return left == right;
    return strcmp(left, right) == 0;
}

static bool user_equal(const User *left, const User *right) {
    if (strcmp(left->name, right->name) != 0 || !optional_string_equal(left->password_hash, right->password_hash)
        || left->role_count != right->role_count)
        return false;
    for (size_t i = 0; i < left->role_count; i++)
        if (strcmp(left->roles[i], right->roles[i]) != 0) return false;
    return true;
}

static bool role_equal(const Role *left, const Role *right) {
    if (strcmp(left->name, right->name) != 0 || left->permission_count != right->permission_count) return false;
    for (size_t i = 0; i < left->permission_count; i++) {
        const Permission *a = &left->permissions[i], *b = &right->permissions[i];
        if (a->type != b->type || !bytes_equal(&a->key, &b->key) || !bytes_equal(&a->range_end, &b->range_end))
            return false;
    }
    return true;
}

bool auth_state_equal(const AuthState *left, const AuthState *right) {
    if (left->enabled != right->enabled || left->user_count != right->user_count
        || left->role_count != right->role_count)
        return false;
    for (size_t i = 0; i < left->user_count; i++)
        if (!user_equal(&left->users[i], &right->users[i])) return false;
    for (size_t i = 0; i < left->role_count; i++)
        if (!role_equal(&left->roles[i], &right->roles[i])) return false;
    return true;
}

static int compare_name_with_user(const void *name, const void *user) {
    return strcmp(name, ((const User *)user)->name);
}

static int compare_name_with_role(const void *name, const void *role) {
    return strcmp(name, ((const Role *)role)->name);
}

static int compare_name_with_string(const void *name, const void *string) {
    return strcmp(name, *(char *const *)string);
}

const User *auth_state_user(const AuthState *state, const char *name) {
    return bsearch(name, state->users, state->user_count, sizeof(User), compare_name_with_user);
}

const Role *auth_state_role(const AuthState *state, const char *name) {
    return bsearch(name, state->roles, state->role_count, sizeof(Role), compare_name_with_role);
}

bool user_has_role(const User *user, const char *role) {
    return bsearch(role, user->roles, user->role_count, sizeof(char *), compare_name_with_string) != NULL;
}

void auth_state_free(AuthState *state) {
    if (state == NULL) return;
    for (size_t i = 0; i < state->user_count; i++) {
        User *user = &state->users[i];
        free(user->name);
        free(user->password_hash);
        for (size_t j = 0; j < user->role_count; j++) free(user->roles[j]);
        free(user->roles);
    }
    for (size_t i = 0; i < state->role_count; i++) {
        Role *role = &state->roles[i];
        free(role->name);
        for (size_t j = 0; j < role->permission_count; j++) {
            free(role->permissions[j].key.data);
            free(role->permissions[j].range_end.data);
        }
        free(role->permissions);
    }
    free(state->users);
    free(state->roles);
    free(state);
}
