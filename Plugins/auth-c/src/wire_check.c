#include "wire_check.h"

#include "etcetera/auth_service.pb-c.h"

#include <string.h>

/* Far deeper than any AuthRequest goes (three levels); protects the stack from hostile nesting. */
#define MAX_DEPTH 32

static bool utf8_valid(const uint8_t *bytes, size_t length) {
    size_t i = 0;
    while (i < length) {
        uint8_t lead = bytes[i];
        size_t extra;
        uint32_t minimum, code;
        if (lead < 0x80) {
            i++;
            continue;
        } else if ((lead & 0xE0) == 0xC0) {
            extra = 1, minimum = 0x80, code = lead & 0x1F;
        } else if ((lead & 0xF0) == 0xE0) {
            extra = 2, minimum = 0x800, code = lead & 0x0F;
        } else if ((lead & 0xF8) == 0xF0) {
            extra = 3, minimum = 0x10000, code = lead & 0x07;
        } else {
            return false;
        }
        if (length - i <= extra) return false;
        for (size_t j = 1; j <= extra; j++) {
            if ((bytes[i + j] & 0xC0) != 0x80) return false;
            code = (code << 6) | (bytes[i + j] & 0x3F);
        }
        if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

static bool read_varint(const uint8_t **cursor, const uint8_t *end, uint64_t *value) {
    *value = 0;
    for (unsigned shift = 0; shift < 64 && *cursor < end; shift += 7) {
        uint8_t byte = *(*cursor)++;
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

/* `nul_fields` is NULL except for the request message inside the oneof. */
static bool walk(const ProtobufCMessageDescriptor *descriptor, const uint8_t *cursor, const uint8_t *end, int depth,
                 uint64_t *nul_fields) {
    uint32_t current_request = 0;
    while (cursor < end) {
        uint64_t tag, size;
        if (!read_varint(&cursor, end, &tag)) return false;
        uint64_t number = tag >> 3;
        if (number == 0 || number > 0x1FFFFFFF) return false;
        switch (tag & 7) {
        case 0:
            if (!read_varint(&cursor, end, &size)) return false;
            continue;
        case 1:
            if (end - cursor < 8) return false;
            cursor += 8;
            continue;
        case 5:
            if (end - cursor < 4) return false;
            cursor += 4;
            continue;
        case 2:
            break;
        default:
            return false;
        }
        if (!read_varint(&cursor, end, &size) || size > (uint64_t)(end - cursor)) return false;
        const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(descriptor, (unsigned)number);
        if (field != NULL && field->type == PROTOBUF_C_TYPE_STRING) {
            if (!utf8_valid(cursor, size)) return false;
            if (nul_fields != NULL && number < 64) {
                /* The last occurrence of a field is the one that counts. */
                if (memchr(cursor, 0, size) != NULL) {
                    *nul_fields |= FIELD_BIT(number);
                } else {
                    *nul_fields &= ~FIELD_BIT(number);
                }
            }
        } else if (field != NULL && field->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (depth >= MAX_DEPTH) return false;
            uint64_t *inner_nul_fields = NULL;
            if (depth == 0) {
                /* A later member of the oneof replaces an earlier one; two parts of one member merge. */
                if (number != current_request) *nul_fields = 0;
                current_request = (uint32_t)number;
                inner_nul_fields = nul_fields;
            }
            if (!walk(field->descriptor, cursor, cursor + size, depth + 1, inner_nul_fields)) return false;
        }
        cursor += size;
    }
    return true;
}

bool auth_request_strings_check(const uint8_t *data, size_t length, uint64_t *fields_with_nul) {
    *fields_with_nul = 0;
    return walk(&etcetera__auth__auth_request__descriptor, data, data + length, 0, fields_with_nul);
}
