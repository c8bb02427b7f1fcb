/* libFuzzer target: an SDP body from the network (sdp_parse), what we
 * choose from it (sdp_negotiate) and the answer we would write back. The
 * input is the body as-is, not NUL-terminated, like a SIP body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *prefs[][2] = { {"pcma", "pcmu"}, {"pcmu", NULL}, {NULL, NULL} };
	struct sdp_media m;
	struct sdp_choice ch;
	struct sdp_local l;
	char out[1024];
	char *body;

	/* An exact-size copy: a read past the end is caught by ASan. */
	if ((body = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(body, data, size);
	if (sdp_parse(body, size, &m) == 0) {
		if (m.n_pt > SDP_MAX_PT)
			abort();
		for (size_t i = 0; i < 3; i++) {
			struct cfg_strlist codecs = { .n = 0 };

			for (size_t j = 0; j < 2 && prefs[i][j] != NULL; j++)
				codecs.v[codecs.n++] = (char *)prefs[i][j];
			if (sdp_negotiate(&m, &codecs, &ch) != 0)
				continue;
			if (ch.pt != SDP_PT_PCMU && ch.pt != SDP_PT_PCMA)
				abort();
			sdp_local_answer(&l, &ch);
			l.ip = "127.0.0.1";
			l.port = 10000;
			l.sess_id = 1;
			l.sess_version = 1;
			if (sdp_write(&l, out, sizeof(out)) < 0)
				abort();
		}
	}
	free(body);
	return 0;
}
