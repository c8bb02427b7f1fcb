/* pstnbridged: the PSTN bridge daemon. A thin main: options, config, the
 * event loop, signals; the modules do the work. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "call/call.h"
#include "cfg/cfg.h"
#include "core/log.h"
#include "ctl/ctl.h"
#include "sip/sip.h"
#include "span/span.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/pstnbridge/pstnbridge.conf"

static struct event_base *base;
static struct cfg *running;             /* owned reference: the running generation */
static const char *config_path = DEFAULT_CONFIG;
static int cli_log_level = -1;
static struct event *ev_drain;          /* owned: drain poll while stopping */
static struct timeval drain_deadline;
static int stopping;

static void
usage(void)
{
	fprintf(stderr, "usage: pstnbridged [-f] [-t] [-c FILE] [-p PIDFILE] [-l LEVEL]\n");
	exit(2);
}

static void
print_errors(const struct cfg_errors *errs, FILE *to, int use_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (use_log)
			log_error("%s", errs->msgs[i]);
		else
			fprintf(to, "%s\n", errs->msgs[i]);
	}
}

static void
apply_log_level(const struct cfg *c)
{
	log_set_level(cli_log_level >= 0 ? (enum log_level)cli_log_level
	                                  : (enum log_level)c->general.log_level);
}

/* Parse the whole file into a new generation; refuse it whole on any
 * error; otherwise hand it to every module. Calls keep their own. */
static int
reload(void)
{
	struct cfg_errors errs = {0};
	struct cfg *next;
	int rc = 0;

	sd_notify(0, "RELOADING=1");
	log_notice("reloading %s", config_path);
	next = cfg_load(config_path, &errs);
	if (!next) {
		print_errors(&errs, stderr, 1);
		log_error("reload refused: %zu error%s in %s; keeping the running config", errs.n,
		    errs.n == 1 ? "" : "s", config_path);
		cfg_errors_release(&errs);
		rc = EINVAL;
		goto out;
	}
	apply_log_level(next);
	if (span_registry_apply(next) != 0)
		log_error("reload: some spans could not be started (see above)");
	if (sip_apply(next) != 0)
		log_error("reload: the SIP listeners could not all be applied (see above)");
	call_set_cfg(next);
	cfg_unref(running);
	running = next;
	log_notice("config reloaded from %s", config_path);
out:
	sd_notify(0, "READY=1");
	return rc;
}

static void
on_sighup(evutil_socket_t fd, short what, void *arg)
{
	if (!stopping)
		reload();
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval now;
	size_t left = call_count() + span_active_calls() + sip_leg_count();

	gettimeofday(&now, NULL);
	if (left == 0 || evutil_timercmp(&now, &drain_deadline, >=)) {
		if (left)
			log_warnx("drain time over with %zu call legs left", left);
		event_base_loopexit(base, NULL);
		return;
	}
	struct timeval tv = {0, 50000};
	evtimer_add(ev_drain, &tv);
}

static void
on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	struct timeval now, dt = {0, 0};

	if (stopping) {
		log_notice("second stop signal: exiting now");
		event_base_loopexit(base, NULL);
		return;
	}
	stopping = 1;
	sd_notify(0, "STOPPING=1");
	log_notice("stopping: no new calls, hanging up %zu call(s) within %d s", call_count(),
	    running->general.drain_time);
	call_set_accepting(0);
	sip_set_accepting(0);
	call_hangup_all();
	gettimeofday(&now, NULL);
	dt.tv_sec = running->general.drain_time;
	evutil_timeradd(&now, &dt, &drain_deadline);
	ev_drain = evtimer_new(base, on_drain_tick, NULL);
	on_drain_tick(-1, 0, NULL);
}

static int
write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : errno;
}

/* Each call holds three descriptors (its RTP socket, its RTCP socket and
 * the connected one it sends from), and the soft limit a service starts
 * with is often 1024 (systemd's default, kept low for select()): with no
 * select() here, take the hard limit, so that a busy gateway does not run
 * out at a few hundred calls. */
static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("cannot raise the limit on open files from %llu", (unsigned long long)was);
		return;
	}
	log_info("open files: soft limit raised from %llu to the hard limit, %llu",
	    (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
	struct cfg_errors errs = {0};
	struct event *ev_hup, *ev_term, *ev_int;
	const char *pidfile = NULL;
	int foreground = 0, check = 0, ch, rc = 1;

	while ((ch = getopt(argc, argv, "fc:tp:l:h")) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			if ((cli_log_level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "pstnbridged: unknown log level: %s\n", optarg);
				return 2;
			}
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	running = cfg_load(config_path, &errs);
	if (!running) {
		print_errors(&errs, stderr, 0);
		cfg_errors_release(&errs);
		return 1;
	}
	if (check) {
		fprintf(stderr, "%s: configuration OK\n", config_path);
		cfg_unref(running);
		return 0;
	}

	log_init("pstnbridged", foreground, LOG_LEVEL_INFO);
	apply_log_level(running);
	if (!foreground && daemon(0, 0) != 0) {
		log_warn("daemon");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (pidfile && write_pidfile(pidfile) != 0)
		log_warn("cannot write pid file %s", pidfile);

	base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		return 1;
	}
	if (call_init(base, running) != 0 ||
	    span_registry_init(base, call_on_span_incoming, NULL) != 0 ||
	    span_registry_apply(running) != 0 ||
	    sip_init(base, running, call_on_sip_invite, NULL) != 0 ||
	    ctl_init(base, running->general.ctl_socket, reload) != 0) {
		log_error("start-up failed");
		goto out;
	}
	ev_hup = evsignal_new(base, SIGHUP, on_sighup, NULL);
	ev_term = evsignal_new(base, SIGTERM, on_sigterm, NULL);
	ev_int = evsignal_new(base, SIGINT, on_sigterm, NULL);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	log_notice("pstnbridged %s started with %s", PACKAGE_VERSION, config_path);
	sd_notify(0, "READY=1");
	event_base_dispatch(base);
	log_notice("pstnbridged stopped");
	rc = 0;

	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
out:
	ctl_shutdown();
	call_shutdown();
	sip_shutdown();
	span_registry_shutdown();
	if (ev_drain)
		event_free(ev_drain);
	cfg_unref(running);
	event_base_free(base);
	if (pidfile)
		unlink(pidfile);
	return rc;
}
