/* Logging: levels, stderr in the foreground, syslog otherwise. */
#ifndef PB_CORE_LOG_H
#define PB_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Start logging: to stderr when foreground is set, else to syslog. */
void log_init(const char *ident, int foreground, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "notice", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);
/* Every line about a call carries the call's id as "call=ID". */
void log_call(enum log_level level, const char *callid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
/* log_warn appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Rate-limited warning for bad network input: at most `burst` lines per
 * second per limiter; the rest are counted and summarised once. */
struct log_ratelimit {
	long sec;
	unsigned int count;
	unsigned long suppressed;
};
void log_limited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The pure decision of a limiter: true when one more line may go out in
 * second sec, at most max per second (counts the suppressed ones). */
bool log_ratelimit_pass(struct log_ratelimit *rl, long sec, unsigned int max);

#endif
