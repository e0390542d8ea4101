#include "password_verifier.h"

#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct PasswordVerifier {
    pthread_mutex_t lock;
    pthread_cond_t work_arrived;
    PasswordCheck *queue_head, *queue_tail;
    PasswordCheck *done;
    bool stopping;
    int event;
    pthread_t *threads;
    size_t thread_count;
};

static bool constant_time_equal(const char *left, const char *right, size_t length) {
    unsigned char difference = 0;
    for (size_t i = 0; i < length; i++) difference |= (unsigned char)left[i] ^ (unsigned char)right[i];
    return difference == 0;
}

static bool verify(const PasswordCheck *check, struct crypt_data *scratch) {
    memset(scratch, 0, sizeof *scratch);
    const char *result = crypt_rn(check->password, check->hash, scratch, (int)sizeof *scratch);
    size_t length = strlen(check->hash);
    bool matches = result != NULL && result[0] != '*' && strlen(result) == length
        && constant_time_equal(result, check->hash, length);
    /* The scratch area held key material. */
    explicit_bzero(scratch, sizeof *scratch);
    return matches;
}

static void *work(void *argument) {
    PasswordVerifier *verifier = argument;
    struct crypt_data *scratch = malloc(sizeof *scratch);
    pthread_mutex_lock(&verifier->lock);
    for (;;) {
        while (!verifier->stopping && verifier->queue_head == NULL) pthread_cond_wait(&verifier->work_arrived, &verifier->lock);
        if (verifier->stopping) break;
        PasswordCheck *check = verifier->queue_head;
        verifier->queue_head = check->next;
        if (verifier->queue_head == NULL) verifier->queue_tail = NULL;
        pthread_mutex_unlock(&verifier->lock);
        check->matches = scratch != NULL && verify(check, scratch);
        pthread_mutex_lock(&verifier->lock);
        check->next = verifier->done;
        verifier->done = check;
        uint64_t one = 1;
        /* Cannot fail short of overflowing the counter; the poller reads it back to zero each time. */
        (void)!write(verifier->event, &one, sizeof one);
    }
    pthread_mutex_unlock(&verifier->lock);
    free(scratch);
    return NULL;
}

PasswordVerifier *password_verifier_start(size_t threads) {
    PasswordVerifier *verifier = calloc(1, sizeof *verifier);
    if (verifier == NULL) return NULL;
    verifier->threads = calloc(threads, sizeof(pthread_t));
    verifier->event = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (verifier->threads == NULL || verifier->event < 0) {
        if (verifier->event >= 0) close(verifier->event);
        free(verifier->threads);
        free(verifier);
        return NULL;
    }
    pthread_mutex_init(&verifier->lock, NULL);
    pthread_cond_init(&verifier->work_arrived, NULL);
    for (size_t i = 0; i < threads; i++) {
        if (pthread_create(&verifier->threads[verifier->thread_count], NULL, work, verifier) == 0) verifier->thread_count++;
    }
    if (verifier->thread_count == 0) {
        (void)password_verifier_stop(verifier);
        return NULL;
    }
    return verifier;
}

int password_verifier_descriptor(const PasswordVerifier *verifier) { return verifier->event; }

void password_verifier_submit(PasswordVerifier *verifier, PasswordCheck *check) {
    check->next = NULL;
    pthread_mutex_lock(&verifier->lock);
    if (verifier->queue_tail != NULL) {
        verifier->queue_tail->next = check;
    } else {
        verifier->queue_head = check;
    }
    verifier->queue_tail = check;
    pthread_cond_signal(&verifier->work_arrived);
    pthread_mutex_unlock(&verifier->lock);
}

PasswordCheck *password_verifier_take_done(PasswordVerifier *verifier) {
    uint64_t count;
    (void)!read(verifier->event, &count, sizeof count);
    pthread_mutex_lock(&verifier->lock);
    PasswordCheck *done = verifier->done;
    verifier->done = NULL;
    pthread_mutex_unlock(&verifier->lock);
    return done;
}

PasswordCheck *password_verifier_stop(PasswordVerifier *verifier) {
    pthread_mutex_lock(&verifier->lock);
    verifier->stopping = true;
    pthread_cond_broadcast(&verifier->work_arrived);
    pthread_mutex_unlock(&verifier->lock);
    for (size_t i = 0; i < verifier->thread_count; i++) pthread_join(verifier->threads[i], NULL);
    PasswordCheck *left = verifier->done;
    for (PasswordCheck *check = verifier->queue_head, *next; check != NULL; check = next) {
        next = check->next;
        check->next = left;
        left = check;
    }
    pthread_mutex_destroy(&verifier->lock);
    pthread_cond_destroy(&verifier->work_arrived);
    close(verifier->event);
    free(verifier->threads);
    free(verifier);
    return left;
}
