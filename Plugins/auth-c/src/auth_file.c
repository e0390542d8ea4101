/* Reading the auth file (/work/notes/auth-file-format.md, summed up in README.md) into an AuthState. */
#include "auth_state.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A bound on what is read into memory; an auth file is a few kilobytes. */
#define MAX_FILE_BYTES (64u * 1024u * 1024u)

typedef struct {
    char *problem;
    size_t problem_size;
} Loader;

__attribute__((format(printf, 2, 3))) static bool refuse(Loader *loader, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(loader->problem, loader->problem_size, format, arguments);
    va_end(arguments);
    return false;
}

/* A copy of a JSON string as a C string; refused when it is empty (unless allowed) or holds NUL. */
static bool copy_name(Loader *loader, json_t *value, const char *what, bool allow_empty, char **copy) {
    if (!json_is_string(value)) return refuse(loader, "%s is not a string", what);
    size_t length = json_string_length(value);
    const char *text = json_string_value(value);
    if (!allow_empty && length == 0) return refuse(loader, "%s is empty", what);
    if (strlen(text) != length) return refuse(loader, "%s contains a NUL character", what);
    *copy = strdup(text);
    if (*copy == NULL) return refuse(loader, "out of memory");
    return true;
}

static bool copy_bytes(Loader *loader, json_t *value, const char *what, Bytes *copy) {
    if (!json_is_string(value)) return refuse(loader, "%s is not a string", what);
    copy->length = json_string_length(value);
    copy->data = malloc(copy->length + 1);
    if (copy->data == NULL) return refuse(loader, "out of memory");
    memcpy(copy->data, json_string_value(value), copy->length);
    return true;
}

/* An optional array member: absent means empty. */
static bool optional_array(Loader *loader, json_t *object, const char *key, const char *where, json_t **array) {
    *array = json_object_get(object, key);
    if (*array != NULL && !json_is_array(*array)) return refuse(loader, "%s\"%s\" is not an array", where, key);
    return true;
}

/* Refuses a member the format does not define: a misspelt key (say "permisions") would otherwise be
 * dropped silently and change who may do what. `known` ends with NULL. */
static bool only_known_keys(Loader *loader, json_t *object, const char *where, const char *const *known) {
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        (void)value;
        bool found = false;
        for (const char *const *name = known; *name != NULL && !found; name++) found = strcmp(key, *name) == 0;
        if (!found) return refuse(loader, "%sunknown key \"%.40s\"", where, key);
    }
    return true;
}

/* bcrypt's modular crypt string as etcd and Etcetera store it: 60 characters, `$2a$`, `$2b$` or `$2y$`,
 * the cost and a `$`. The same test as the Swift PasswordHash. */
static bool is_bcrypt_hash(const char *hash) {
    return strlen(hash) == 60 && hash[0] == '$' && hash[1] == '2' && strchr("aby", hash[2]) != NULL && hash[3] == '$'
        && hash[6] == '$';
}

static int compare_strings(const void *left, const void *right) {
    return strcmp(*(char *const *)left, *(char *const *)right);
}

static bool load_user(Loader *loader, json_t *object, size_t index, User *user) {
    char where[64];
    snprintf(where, sizeof where, "users[%zu]: ", index);
    char what[96];
    if (!json_is_object(object)) return refuse(loader, "users[%zu] is not an object", index);
    static const char *const user_keys[] = {"name", "password_hash", "no_password", "roles", NULL};
    if (!only_known_keys(loader, object, where, user_keys)) return false;
    snprintf(what, sizeof what, "%sname", where);
    json_t *name = json_object_get(object, "name");
    if (name == NULL) return refuse(loader, "%s\"name\" is missing", where);
    if (!copy_name(loader, name, what, false, &user->name)) return false;

    json_t *no_password = json_object_get(object, "no_password");
    if (no_password != NULL && !json_is_boolean(no_password))
        return refuse(loader, "user \"%s\": \"no_password\" is not a boolean", user->name);
    json_t *hash = json_object_get(object, "password_hash");
    bool has_no_password = no_password != NULL && json_is_true(no_password);
    if (has_no_password == (hash != NULL))
        return refuse(loader, "user \"%s\" needs exactly one of \"password_hash\" and \"no_password\": true", user->name);
    if (hash != NULL) {
        snprintf(what, sizeof what, "user \"%.40s\": password_hash", user->name);
        if (!copy_name(loader, hash, what, false, &user->password_hash)) return false;
        /* The message names the user, never the hash. */
        if (!is_bcrypt_hash(user->password_hash))
            return refuse(loader, "user \"%s\": \"password_hash\" is not a bcrypt hash ($2a$, $2b$ or $2y$)", user->name);
    }

    json_t *roles;
    snprintf(where, sizeof where, "user \"%.40s\": ", user->name);
    if (!optional_array(loader, object, "roles", where, &roles)) return false;
    size_t count = roles == NULL ? 0 : json_array_size(roles);
    user->roles = calloc(count + 1, sizeof(char *));
    if (user->roles == NULL) return refuse(loader, "out of memory");
    for (size_t i = 0; i < count; i++) {
        snprintf(what, sizeof what, "user \"%.40s\": roles[%zu]", user->name, i);
        if (!copy_name(loader, json_array_get(roles, i), what, false, &user->roles[user->role_count])) return false;
        user->role_count++;
    }
    qsort(user->roles, user->role_count, sizeof(char *), compare_strings);
    size_t kept = 0;
    for (size_t i = 0; i < user->role_count; i++) {
        if (kept > 0 && strcmp(user->roles[kept - 1], user->roles[i]) == 0) {
            free(user->roles[i]);
        } else {
            user->roles[kept++] = user->roles[i];
        }
    }
    user->role_count = kept;
    return true;
}

