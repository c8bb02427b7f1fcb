/* The kernel's DAHDI operations, and the switch tests use to replace them. */
#include "span/dahdi_ops.h"

#include <sys/ioctl.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <dahdi/user.h>

static int
dahdi_kernel_open(const char *path, int flags)
{
	return open(path, flags);
}

static int
dahdi_kernel_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static ssize_t
dahdi_kernel_read(int fd, void *buf, size_t len)
{
	return read(fd, buf, len);
}

static ssize_t
dahdi_kernel_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int
dahdi_kernel_close(int fd)
{
	return close(fd);
}

const struct dahdi_ops dahdi_ops_kernel = {
	.name = "kernel",
	.open = dahdi_kernel_open,
	.ioctl = dahdi_kernel_ioctl,
	.read = dahdi_kernel_read,
	.write = dahdi_kernel_write,
	.close = dahdi_kernel_close,
};

static const struct dahdi_ops *dahdi_ops_cur = &dahdi_ops_kernel;

const struct dahdi_ops *
dahdi_ops_get(void)
{
	return dahdi_ops_cur;
}

void
dahdi_ops_set(const struct dahdi_ops *ops)
{
	dahdi_ops_cur = ops != NULL ? ops : &dahdi_ops_kernel;
}

const char *
dahdi_ops_event_name(int event)
{
	static const char *const names[] = {
		[DAHDI_EVENT_NONE] = "none",
		[DAHDI_EVENT_ONHOOK] = "onhook",
		[DAHDI_EVENT_RINGOFFHOOK] = "ringoffhook",
		[DAHDI_EVENT_WINKFLASH] = "winkflash",
		[DAHDI_EVENT_ALARM] = "alarm",
		[DAHDI_EVENT_NOALARM] = "noalarm",
		[DAHDI_EVENT_ABORT] = "hdlc-abort",
		[DAHDI_EVENT_OVERRUN] = "hdlc-overrun",
		[DAHDI_EVENT_BADFCS] = "hdlc-bad-fcs",
		[DAHDI_EVENT_DIALCOMPLETE] = "dialcomplete",
		[DAHDI_EVENT_RINGERON] = "ringeron",
		[DAHDI_EVENT_RINGEROFF] = "ringeroff",
		[DAHDI_EVENT_HOOKCOMPLETE] = "hookcomplete",
		[DAHDI_EVENT_BITSCHANGED] = "bitschanged",
		[DAHDI_EVENT_PULSE_START] = "pulse-start",
		[DAHDI_EVENT_TIMER_EXPIRED] = "timer-expired",
		[DAHDI_EVENT_TIMER_PING] = "timer-ping",
		[DAHDI_EVENT_POLARITY] = "polarity",
		[DAHDI_EVENT_RINGBEGIN] = "ringbegin",
		[DAHDI_EVENT_EC_DISABLED] = "ec-disabled",
		[DAHDI_EVENT_REMOVED] = "removed",
		[DAHDI_EVENT_NEONMWI_ACTIVE] = "neonmwi-active",
		[DAHDI_EVENT_NEONMWI_INACTIVE] = "neonmwi-inactive",
		[DAHDI_EVENT_TX_CED_DETECTED] = "tx-ced",
		[DAHDI_EVENT_RX_CED_DETECTED] = "rx-ced",
		[DAHDI_EVENT_TX_CNG_DETECTED] = "tx-cng",
		[DAHDI_EVENT_RX_CNG_DETECTED] = "rx-cng",
		[DAHDI_EVENT_EC_NLP_DISABLED] = "ec-nlp-disabled",
		[DAHDI_EVENT_EC_NLP_ENABLED] = "ec-nlp-enabled",
		[DAHDI_EVENT_READ_OVERRUN] = "read-overrun",
		[DAHDI_EVENT_WRITE_UNDERRUN] = "write-underrun",
	};

	if (event & DAHDI_EVENT_PULSEDIGIT)
		return "pulsedigit";
	if (event & DAHDI_EVENT_DTMFDOWN)
		return "dtmfdown";
	if (event & DAHDI_EVENT_DTMFUP)
		return "dtmfup";
	if (event < 0 || (size_t)event >= sizeof(names) / sizeof(names[0]) ||
	    names[event] == NULL)
		return "unknown";
	return names[event];
}

const char *
dahdi_ops_alarm_str(int alarms, char *buf, size_t len)
{
	static const struct {
		int bit;
		const char *name;
	} bits[] = {
		{ DAHDI_ALARM_RED, "red" },
		{ DAHDI_ALARM_YELLOW, "yellow" },
		{ DAHDI_ALARM_BLUE, "blue" },
		{ DAHDI_ALARM_RECOVER, "recover" },
		{ DAHDI_ALARM_LOOPBACK, "loopback" },
		{ DAHDI_ALARM_NOTOPEN, "notopen" },
		{ DAHDI_ALARM_LOS, "los" },
		{ DAHDI_ALARM_LFA, "lfa" },
		{ DAHDI_ALARM_LMFA, "lmfa" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (!(alarms & bits[i].bit))
			continue;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
		    off > 0 ? " " : "", bits[i].name);
		if (off >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}
