#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

static int log_foreground = 1;
static enum log_level log_level_cur = LOG_LEVEL_INFO;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};
static const int level_prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

void
log_init(const char *ident, int foreground, enum log_level level)
{
	log_foreground = foreground;
	log_level_cur = level;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	log_level_cur = level;
}

enum log_level
log_get_level(void)
{
	return log_level_cur;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level > log_level_cur)
		return;
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		flockfile(stderr);
		fprintf(stderr, "%s.%03ld %-6s ", tbuf, ts.tv_nsec / 1000000, level_names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	} else {
		vsyslog(level_prio[level], fmt, ap);
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_call(enum log_level level, const char *callid, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > log_level_cur)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(level, "call=%s %s", callid ? callid : "-", buf);
}

void
log_warn(const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_WARN, "%s: %s", buf, strerror(saved));
}

/* Rate-limited lines: at most LOG_LIMIT_PER_SEC per second from one
 * limiter and at most LOG_LIMIT_GLOBAL_PER_SEC per second from all limiters
 * together (their "suppressed" summaries included), so that a flood over
 * many calls cannot flood the log. A second with suppressed lines ends with
 * one summary line of each kind. */
#define LOG_LIMIT_PER_SEC 10
#define LOG_LIMIT_GLOBAL_PER_SEC 50

static struct log_ratelimit log_global_rl;

bool
log_ratelimit_pass(struct log_ratelimit *rl, long sec, unsigned int max)
{
	if (sec != rl->sec) {
		rl->sec = sec;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count >= max) {
		rl->suppressed++;
		return false;
	}
	rl->count++;
	return true;
}

/* The global cap at second sec; says once per second how many lines it
 * held back in the last one. */
static bool
log_global_pass(long sec)
{
	if (sec != log_global_rl.sec && log_global_rl.suppressed > 0)
		log_msg(LOG_LEVEL_WARN, "log: %lu rate-limited messages suppressed (global cap %u/s)",
		        log_global_rl.suppressed, LOG_LIMIT_GLOBAL_PER_SEC);
	return log_ratelimit_pass(&log_global_rl, sec, LOG_LIMIT_GLOBAL_PER_SEC);
}

void
log_limited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	struct timespec ts;
	unsigned long prev;
	va_list ap;

	if (level > log_level_cur)
		return;
	/* one-second resolution is enough: the cheap clock */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != rl->sec && rl->suppressed > 0) {
		prev = rl->suppressed;
		rl->suppressed = 0;
		if (log_global_pass(ts.tv_sec))
			log_msg(level, "%lu similar messages suppressed", prev);
	}
	if (!log_ratelimit_pass(rl, ts.tv_sec, LOG_LIMIT_PER_SEC))
		return;
	if (!log_global_pass(ts.tv_sec))
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
