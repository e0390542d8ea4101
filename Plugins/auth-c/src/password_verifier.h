#ifndef ETCETERA_AUTH_C_PASSWORD_VERIFIER_H
#define ETCETERA_AUTH_C_PASSWORD_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>

/* bcrypt takes about 90 ms at cost 10: long enough that a client's heartbeat must not wait for it. Checks
 * therefore run on worker threads; the socket thread submits them and collects the results when the
 * verifier's file descriptor (an eventfd, polled next to the ROUTER socket) becomes readable. */
typedef struct PasswordCheck {
    struct PasswordCheck *next;
    char password[73]; /* NUL-terminated, at most bcrypt's 72 significant bytes; the owner wipes it */
    char hash[61];     /* a copy, so a reload of the file meanwhile does not matter */
    bool matches;      /* set by the worker */
} PasswordCheck;

typedef struct PasswordVerifier PasswordVerifier;

/* Starts `threads` workers. Signals should be blocked by the caller first, so they reach the main thread. */
PasswordVerifier *password_verifier_start(size_t threads);
/* Readable while checks are done and not yet taken. */
int password_verifier_descriptor(const PasswordVerifier *verifier);
/* Hands a check to a worker; the caller gets it back from password_verifier_take_done. */
void password_verifier_submit(PasswordVerifier *verifier, PasswordCheck *check);
/* Every finished check (a list through `next`, in no particular order), NULL if none. */
PasswordCheck *password_verifier_take_done(PasswordVerifier *verifier);
/* Stops the workers (a check in progress finishes first) and hands back every check not yet taken. */
PasswordCheck *password_verifier_stop(PasswordVerifier *verifier);

#endif