static bool load_permission(Loader *loader, json_t *object, const char *role, size_t index, Permission *permission) {
    char what[96];
    if (!json_is_object(object)) return refuse(loader, "role \"%s\": permissions[%zu] is not an object", role, index);
    char where[96];
    snprintf(where, sizeof where, "role \"%.40s\": permissions[%zu]: ", role, index);
    static const char *const permission_keys[] = {"type", "key", "range_end", NULL};
    if (!only_known_keys(loader, object, where, permission_keys)) return false;
    json_t *type = json_object_get(object, "type");
    const char *type_name = json_string_value(type);
    if (type_name == NULL) return refuse(loader, "role \"%s\": permissions[%zu]: \"type\" is missing or not a string", role, index);
    if (strcmp(type_name, "READ") == 0 && json_string_length(type) == 4) {
        permission->type = PERMISSION_READ;
    } else if (strcmp(type_name, "WRITE") == 0 && json_string_length(type) == 5) {
        permission->type = PERMISSION_WRITE;
    } else if (strcmp(type_name, "READWRITE") == 0 && json_string_length(type) == 9) {
        permission->type = PERMISSION_READWRITE;
    } else {
        return refuse(loader, "role \"%s\": permissions[%zu]: \"type\" is not READ, WRITE or READWRITE", role, index);
    }
    json_t *key = json_object_get(object, "key");
    if (key == NULL) return refuse(loader, "role \"%s\": permissions[%zu]: \"key\" is missing", role, index);
    snprintf(what, sizeof what, "role \"%.40s\": permissions[%zu]: key", role, index);
    if (!copy_bytes(loader, key, what, &permission->key)) return false;
    if (permission->key.length == 0) return refuse(loader, "role \"%s\": permissions[%zu]: \"key\" is empty", role, index);
    json_t *range_end = json_object_get(object, "range_end");
    if (range_end != NULL) {
        snprintf(what, sizeof what, "role \"%.40s\": permissions[%zu]: range_end", role, index);
        if (!copy_bytes(loader, range_end, what, &permission->range_end)) return false;
    }
    return true;
}

typedef struct {
    Permission permission;
    size_t position;
} PlacedPermission;

static int compare_placed_permissions(const void *left, const void *right) {
    const PlacedPermission *a = left, *b = right;
    int order = bytes_compare(a->permission.key.data, a->permission.key.length, b->permission.key.data,
                              b->permission.key.length);
    if (order != 0) return order;
    return (a->position > b->position) - (a->position < b->position);
}

/* Sorts by key and keeps the file's order among permissions with the same key. */
static bool sort_permissions(Loader *loader, Role *role) {
    if (role->permission_count < 2) return true;
    PlacedPermission *placed = calloc(role->permission_count, sizeof *placed);
    if (placed == NULL) return refuse(loader, "out of memory");
    for (size_t i = 0; i < role->permission_count; i++) placed[i] = (PlacedPermission){role->permissions[i], i};
    qsort(placed, role->permission_count, sizeof *placed, compare_placed_permissions);
    for (size_t i = 0; i < role->permission_count; i++) role->permissions[i] = placed[i].permission;
    free(placed);
    return true;
}

