/* The control interface: a unix stream socket; one command line in, the
 * answer out ("OK" or "ERR message" on the first line, then the body),
 * then the server closes the connection. Commands are one table. */
#ifndef PB_CTL_CTL_H
#define PB_CTL_CTL_H

struct event_base;

/* Called for the `reload` command; returns 0 when the reload was applied. */
typedef int (*ctl_reload_cb)(void);

int ctl_init(struct event_base *base, const char *path, ctl_reload_cb reload);
void ctl_shutdown(void);

/* Client side (pstnbridgectl): send `line` and copy the answer to stdout;
 * returns 0 on OK, 1 on ERR, 2 when the daemon cannot be reached. */
int ctl_client_run(const char *path, const char *line);

#endif
