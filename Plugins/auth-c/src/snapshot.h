#ifndef ETCETERA_AUTH_C_SNAPSHOT_H
#define ETCETERA_AUTH_C_SNAPSHOT_H

#include "auth_state.h"

/* The AuthReply answering `permissions` for `state` at `revision`, packed: every user in byte order with
 * its sorted roles and its merged READ and WRITE ranges (docs/auth-plugins.md, "The permission
 * snapshot"). Returns a malloc'ed buffer, or NULL when memory runs out. */
uint8_t *snapshot_reply_pack(const AuthState *state, uint64_t revision, size_t *length);

#endif