static bool load_role(Loader *loader, json_t *object, size_t index, Role *role) {
    char what[64];
    if (!json_is_object(object)) return refuse(loader, "roles[%zu] is not an object", index);
    char keys_where[64];
    snprintf(keys_where, sizeof keys_where, "roles[%zu]: ", index);
    static const char *const role_keys[] = {"name", "permissions", NULL};
    if (!only_known_keys(loader, object, keys_where, role_keys)) return false;
    json_t *name = json_object_get(object, "name");
    if (name == NULL) return refuse(loader, "roles[%zu]: \"name\" is missing", index);
    snprintf(what, sizeof what, "roles[%zu]: name", index);
    if (!copy_name(loader, name, what, false, &role->name)) return false;
    json_t *permissions;
    char where[64];
    snprintf(where, sizeof where, "role \"%.40s\": ", role->name);
    if (!optional_array(loader, object, "permissions", where, &permissions)) return false;
    size_t count = permissions == NULL ? 0 : json_array_size(permissions);
    role->permissions = calloc(count + 1, sizeof(Permission));
    if (role->permissions == NULL) return refuse(loader, "out of memory");
    for (size_t i = 0; i < count; i++) {
        role->permission_count++;
        if (!load_permission(loader, json_array_get(permissions, i), role->name, i, &role->permissions[i])) return false;
    }
    return sort_permissions(loader, role);
}

static int compare_users(const void *left, const void *right) {
    return strcmp(((const User *)left)->name, ((const User *)right)->name);
}

static int compare_roles(const void *left, const void *right) {
    return strcmp(((const Role *)left)->name, ((const Role *)right)->name);
}

static bool load_document(Loader *loader, json_t *document, AuthState *state) {
    if (!json_is_object(document)) return refuse(loader, "the document is not a JSON object");
    static const char *const document_keys[] = {"enabled", "users", "roles", NULL};
    if (!only_known_keys(loader, document, "", document_keys)) return false;
    json_t *enabled = json_object_get(document, "enabled");
    if (enabled != NULL && !json_is_boolean(enabled)) return refuse(loader, "\"enabled\" is not a boolean");
    state->enabled = enabled != NULL && json_is_true(enabled);

    json_t *users, *roles;
    if (!optional_array(loader, document, "users", "", &users) || !optional_array(loader, document, "roles", "", &roles))
        return false;
    size_t user_count = users == NULL ? 0 : json_array_size(users);
    size_t role_count = roles == NULL ? 0 : json_array_size(roles);
    state->users = calloc(user_count + 1, sizeof(User));
    state->roles = calloc(role_count + 1, sizeof(Role));
    if (state->users == NULL || state->roles == NULL) return refuse(loader, "out of memory");
    for (size_t i = 0; i < user_count; i++) {
        state->user_count++;
        if (!load_user(loader, json_array_get(users, i), i, &state->users[i])) return false;
    }
    for (size_t i = 0; i < role_count; i++) {
        state->role_count++;
        if (!load_role(loader, json_array_get(roles, i), i, &state->roles[i])) return false;
    }
    qsort(state->users, state->user_count, sizeof(User), compare_users);
    qsort(state->roles, state->role_count, sizeof(Role), compare_roles);
    for (size_t i = 1; i < state->user_count; i++)
        if (strcmp(state->users[i - 1].name, state->users[i].name) == 0)
            return refuse(loader, "two users are named \"%s\"", state->users[i].name);
    for (size_t i = 1; i < state->role_count; i++)
        if (strcmp(state->roles[i - 1].name, state->roles[i].name) == 0)
            return refuse(loader, "two roles are named \"%s\"", state->roles[i].name);
    return true;
}

/* jansson's own texts quote the text near the error, which may be part of a hash: say what is wrong without
 * quoting the file. */
static const char *json_problem(const json_error_t *error) {
    switch (json_error_code(error)) {
    case json_error_cannot_open_file: return error->text;
    case json_error_invalid_utf8: return "not valid UTF-8";
    case json_error_premature_end_of_input: return "the JSON ends too early";
    case json_error_end_of_input_expected: return "text after the JSON document";
    case json_error_duplicate_key: return "an object has the same key twice";
    case json_error_out_of_memory: return "out of memory";
    default: return "not valid JSON";
    }
}

AuthState *auth_state_load(const char *path, char *problem, size_t problem_size) {
    Loader loader = {problem, problem_size};
    struct stat status;
    if (stat(path, &status) != 0) {
        refuse(&loader, "cannot read it: %m");
        return NULL;
    }
    if ((uintmax_t)status.st_size > MAX_FILE_BYTES) {
        refuse(&loader, "larger than %u bytes", MAX_FILE_BYTES);
        return NULL;
    }
    json_error_t error;
    json_t *document = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    if (document == NULL) {
        refuse(&loader, "line %d, column %d: %s", error.line, error.column, json_problem(&error));
        return NULL;
    }
    AuthState *state = calloc(1, sizeof *state);
    bool loaded = state != NULL && load_document(&loader, document, state);
    json_decref(document);
    if (!loaded) {
        if (state == NULL) refuse(&loader, "out of memory");
        auth_state_free(state);
        return NULL;
    }
    return state;
}
