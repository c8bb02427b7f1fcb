#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "call/call.h"
#include "core/log.h"
#include "sip/sip.h"
#include "span/span.h"

#define CTL_LINE_MAX 1024
#define CTL_ARGS_MAX 8

static struct evconnlistener *ctl_listener;
static char *ctl_path;
static ctl_reload_cb ctl_reload;

struct ctl_cmd {
	const char *name;
	const char *sub;        /* second word, or NULL */
	int min_args, max_args; /* after the command words */
	const char *usage;
	int (*fn)(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen);
};

static int
ctl_cmd_status(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	evbuffer_add_printf(out, "accepting=%d calls=%zu\n", call_accepting(), call_count());
	span_status_write(out);
	return 0;
}

static int
ctl_cmd_calls(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	call_list_write(out);
	return 0;
}

static int
ctl_parse_uint(const char *s, unsigned int *v)
{
	char *end;
	unsigned long l;

	errno = 0;
	l = strtoul(s, &end, 10);
	if (errno || *end || end == s || l > 100000)
		return EINVAL;
	*v = (unsigned int)l;
	return 0;
}

static int
ctl_cmd_sim_call(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	unsigned int tone = 0, hold = 0;
	int rc;

	if ((argc > 3 && ctl_parse_uint(argv[3], &tone)) ||
	    (argc > 4 && ctl_parse_uint(argv[4], &hold))) {
		snprintf(err, errlen, "bad number");
		return EINVAL;
	}
	rc = span_sim_originate(argv[0], argv[1], argv[2], tone, hold);
	if (rc != 0) {
		snprintf(err, errlen, "cannot place call on span %s: %s", argv[0], strerror(rc));
		return rc;
	}
	evbuffer_add_printf(out, "calling %s from %s on %s\n", argv[1], argv[2], argv[0]);
	return 0;
}

static int
ctl_cmd_sim_hangup(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	int n = span_sim_hangup(argv[0], argv[1]);

	if (n < 0) {
		snprintf(err, errlen, "span %s: %s", argv[0], strerror(-n));
		return -n;
	}
	evbuffer_add_printf(out, "hung up %d call(s)\n", n);
	return 0;
}

static int
ctl_cmd_sim_dchannel(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	int up, rc;

	if (strcmp(argv[1], "up") == 0)
		up = 1;
	else if (strcmp(argv[1], "down") == 0)
		up = 0;
	else {
		snprintf(err, errlen, "want up or down");
		return EINVAL;
	}
	if ((rc = span_sim_dchannel(argv[0], up)) != 0) {
		snprintf(err, errlen, "span %s: %s", argv[0], strerror(rc));
		return rc;
	}
	evbuffer_add_printf(out, "D-channel link of %s %s\n", argv[0], up ? "restored" : "cut");
	return 0;
}

static int
ctl_cmd_sim_alarm(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	int rc;

	if ((rc = span_sim_alarm(argv[0], argv[1])) != 0) {
		snprintf(err, errlen, "span %s: %s", argv[0], rc == EINVAL ?
		    "want red, yellow, blue or clear (or not a sim span)" : strerror(rc));
		return rc;
	}
	evbuffer_add_printf(out, "span %s alarm %s\n", argv[0], argv[1]);
	return 0;
}

static int
ctl_cmd_sim_glare(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	unsigned int hold = 0;
	int off = argc == 2 && strcmp(argv[1], "off") == 0, rc;

	if ((!off && argc < 3) || (argc > 3 && ctl_parse_uint(argv[3], &hold))) {
		snprintf(err, errlen, "usage: sim glare SPAN off | SPAN CALLED CALLING [HOLD_S]");
		return EINVAL;
	}
	rc = span_sim_glare(argv[0], off ? NULL : argv[1], off ? NULL : argv[2], hold);
	if (rc != 0) {
		snprintf(err, errlen, "span %s: %s", argv[0], strerror(rc));
		return rc;
	}
	if (off)
		evbuffer_add_printf(out, "glare off on %s\n", argv[0]);
	else
		evbuffer_add_printf(out, "glare armed on %s: %s from %s\n", argv[0], argv[1],
		    argv[2]);
	return 0;
}

static int
ctl_cmd_reload(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	if (!ctl_reload || ctl_reload() != 0) {
		snprintf(err, errlen, "reload refused: see the log");
		return EINVAL;
	}
	evbuffer_add_printf(out, "reloaded\n");
	return 0;
}

static int
ctl_cmd_registrations(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	sip_registrations_write(out);
	return 0;
}

static int
ctl_cmd_trunks(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	sip_trunks_write(out);
	return 0;
}

static int
ctl_cmd_spans(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	span_list_write(out);
	return 0;
}

static int
ctl_span_block(const char *name, int blocked, struct evbuffer *out, char *err, size_t errlen)
{
	int rc;

	if ((rc = span_block(name, blocked)) != 0) {
		snprintf(err, errlen, "span %s: %s", name, rc == ENOENT ? "no such span" :
		    strerror(rc));
		return rc;
	}
	span_list_write(out);
	return 0;
}

static int
ctl_cmd_span_block(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	return ctl_span_block(argv[0], 1, out, err, errlen);
}

static int
ctl_cmd_span_unblock(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	return ctl_span_block(argv[0], 0, out, err, errlen);
}

