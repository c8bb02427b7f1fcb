/* The system calls the dahdi driver makes into DAHDI, as one table.
 *
 * The real table calls the kernel (/dev/dahdi/...); the unit tests put a
 * fake device in its place (tests/unit/fake/), whose descriptors are
 * socketpairs, so that the event loop polls them like the real ones.
 * Every call returns what the system call returns: -1 with errno set on
 * failure. Nothing else in the driver touches a DAHDI descriptor. */
#ifndef PB_SPAN_DAHDI_OPS_H
#define PB_SPAN_DAHDI_OPS_H

#include <sys/types.h>

#include <stddef.h>

#define DAHDI_OPS_CHANNEL_PATH "/dev/dahdi/channel"
#define DAHDI_OPS_CTL_PATH "/dev/dahdi/ctl"

struct dahdi_ops {
	const char *name;
	int (*open)(const char *path, int flags);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	ssize_t (*read)(int fd, void *buf, size_t len);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*close)(int fd);
};

/* The kernel's. */
extern const struct dahdi_ops dahdi_ops_kernel;

/* The table in use (the kernel's unless a test set another). */
const struct dahdi_ops *dahdi_ops_get(void);
/* Tests: use ops from now on (NULL: the kernel's again). */
void dahdi_ops_set(const struct dahdi_ops *ops);

/* Names for logs. */
const char *dahdi_ops_event_name(int event);
/* "red yellow ..." for a DAHDI_ALARM_* mask, into buf. */
const char *dahdi_ops_alarm_str(int alarms, char *buf, size_t len);

#endif
