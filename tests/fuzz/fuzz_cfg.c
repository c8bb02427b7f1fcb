/* libFuzzer target: the configuration parser (cfg_load_string) with every
 * check of a whole file, the error list it returns, and the dump of an
 * accepted configuration. Bad input must give errors, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "core/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_cfg", 1, LOG_LEVEL_ERROR);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs;
	struct cfg *c;
	char *text;

	/* The file as a string: up to its first NUL, like a read file. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = cfg_load_string("fuzz.conf", text, &errs);
	if (c != NULL) {
		if (errs.n != 0)
			abort();    /* accepted with errors */
		cfg_dump(c, devnull);
		for (size_t i = 0; i < c->n_users; i++)
			if (c->users[i].name != NULL && cfg_user_find(c, c->users[i].name) == NULL)
				abort();
		for (size_t i = 0; i < c->n_spans; i++)
			if (c->spans[i].name != NULL && cfg_span_find(c, c->spans[i].name) == NULL)
				abort();
		cfg_ref(c);
		cfg_unref(c);
		cfg_unref(c);
	} else if (errs.n == 0) {
		abort();        /* refused without a reason */
	} else {
		for (size_t i = 0; i < errs.n; i++)
			if (errs.msgs[i] == NULL || strncmp(errs.msgs[i], "fuzz.conf:", 10) != 0)
				abort();
	}
	cfg_errors_release(&errs);
	free(text);
	return 0;
}