static int
ctl_cmd_span_restart(int argc, char **argv, struct evbuffer *out, char *err, size_t errlen)
{
	int rc;

	if ((rc = span_restart(argv[0])) != 0) {
		snprintf(err, errlen, "span %s: %s", argv[0], rc == ENOENT ? "no such span" :
		    rc == ENOTCONN ? "span is down" : strerror(rc));
		return rc;
	}
	evbuffer_add_printf(out, "RESTART sent for the idle B-channels of %s\n", argv[0]);
	return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
	{"status", NULL, 0, 0, "status", ctl_cmd_status},
	{"calls", NULL, 0, 0, "calls", ctl_cmd_calls},
	{"reload", NULL, 0, 0, "reload", ctl_cmd_reload},
	{"registrations", NULL, 0, 0, "registrations", ctl_cmd_registrations},
	{"trunks", NULL, 0, 0, "trunks", ctl_cmd_trunks},
	{"spans", NULL, 0, 0, "spans", ctl_cmd_spans},
	{"span", "block", 1, 1, "span block SPAN", ctl_cmd_span_block},
	{"span", "unblock", 1, 1, "span unblock SPAN", ctl_cmd_span_unblock},
	{"span", "restart", 1, 1, "span restart SPAN", ctl_cmd_span_restart},
	{"sim", "call", 3, 5, "sim call SPAN CALLED CALLING [TONE_HZ [HOLD_S]]", ctl_cmd_sim_call},
	{"sim", "hangup", 2, 2, "sim hangup SPAN NUMBER", ctl_cmd_sim_hangup},
	{"sim", "dchannel", 2, 2, "sim dchannel SPAN up|down", ctl_cmd_sim_dchannel},
	{"sim", "alarm", 2, 2, "sim alarm SPAN red|yellow|blue|clear", ctl_cmd_sim_alarm},
	{"sim", "glare", 2, 4, "sim glare SPAN off | SPAN CALLED CALLING [HOLD_S]",
	    ctl_cmd_sim_glare},
};

/* Run one command line; the answer goes to out. */
static void
ctl_dispatch(char *line, struct evbuffer *out)
{
	char *argv[CTL_ARGS_MAX + 2];
	char err[256] = "";
	struct evbuffer *body = evbuffer_new();
	int argc = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == CTL_ARGS_MAX + 2) {
			evbuffer_add_printf(out, "ERR too many arguments\n");
			goto out;
		}
		argv[argc++] = t;
	}
	if (argc == 0) {
		evbuffer_add_printf(out, "ERR empty command\n");
		goto out;
	}
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];
		int skip = cmd->sub ? 2 : 1;
		int n = argc - skip;

		if (strcmp(argv[0], cmd->name) != 0)
			continue;
		if (cmd->sub && (argc < 2 || strcmp(argv[1], cmd->sub) != 0))
			continue;
		if (n < cmd->min_args || n > cmd->max_args) {
			evbuffer_add_printf(out, "ERR usage: %s\n", cmd->usage);
			goto out;
		}
		if (!body || cmd->fn(n, argv + skip, body, err, sizeof(err)) != 0) {
			evbuffer_add_printf(out, "ERR %s\n", err[0] ? err : "failed");
			goto out;
		}
		evbuffer_add_printf(out, "OK\n");
		evbuffer_add_buffer(out, body);
		goto out;
	}
	evbuffer_add_printf(out, "ERR unknown command: %s\n", argv[0]);
out:
	if (body)
		evbuffer_free(body);
}

static void
ctl_on_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void
ctl_on_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
ctl_on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);

	if (!line) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			bufferevent_free(bev);
		return;
	}
	ctl_dispatch(line, bufferevent_get_output(bev));
	free(line);
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, ctl_on_written, ctl_on_event, NULL);
}

static void
ctl_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, ctl_on_read, NULL, ctl_on_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

int
ctl_init(struct event_base *base, const char *path, ctl_reload_cb reload)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	char *slash;

	ctl_reload = reload;
	if (!path || !*path)
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("ctl: socket path too long: %s", path);
		return ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			log_warn("ctl: mkdir %s", dir);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	ctl_listener = evconnlistener_new_bind(base, ctl_on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, (struct sockaddr *)&sun,
	    sizeof(sun));
	if (!ctl_listener) {
		int e = errno;
		log_warn("ctl: cannot listen on %s", path);
		return e ? e : EIO;
	}
	chmod(path, 0660);
	ctl_path = strdup(path);
	log_info("ctl: listening on %s", path);
	return 0;
}

void
ctl_shutdown(void)
{
	if (ctl_listener)
		evconnlistener_free(ctl_listener);
	ctl_listener = NULL;
	if (ctl_path) {
		unlink(ctl_path);
		free(ctl_path);
		ctl_path = NULL;
	}
}

int
ctl_client_run(const char *path, const char *line)
{
	struct sockaddr_un sun;
	char buf[4096];
	int fd, first = 1, rc = 2;
	size_t have = 0;
	ssize_t n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return 2;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "pstnbridgectl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return 2;
	}
	/* The first line says OK or ERR; everything after it is the answer. */
	while ((n = read(fd, buf + have, sizeof(buf) - have - 1)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		if (first) {
			char *nl = strchr(buf, '\n');
			if (!nl && have < sizeof(buf) - 1)
				continue;
			if (nl)
				*nl = '\0';
			if (strncmp(buf, "OK", 2) == 0) {
				rc = 0;
			} else {
				fprintf(stderr, "pstnbridgectl: %s\n",
				    strncmp(buf, "ERR ", 4) == 0 ? buf + 4 : buf);
				rc = 1;
			}
			first = 0;
			if (nl)
				fputs(nl + 1, stdout);
		} else {
			fputs(buf, stdout);
		}
		have = 0;
	}
	close(fd);
	return rc;
}
