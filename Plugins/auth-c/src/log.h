#ifndef ETCETERA_AUTH_C_LOG_H
#define ETCETERA_AUTH_C_LOG_H

#include <stdbool.h>

/* etcd's --log-level names; panic and fatal count as error. */
typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } LogLevel;

/* Parses a level name; false for a name etcd does not know. */
bool log_level_parse(const char *name, LogLevel *level);
void log_set_level(LogLevel level);
bool log_enabled(LogLevel level);

/* One line on stderr: time, level, program, message. Callers never pass passwords, hashes or tokens. */
void log_message(LogLevel level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
