#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static LogLevel threshold = LOG_INFO;

static const struct {
    const char *name;
    LogLevel level;
} level_names[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
    {"error", LOG_ERROR}, {"panic", LOG_ERROR}, {"fatal", LOG_ERROR},
};

bool log_level_parse(const char *name, LogLevel *level) {
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i].name) == 0) {
            *level = level_names[i].level;
            return true;
        }
    }
    return false;
}

void log_set_level(LogLevel level) { threshold = level; }

bool log_enabled(LogLevel level) { return level >= threshold; }

void log_message(LogLevel level, const char *format, ...) {
    if (!log_enabled(level)) return;
    static const char *labels[] = {"debug", "info", "warning", "error"};
    char stamp[32];
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &utc);
    char line[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(line, sizeof line, format, arguments);
    va_end(arguments);
    fprintf(stderr, "%s %s etcetera-auth-c: %s\n", stamp, labels[level], line);
}
