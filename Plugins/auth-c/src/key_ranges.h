#ifndef ETCETERA_AUTH_C_KEY_RANGES_H
#define ETCETERA_AUTH_C_KEY_RANGES_H

#include "auth_state.h"

/* A bound of a half-open key interval in etcd's byte order: a key (optionally followed by one "\0" byte,
 * so a single key k ends at k + "\0" without a copy), or +∞ above every key. */
typedef struct {
    const uint8_t *data;
    size_t length;
    bool zero_appended;
    bool infinite;
} KeyBound;

/* [begin, end). Borrows the bytes of the permission it came from. */
typedef struct {
    KeyBound begin;
    KeyBound end;
} KeyInterval;

int key_bound_compare(const KeyBound *left, const KeyBound *right);

/* The keys a permission covers, as etcd's permission cache reads key and range end: an empty end is the
 * single key, "\0" every key from key on, anything else the range itself. */
KeyInterval key_interval_of(const Permission *permission);

/* Replaces `intervals` by their union as sorted, disjoint, non-adjacent intervals (empty ones dropped, as
 * etcd's interval tree never matches them), the same ranges as the Swift KeyIntervalSet. Returns how many
 * are left at the front of the array. */
size_t key_intervals_merge(KeyInterval *intervals, size_t count);

#endif
