/* pstnbridgectl: send one command to a running pstnbridged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"

#define DEFAULT_SOCKET "/run/pstnbridge/ctl.sock"

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	char line[1024] = "";
	size_t used = 0;
	int ch;

	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		default:
			fprintf(stderr, "usage: pstnbridgectl [-s SOCKET] COMMAND [ARGS...]\n"
			    "commands: status, calls, reload, spans, span block|unblock|restart SPAN,\n"
			    "          sim call SPAN CALLED CALLING [TONE_HZ [HOLD_S]], sim hangup SPAN NUMBER\n");
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "pstnbridgectl: no command (try -h)\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		int n = snprintf(line + used, sizeof(line) - used, "%s%s", i > optind ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - used || strchr(argv[i], '\n')) {
			fprintf(stderr, "pstnbridgectl: command too long\n");
			return 2;
		}
		used += (size_t)n;
	}
	return ctl_client_run(path, line);
}
