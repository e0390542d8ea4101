#ifndef ETCETERA_AUTH_C_TOKENS_H
#define ETCETERA_AUTH_C_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

/* etcd's simple tokens: opaque random strings kept in memory (so a restart ends them all), each valid for
 * the TTL after it was issued or last resolved. Tokens never leave this module except to their client. */
typedef struct TokenStore TokenStore;

TokenStore *token_store_new(uint64_t ttl_milliseconds);
void token_store_free(TokenStore *store);

/* A new token for `user`, owned by the store (valid until the next call that changes the store); NULL when
 * memory or randomness runs out. */
const char *token_store_issue(TokenStore *store, const char *user, uint64_t now_milliseconds);

/* The user a live token stands for, renewing its TTL; NULL for an unknown or expired token. */
const char *token_store_resolve(TokenStore *store, const char *token, uint64_t now_milliseconds);

void token_store_remove_expired(TokenStore *store, uint64_t now_milliseconds);
/* Ends every token of users for which `ends` answers true. */
void token_store_end_where(TokenStore *store, bool (*ends)(const char *user, void *context), void *context);
void token_store_end_all(TokenStore *store);

#endif
