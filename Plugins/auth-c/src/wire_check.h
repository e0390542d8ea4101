#ifndef ETCETERA_AUTH_C_WIRE_CHECK_H
#define ETCETERA_AUTH_C_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What protobuf-c leaves unchecked in an AuthRequest that protobuf-c unpacked, checked on the wire:
 * - proto3 string fields must hold UTF-8; Swift's decoder refuses the message otherwise, so this backend
 *   answers bus.malformed_request like the Swift ones;
 * - a string can hold NUL, which protobuf-c's `char *` silently cuts off. `fields_with_nul` gets bit N
 *   set when string field N of the request inside the oneof (for example field 1 of AuthenticateRequest, the
 *   user name) holds a NUL, so such a name or password is told apart and matches nothing.
 * Returns false for invalid UTF-8 or a wire format it cannot follow. */
bool auth_request_strings_check(const uint8_t *data, size_t length, uint64_t *fields_with_nul);

/* The bit of field `number` in `fields_with_nul`. */
#define FIELD_BIT(number) ((uint64_t)1 << (number))

#endif
