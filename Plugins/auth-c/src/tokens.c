#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* As etcd's: sixteen random letters, a dot and a sequence number. */
#define RANDOM_LETTERS 16

typedef struct Token {
    struct Token *next;
    char *token;
    char *user;
    uint64_t expiry;
} Token;

struct TokenStore {
    Token **buckets;
    size_t bucket_count;
    size_t count;
    uint64_t ttl;
    uint64_t sequence;
};

static uint64_t hash_of(const char *text) {
    uint64_t hash = 1469598103934665603u;
    for (const unsigned char *byte = (const unsigned char *)text; *byte != 0; byte++) hash = (hash ^ *byte) * 1099511628211u;
    return hash;
}

TokenStore *token_store_new(uint64_t ttl_milliseconds) {
    TokenStore *store = calloc(1, sizeof *store);
    if (store == NULL) return NULL;
    store->bucket_count = 64;
    store->buckets = calloc(store->bucket_count, sizeof(Token *));
    if (store->buckets == NULL) {
        free(store);
        return NULL;
    }
    store->ttl = ttl_milliseconds;
    return store;
}

static void token_free(Token *token) {
    explicit_bzero(token->token, strlen(token->token));
    free(token->token);
    free(token->user);
    free(token);
}

/* Unlinks and frees every token for which `ends` is true. */
static void remove_where(TokenStore *store, bool (*ends)(const Token *, void *), void *context) {
    for (size_t i = 0; i < store->bucket_count; i++) {
        Token **link = &store->buckets[i];
        while (*link != NULL) {
            Token *token = *link;
            if (ends(token, context)) {
                *link = token->next;
                token_free(token);
                store->count--;
            } else {
                link = &token->next;
            }
        }
    }
}

static bool always(const Token *token, void *context) {
    (void)token;
    (void)context;
    return true;
}

void token_store_end_all(TokenStore *store) { remove_where(store, always, NULL); }

void token_store_free(TokenStore *store) {
    if (store == NULL) return;
    token_store_end_all(store);
    free(store->buckets);
    free(store);
}

static void grow(TokenStore *store) {
    size_t bucket_count = store->bucket_count * 2;
    Token **buckets = calloc(bucket_count, sizeof(Token *));
    if (buckets == NULL) return; /* longer chains, still correct */
    for (size_t i = 0; i < store->bucket_count; i++) {
        for (Token *token = store->buckets[i], *next; token != NULL; token = next) {
            next = token->next;
            Token **bucket = &buckets[hash_of(token->token) % bucket_count];
            token->next = *bucket;
            *bucket = token;
        }
    }
    free(store->buckets);
    store->buckets = buckets;
    store->bucket_count = bucket_count;
}

static Token *find(const TokenStore *store, const char *text, Token ***link) {
    *link = &store->buckets[hash_of(text) % store->bucket_count];
    while (**link != NULL && strcmp((**link)->token, text) != 0) *link = &(**link)->next;
    return **link;
}

const char *token_store_issue(TokenStore *store, const char *user, uint64_t now_milliseconds) {
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const size_t letter_count = sizeof letters - 1;
    /* Bytes at or above the largest multiple of 52 are skipped, so every letter is equally likely. */
    const uint8_t unbiased_below = (uint8_t)(256 / letter_count * letter_count);
    uint8_t random[2 * RANDOM_LETTERS];
    char text[RANDOM_LETTERS + 1 + 21];
    for (size_t filled = 0; filled < RANDOM_LETTERS;) {
        if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) return NULL;
        for (size_t i = 0; i < sizeof random && filled < RANDOM_LETTERS; i++)
            if (random[i] < unbiased_below) text[filled++] = letters[random[i] % letter_count];
    }
    /* The sequence number alone makes every token unique. */
    snprintf(text + RANDOM_LETTERS, sizeof text - RANDOM_LETTERS, ".%llu", (unsigned long long)++store->sequence);
    explicit_bzero(random, sizeof random);
    if (store->count >= store->bucket_count) grow(store);
    Token *token = calloc(1, sizeof *token);
    if (token != NULL) {
        token->token = strdup(text);
        token->user = strdup(user);
    }
    explicit_bzero(text, sizeof text);
    if (token == NULL || token->token == NULL || token->user == NULL) {
        if (token != NULL) {
            free(token->token);
            free(token->user);
            free(token);
        }
        return NULL;
    }
    token->expiry = now_milliseconds + store->ttl;
    Token **bucket = &store->buckets[hash_of(token->token) % store->bucket_count];
    token->next = *bucket;
    *bucket = token;
    store->count++;
    return token->token;
}

const char *token_store_resolve(TokenStore *store, const char *text, uint64_t now_milliseconds) {
    Token **link;
    Token *token = find(store, text, &link);
    if (token == NULL) return NULL;
    /* As etcd's keeper: a token is gone once the time is past its expiry. */
    if (now_milliseconds > token->expiry) {
        *link = token->next;
        token_free(token);
        store->count--;
        return NULL;
    }
    token->expiry = now_milliseconds + store->ttl;
    return token->user;
}

static bool expired(const Token *token, void *now) { return *(const uint64_t *)now > token->expiry; }

void token_store_remove_expired(TokenStore *store, uint64_t now_milliseconds) {
    remove_where(store, expired, &now_milliseconds);
}

typedef struct {
    bool (*ends)(const char *user, void *context);
    void *context;
} UserFilter;

static bool user_matches(const Token *token, void *filter) {
    const UserFilter *user_filter = filter;
    return user_filter->ends(token->user, user_filter->context);
}

void token_store_end_where(TokenStore *store, bool (*ends)(const char *user, void *context), void *context) {
    UserFilter filter = {ends, context};
    remove_where(store, user_matches, &filter);
}

