#ifndef ETCETERA_AUTH_C_REQUESTS_H
#define ETCETERA_AUTH_C_REQUESTS_H

#include "server.h"

/* Decodes one AuthRequest and answers it, at once or, for authenticate, once its password is checked. */
void requests_handle(Server *server, const BusCaller *caller, const uint8_t *payload, size_t length);

/* Answers the authentications whose password checks are done (call when the verifier is readable). */
void requests_finish_password_checks(Server *server);

/* Frees checks the verifier handed back at shutdown, without answering (the clients time out). */
void requests_discard_password_checks(PasswordCheck *checks);

#endif
