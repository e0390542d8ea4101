#include "snapshot.h"

#include "etcetera/auth_service.pb-c.h"
#include "key_ranges.h"

#include <stdlib.h>
#include <string.h>

static uint8_t open_end[] = {0};

/* One user's merged ranges of one kind, as wire KeyRanges; the ends of single keys are copied with their
 * "\0" (the only bytes allocated here besides the arrays). */
typedef struct {
    Etcetera__Auth__KeyRange *ranges;
    Etcetera__Auth__KeyRange **pointers;
    size_t count;
} WireRanges;

static void wire_ranges_free(WireRanges *wire) {
    for (size_t i = 0; i < wire->count; i++)
        if (wire->ranges[i].range_end.data != open_end) free(wire->ranges[i].range_end.data);
    free(wire->ranges);
    free(wire->pointers);
}

static bool wire_ranges_make(KeyInterval *intervals, size_t count, WireRanges *wire) {
    size_t merged = key_intervals_merge(intervals, count);
    wire->ranges = calloc(merged + 1, sizeof *wire->ranges);
    wire->pointers = calloc(merged + 1, sizeof *wire->pointers);
    wire->count = 0;
    if (wire->ranges == NULL || wire->pointers == NULL) return false;
    for (size_t i = 0; i < merged; i++) {
        Etcetera__Auth__KeyRange *range = &wire->ranges[i];
        etcetera__auth__key_range__init(range);
        range->key.data = (uint8_t *)intervals[i].begin.data;
        range->key.len = intervals[i].begin.length;
        const KeyBound *end = &intervals[i].end;
        if (end->infinite) {
            range->range_end.data = open_end;
            range->range_end.len = 1;
        } else {
            range->range_end.len = end->length + (end->zero_appended ? 1 : 0);
            range->range_end.data = calloc(range->range_end.len, 1);
            if (range->range_end.data == NULL) return false;
            memcpy(range->range_end.data, end->data, end->length);
        }
        wire->pointers[i] = range;
        wire->count++;
    }
    return true;
}

typedef struct {
    Etcetera__Auth__UserPermissions message;
    WireRanges read;
    WireRanges write;
} UserEntry;

/* Every permission of every role the user holds that exists, split into READ and WRITE intervals
 * (READWRITE in both). The root role's permissions count like any other, as in the Swift table. */
static bool user_entry_make(const AuthState *state, const User *user, UserEntry *entry) {
    etcetera__auth__user_permissions__init(&entry->message);
    entry->message.name = user->name;
    entry->message.is_root = user_has_role(user, ROOT_ROLE);
    entry->message.roles = user->roles;
    entry->message.n_roles = user->role_count;
    size_t total = 0;
    for (size_t i = 0; i < user->role_count; i++) {
        const Role *role = auth_state_role(state, user->roles[i]);
        if (role != NULL) total += role->permission_count;
    }
    KeyInterval *read = calloc(total + 1, sizeof *read), *write = calloc(total + 1, sizeof *write);
    size_t read_count = 0, write_count = 0;
    bool made = read != NULL && write != NULL;
    for (size_t i = 0; made && i < user->role_count; i++) {
        const Role *role = auth_state_role(state, user->roles[i]);
        for (size_t j = 0; role != NULL && j < role->permission_count; j++) {
            const Permission *permission = &role->permissions[j];
            KeyInterval interval = key_interval_of(permission);
            if (permission->type != PERMISSION_WRITE) read[read_count++] = interval;
            if (permission->type != PERMISSION_READ) write[write_count++] = interval;
        }
    }
    made = made && wire_ranges_make(read, read_count, &entry->read) && wire_ranges_make(write, write_count, &entry->write);
    free(read);
    free(write);
    entry->message.read = entry->read.pointers;
    entry->message.n_read = entry->read.count;
    entry->message.write = entry->write.pointers;
    entry->message.n_write = entry->write.count;
    return made;
}

uint8_t *snapshot_reply_pack(const AuthState *state, uint64_t revision, size_t *length) {
    UserEntry *entries = calloc(state->user_count + 1, sizeof *entries);
    Etcetera__Auth__UserPermissions **users = calloc(state->user_count + 1, sizeof *users);
    bool made = entries != NULL && users != NULL;
    for (size_t i = 0; made && i < state->user_count; i++) {
        made = user_entry_make(state, &state->users[i], &entries[i]);
        users[i] = &entries[i].message;
    }
    uint8_t *packed = NULL;
    if (made) {
        Etcetera__Auth__PermissionSnapshot snapshot = ETCETERA__AUTH__PERMISSION_SNAPSHOT__INIT;
        snapshot.enabled = state->enabled;
        snapshot.revision = revision;
        snapshot.users = users;
        snapshot.n_users = state->user_count;
        Etcetera__Auth__AuthReply reply = ETCETERA__AUTH__AUTH_REPLY__INIT;
        reply.auth_revision = revision;
        reply.reply_case = ETCETERA__AUTH__AUTH_REPLY__REPLY_PERMISSIONS;
        reply.permissions = &snapshot;
        *length = etcetera__auth__auth_reply__get_packed_size(&reply);
        packed = malloc(*length + 1);
        if (packed != NULL) etcetera__auth__auth_reply__pack(&reply, packed);
    }
    for (size_t i = 0; entries != NULL && i < state->user_count; i++) {
        wire_ranges_free(&entries[i].read);
        wire_ranges_free(&entries[i].write);
    }
    free(entries);
    free(users);
    return packed;
}
