#include "key_ranges.h"

#include <stdlib.h>
#include <string.h>

static size_t bound_length(const KeyBound *bound) { return bound->length + (bound->zero_appended ? 1 : 0); }

static uint8_t bound_byte(const KeyBound *bound, size_t index) {
    return index < bound->length ? bound->data[index] : 0;
}

int key_bound_compare(const KeyBound *left, const KeyBound *right) {
    if (left->infinite || right->infinite) return (int)left->infinite - (int)right->infinite;
    size_t left_length = bound_length(left), right_length = bound_length(right);
    size_t common = left_length < right_length ? left_length : right_length;
    size_t stored = left->length < right->length ? left->length : right->length;
    if (stored > common) stored = common;
    int order = stored == 0 ? 0 : memcmp(left->data, right->data, stored);
    if (order != 0) return order;
    for (size_t i = stored; i < common; i++) {
        uint8_t a = bound_byte(left, i), b = bound_byte(right, i);
        if (a != b) return a < b ? -1 : 1;
    }
    return (left_length > right_length) - (left_length < right_length);
}

KeyInterval key_interval_of(const Permission *permission) {
    KeyInterval interval = {
        .begin = {.data = permission->key.data, .length = permission->key.length},
        .end = {.data = permission->range_end.data, .length = permission->range_end.length},
    };
    if (permission->range_end.length == 0) {
        interval.end = (KeyBound){.data = permission->key.data, .length = permission->key.length, .zero_appended = true};
    } else if (permission->range_end.length == 1 && permission->range_end.data[0] == 0) {
        interval.end = (KeyBound){.infinite = true};
    }
    return interval;
}

static int compare_begins(const void *left, const void *right) {
    return key_bound_compare(&((const KeyInterval *)left)->begin, &((const KeyInterval *)right)->begin);
}

size_t key_intervals_merge(KeyInterval *intervals, size_t count) {
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (key_bound_compare(&intervals[i].begin, &intervals[i].end) < 0) intervals[kept++] = intervals[i];
    qsort(intervals, kept, sizeof *intervals, compare_begins);
    size_t merged = 0;
    for (size_t i = 0; i < kept; i++) {
        if (merged > 0 && key_bound_compare(&intervals[i].begin, &intervals[merged - 1].end) <= 0) {
            if (key_bound_compare(&intervals[i].end, &intervals[merged - 1].end) > 0)
                intervals[merged - 1].end = intervals[i].end;
        } else {
            intervals[merged++] = intervals[i];
        }
    }
    return merged;
}
