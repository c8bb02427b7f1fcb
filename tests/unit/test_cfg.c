/* Unit tests of the configuration parser (src/cfg). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "core/log.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* Load text; it must fail, and `want` must be one of its messages. */
static void
expect_error_n(const char *text, const char *want, size_t nwant)
{
	struct cfg_errors errs;
	struct cfg *c;
	bool found = false;

	c = cfg_load_string("t.conf", text, &errs);
	CU_ASSERT_PTR_NULL(c);
	cfg_unref(c);
	for (size_t i = 0; i < errs.n; i++)
		if (strcmp(errs.msgs[i], want) == 0)
			found = true;
	if (!found || (nwant && errs.n != nwant)) {
		fprintf(stderr, "\nwanted (%zu errors): %s\ngot %zu:\n", nwant, want, errs.n);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "  %s\n", errs.msgs[i]);
	}
	CU_ASSERT_TRUE(found);
	if (nwant)
		CU_ASSERT_EQUAL(errs.n, nwant);
	cfg_errors_release(&errs);
}

static void
expect_error(const char *text, const char *want)
{
	expect_error_n(text, want, 1);
}

static struct cfg *
load_ok(const char *text)
{
	struct cfg_errors errs;
	struct cfg *c = cfg_load_string("t.conf", text, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "\nunexpected: %s", errs.msgs[i]);
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_EQUAL(errs.n, 0);
	cfg_errors_release(&errs);
	return c;
}

static void
test_default_file(void)
{
	struct cfg_errors errs;
	const struct cfg_span *sp;
	char buf[ADDR_STRLEN];
	struct cfg *c;

	c = cfg_load(SRCDIR "/conf/pstnbridge.conf", &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "\n%s", errs.msgs[i]);
	CU_ASSERT_EQUAL(errs.n, 0);
	cfg_errors_release(&errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->refs, 1);

	CU_ASSERT_EQUAL(c->general.log_level, LOG_LEVEL_INFO);
	CU_ASSERT_EQUAL(c->general.drain_time, 10);
	CU_ASSERT_STRING_EQUAL(c->general.ctl_socket, "/run/pstnbridge/ctl.sock");
	CU_ASSERT_EQUAL_FATAL(c->sip.n_listen_udp, 1);
	CU_ASSERT_STRING_EQUAL(addr_str(&c->sip.listen_udp[0], buf, sizeof(buf)), "127.0.0.1:5060");
	CU_ASSERT_EQUAL_FATAL(c->sip.n_listen_tcp, 1);
	CU_ASSERT_STRING_EQUAL(addr_str(&c->sip.listen_tcp[0], buf, sizeof(buf)), "127.0.0.1:5060");
	CU_ASSERT_EQUAL(c->sip.n_trusted, 2);
	CU_ASSERT_STRING_EQUAL(c->rtp.address, "127.0.0.1");
	CU_ASSERT_EQUAL(c->rtp.port_min, 10000);
	CU_ASSERT_EQUAL(c->rtp.port_max, 19999);
	CU_ASSERT_EQUAL(c->rtp.latch_mode, CFG_LATCH_ON_CHANGE);
	CU_ASSERT_EQUAL_FATAL(c->rtp.codecs.n, 2);
	CU_ASSERT_STRING_EQUAL(c->rtp.codecs.v[0], "pcma");
	CU_ASSERT_STRING_EQUAL(c->rtp.codecs.v[1], "pcmu");

	CU_ASSERT_EQUAL_FATAL(c->n_spans, 1);
	sp = cfg_span_find(c, "sim1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_PTR_NULL(cfg_span_find(c, "sim2"));
	CU_ASSERT_EQUAL(sp->driver, CFG_DRIVER_SIM);
	CU_ASSERT_EQUAL(sp->type, CFG_SPAN_E1);
	CU_ASSERT_EQUAL(sp->law, CFG_LAW_ALAW);
	CU_ASSERT_STRING_EQUAL(sp->switchtype, "euroisdn_e1");
	CU_ASSERT_EQUAL_FATAL(sp->sim.echo.n, 1);
	CU_ASSERT_STRING_EQUAL(sp->sim.echo.v[0], "100");
	CU_ASSERT_STRING_EQUAL(sp->sim.tone.v[0], "101");
	CU_ASSERT_STRING_EQUAL(sp->sim.busy.v[0], "102");
	CU_ASSERT_STRING_EQUAL(sp->sim.noanswer.v[0], "103");
	CU_ASSERT_STRING_EQUAL(sp->sim.ringanswer.v[0], "104");
	CU_ASSERT_STRING_EQUAL(sp->sim.early.v[0], "105");
	CU_ASSERT_STRING_EQUAL(sp->sim.congestion.v[0], "106");
	CU_ASSERT_EQUAL(sp->sim.tone_hz, 1004);
	CU_ASSERT_EQUAL(sp->sim.ring_seconds, 3);

	CU_ASSERT_EQUAL_FATAL(c->n_routes, 2);
	CU_ASSERT_STRING_EQUAL(c->routes[0].name, "pstn");
	CU_ASSERT_EQUAL(c->routes[0].direction, CFG_ROUTE_OUTBOUND);
	CU_ASSERT_STRING_EQUAL(c->routes[0].match.v[0], "1");
	CU_ASSERT_EQUAL_FATAL(c->routes[0].spans.n, 1);
	CU_ASSERT_STRING_EQUAL(c->routes[0].spans.v[0], "sim1");
	CU_ASSERT_STRING_EQUAL(c->routes[1].name, "internet");
	CU_ASSERT_EQUAL(c->routes[1].direction, CFG_ROUTE_INBOUND);
	CU_ASSERT_STRING_EQUAL(c->routes[1].match.v[0], "2");
	CU_ASSERT_STRING_EQUAL(c->routes[1].target, "sip:{number}@127.0.0.1:5070");
	CU_ASSERT_EQUAL(c->n_users, 0);
	cfg_unref(c);
}

static void
test_defaults(void)
{
	struct cfg *c;
	const struct cfg_span *sp;
	const struct cfg_user *u;

	c = load_ok("; nothing but a comment\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->general.log_level, LOG_LEVEL_INFO);
	CU_ASSERT_EQUAL(c->general.drain_time, 10);
	CU_ASSERT_STRING_EQUAL(c->general.ctl_socket, "/run/pstnbridge/ctl.sock");
	CU_ASSERT_EQUAL(c->sip.n_listen_udp, 1);
	CU_ASSERT_EQUAL(c->sip.n_trusted, 2);
	CU_ASSERT_STRING_EQUAL(c->sip.user_agent, "pstnbridge");
	CU_ASSERT_EQUAL(c->rtp.port_min, 10000);
	CU_ASSERT_EQUAL(c->rtp.port_max, 19999);
	CU_ASSERT_EQUAL(c->rtp.codecs.n, 2);
	CU_ASSERT_EQUAL(c->n_spans + c->n_routes + c->n_users, 0);
	cfg_unref(c);

	c = load_ok("[general]\nlog_level = debug\ndrain_time = 0\n"
	    "[sip]\nlisten_udp =\nlisten_tcp = [::1]:5070, 127.0.0.2\ntrusted = 10.0.0.0/8\n"
	    "[rtp]\nport_min = 2000\nport_max = 2001\nlatch_mode = off\ncodecs = pcmu\n"
	    "[span t]\ndriver = sim\ntype = t1\necho = 1 2,3\n  4\n"
	    "[route out]\nmatch = 5, 6\nspans = t\nstrip = 1\nprepend = 00\n"
	    "[user alice]\npassword = secret\nnumber = 200 201\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->general.log_level, LOG_LEVEL_DEBUG);
	CU_ASSERT_EQUAL(c->general.drain_time, 0);
	CU_ASSERT_EQUAL(c->sip.n_listen_udp, 0);
	CU_ASSERT_EQUAL_FATAL(c->sip.n_listen_tcp, 2);
	CU_ASSERT_EQUAL(addr_port(&c->sip.listen_tcp[0]), 5070);
	CU_ASSERT_EQUAL(c->sip.listen_tcp[0].u.sa.sa_family, AF_INET6);
	CU_ASSERT_EQUAL(addr_port(&c->sip.listen_tcp[1]), 5060);
	CU_ASSERT_EQUAL(c->sip.n_trusted, 1);
	CU_ASSERT_EQUAL(c->sip.trusted[0].bits, 8);
	CU_ASSERT_EQUAL(c->rtp.port_min, 2000);
	CU_ASSERT_EQUAL(c->rtp.latch_mode, CFG_LATCH_OFF);
	CU_ASSERT_EQUAL(c->rtp.codecs.n, 1);
	sp = cfg_span_find(c, "t");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->line, 13);
	CU_ASSERT_EQUAL(sp->type, CFG_SPAN_T1);
	CU_ASSERT_EQUAL(sp->law, CFG_LAW_ULAW);
	CU_ASSERT_STRING_EQUAL(sp->switchtype, "national");
	CU_ASSERT_EQUAL(sp->sim.tone_hz, 1004);
	CU_ASSERT_EQUAL(sp->sim.ring_seconds, 3);
	/* a continuation line adds to the list */
	CU_ASSERT_EQUAL_FATAL(sp->sim.echo.n, 4);
	CU_ASSERT_STRING_EQUAL(sp->sim.echo.v[3], "4");
	CU_ASSERT_EQUAL(sp->sim.busy.n, 0);
	CU_ASSERT_EQUAL(c->routes[0].direction, CFG_ROUTE_OUTBOUND);
	CU_ASSERT_EQUAL(c->routes[0].strip, 1);
	CU_ASSERT_STRING_EQUAL(c->routes[0].prepend, "00");
	CU_ASSERT_EQUAL(c->routes[0].match.n, 2);
	u = cfg_user_find(c, "alice");
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NULL(cfg_user_find(c, "bob"));
	CU_ASSERT_STRING_EQUAL(u->password, "secret");
	CU_ASSERT_EQUAL_FATAL(u->numbers.n, 2);
	CU_ASSERT_STRING_EQUAL(u->numbers.v[1], "201");
	cfg_unref(c);
}

static void
test_err_unknown_key(void)
{
	expect_error("[general]\n\nlog_levle = info\n",
	    "t.conf:3: [general] log_levle: unknown key");
	/* a span key is not a key of [route] */
	expect_error("[route r]\nmatch = 1\nspans = s\ndriver = sim\n[span s]\ndriver = sim\n",
	    "t.conf:4: [route r] driver: unknown key");
}

static void
test_err_unknown_section(void)
{
	expect_error("[general]\n[foo]\nbar = 1\n", "t.conf:2: [foo] : unknown section");
	expect_error("[span]\ndriver = sim\n",
	    "t.conf:1: [span] : section needs a name: [span NAME]");
	expect_error("[sip x]\n", "t.conf:1: [sip x] : unexpected words in section header");
	expect_error("key = 1\n", "t.conf:1: [] key: key outside of any section");
	expect_error("[general]\nlog_level info\n",
	    "t.conf:2: [] : syntax error: expected 'key = value'");
}

static void
test_err_bad_int(void)
{
	expect_error("[general]\ndrain_time = 1x\n",
	    "t.conf:2: [general] drain_time: '1x' is not a number");
	expect_error("[span s]\ndriver = sim\ntone_hz = \n",
	    "t.conf:3: [span s] tone_hz: '' is not a number");
}

static void
test_err_out_of_range(void)
{
	expect_error("[general]\ndrain_time = 3601\n",
	    "t.conf:2: [general] drain_time: 3601 is out of range 0..3600");
	expect_error("[rtp]\nport_min = 80\n",
	    "t.conf:2: [rtp] port_min: 80 is out of range 1024..65535");
	expect_error("[span s]\ndriver = sim\n\ntone_hz = 4000\n",
	    "t.conf:4: [span s] tone_hz: 4000 is out of range 100..3900");
	expect_error("[rtp]\nport_min = 3000\nport_max = 3000\n",
	    "t.conf:3: [rtp] port_max: port range 3000..3000 must hold at least 2 ports");
	expect_error("[rtp]\nport_min = 30000\n",
	    "t.conf:2: [rtp] port_min: port range 30000..19999 must hold at least 2 ports");
}

/* [span] ton, national_prefix, international_prefix, hunt. */
static void
test_span_pri_keys(void)
{
	const struct cfg_span *sp;
	struct cfg *c;

	c = load_ok("[span a]\ndriver = sim\n"
	    "[span b]\ndriver = sim\nton = subscriber\nnational_prefix = 0\n"
	    "international_prefix = 00\nhunt = roundrobin\n"
	    "[span c]\ndriver = sim\nblocked = yes\nchannel_select = preferred\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	sp = cfg_span_find(c, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->ton, CFG_TON_UNKNOWN);
	CU_ASSERT_EQUAL(sp->hunt, CFG_HUNT_ASCENDING);
	CU_ASSERT_TRUE(sp->national_prefix == NULL || sp->national_prefix[0] == '\0');
	sp = cfg_span_find(c, "b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->ton, CFG_TON_SUBSCRIBER);
	CU_ASSERT_EQUAL(sp->hunt, CFG_HUNT_ROUNDROBIN);
	CU_ASSERT_EQUAL(sp->blocked, 0);
	CU_ASSERT_EQUAL(sp->channel_preferred, 0);
	CU_ASSERT_STRING_EQUAL(sp->national_prefix, "0");
	CU_ASSERT_STRING_EQUAL(sp->international_prefix, "00");
	sp = cfg_span_find(c, "c");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->blocked, 1);
	CU_ASSERT_EQUAL(sp->channel_preferred, 1);
	cfg_unref(c);
	expect_error("[span s]\ndriver = sim\nton = local\n",
	    "t.conf:3: [span s] ton: 'local' is not one of "
	    "unknown|national|international|subscriber");
	expect_error("[span s]\ndriver = sim\nhunt = random\n",
	    "t.conf:3: [span s] hunt: 'random' is not one of ascending|descending|roundrobin");
	expect_error("[span s]\ndriver = sim\nnational_prefix = 0x\n",
	    "t.conf:3: [span s] national_prefix: '0x' is not a number (digits, *, #, +)");
}

static void
test_err_bad_enum(void)
{
	expect_error("[general]\nlog_level = loud\n",
	    "t.conf:2: [general] log_level: 'loud' is not one of error|warn|notice|info|debug");
	expect_error("[rtp]\nlatch_mode = always\n",
	    "t.conf:2: [rtp] latch_mode: 'always' is not one of off|on-change|recent|window|strict");
	expect_error("[rtp]\ncodecs = pcma, g729\n",
	    "t.conf:2: [rtp] codecs: 'g729' is not one of pcma|pcmu");
	expect_error("[rtp]\ncodecs =\n", "t.conf:2: [rtp] codecs: needs at least one codec");
	expect_error("[span s]\ndriver = sim\nswitchtype = dms250\n",
	    "t.conf:3: [span s] switchtype: 'dms250' is not one of "
	    "national|ni1|dms100|4ess|5ess|euroisdn_e1|euroisdn_t1|qsig");
	expect_error("[span s]\ndriver = analog\n",
	    "t.conf:2: [span s] driver: 'analog' is not one of sim|dahdi");
	expect_error("[span s]\ndriver = dahdi\n",
	    "t.conf:1: [span s] span: missing required key: span, or dchannel and bchannels");
}

static void
test_err_bad_address(void)
{
	expect_error("[sip]\nlisten_udp = 127.0.0.1:5060, localhost:5060\n",
	    "t.conf:2: [sip] listen_udp: 'localhost:5060' is not an address (ip:port, [ipv6]:port)");
	expect_error("[sip]\nlisten_tcp = 1.2.3.4:70000\n",
	    "t.conf:2: [sip] listen_tcp: '1.2.3.4:70000' is not an address (ip:port, [ipv6]:port)");
	expect_error("[rtp]\naddress = rtp.example.com\n",
	    "t.conf:2: [rtp] address: 'rtp.example.com' is not an IP address");
	expect_error("[route in]\ndirection = inbound\nmatch = 2\ntarget = tel:+123\n",
	    "t.conf:4: [route in] target: 'tel:+123' is not a SIP URI (sip:...)");
}

static void
test_err_bad_cidr(void)
{
	expect_error("[sip]\ntrusted = 10.0.0.0/8, 192.168.0.0/33\n",
	    "t.conf:2: [sip] trusted: '192.168.0.0/33' is not a network (ip or ip/bits)");
	expect_error("[sip]\ntrusted = 10.0.0/8\n",
	    "t.conf:2: [sip] trusted: '10.0.0/8' is not a network (ip or ip/bits)");
}

static void
test_err_missing_required(void)
{
	expect_error("[general]\n[span s]\n", "t.conf:2: [span s] driver: missing required key");
	expect_error("[route r]\nspans = s\n[span s]\ndriver = sim\n",
	    "t.conf:1: [route r] match: missing required key");
	expect_error("[route r]\nmatch = 1\n",
	    "t.conf:1: [route r] spans: missing required key (outbound route)");
	expect_error("\n[route r]\ndirection = inbound\nmatch = 1\n",
	    "t.conf:2: [route r] target: missing required key (inbound route)");
	expect_error("[route r]\nmatch = 1\nspans =\n",
	    "t.conf:3: [route r] spans: needs at least one span");
	expect_error("[user bob]\npassword = x\nnumber = \n",
	    "t.conf:3: [user bob] number: needs at least one number");
	expect_error_n("[user bob]\n",
	    "t.conf:1: [user bob] password: missing required key: password or ha1", 2);
	expect_error_n("[user bob]\n", "t.conf:1: [user bob] number: missing required key", 2);
}

static void
test_err_unknown_span(void)
{
	expect_error("[span a]\ndriver = sim\n[route r]\nmatch = 1\nspans = a, b\n",
	    "t.conf:5: [route r] spans: unknown span 'b'");
	/* the span may come after the route */
	struct cfg *c = load_ok("[route r]\nmatch = 1\nspans = a\n[span a]\ndriver = sim\n");
	cfg_unref(c);
	expect_error("[route r]\ndirection = inbound\nmatch = 1\ntarget = sip:x@h\nspans = a\n",
	    "t.conf:5: [route r] spans: only valid in outbound routes");
	expect_error("[span a]\ndriver = sim\n[route r]\nmatch = 1\nspans = a\ntarget = sip:x@h\n",
	    "t.conf:6: [route r] target: only valid in inbound routes");
}

static void
test_err_duplicates(void)
{
	expect_error("[span a]\ndriver = sim\n\n[span a]\ndriver = sim\n",
	    "t.conf:4: [span a] : duplicate section (first on line 1)");
	expect_error("[general]\n[sip]\n[general]\n",
	    "t.conf:3: [general] : duplicate section (first on line 1)");
	expect_error("[general]\ndrain_time = 1\ndrain_time = 2\n",
	    "t.conf:3: [general] drain_time: duplicate key (first set on line 2)");
	expect_error("[span a]\ndriver = sim\necho = 100\nbusy = 101, 100\n",
	    "t.conf:4: [span a] busy: number 100 is already a echo telephone");
	expect_error("[span a]\ndriver = sim\necho = 100, 100\n",
	    "t.conf:3: [span a] echo: '100' is listed twice");
	expect_error("[span a]\ndriver = sim\n[route x]\nmatch = 1\nspans = a\n"
	    "[route y]\nmatch = 2, 1\nspans = a\n",
	    "t.conf:7: [route y] match: '1' is already matched by route x (line 3)");
	expect_error("[user a]\npassword = p\nnumber = 1\n[user b]\npassword = q\nnumber = 1\n",
	    "t.conf:6: [user b] number: 1 is already a number of user a (line 1)");
}

static void
test_err_sim_key_non_sim(void)
{
	/* a dahdi span refuses the sim keys (and lacks its span here) */
	expect_error_n("[span d]\ndriver = dahdi\necho = 100\nring_seconds = 5\n",
	    "t.conf:3: [span d] echo: only valid with driver = sim", 3);
	expect_error_n("[span d]\ndriver = dahdi\necho = 100\nring_seconds = 5\n",
	    "t.conf:4: [span d] ring_seconds: only valid with driver = sim", 3);
	expect_error("[span s]\ndriver = sim\necho = 12a\n",
	    "t.conf:3: [span s] echo: '12a' is not a number (digits, *, #, +)");
}

/* driver = dahdi: its keys, their checks, and the checks across spans. */
static void
test_dahdi_keys(void)
{
	const struct cfg_span *sp;
	struct cfg *c;
	char *d = NULL;
	size_t dl = 0;
	FILE *f;

	c = load_ok("[span a]\ndriver = dahdi\ntype = t1\nspan = 2\n"
	    "[span b]\ndriver = dahdi\ndchannel = 47\nbchannels = 32-46, 48-50, 60\n"
	    "law = ulaw\nsignalling = pri_net\nechocancel = 128\n");
	if (c == NULL)
		return;
	sp = cfg_span_find(c, "a");
	CU_ASSERT_EQUAL(sp->driver, CFG_DRIVER_DAHDI);
	CU_ASSERT_EQUAL(sp->dahdi.span, 2);
	CU_ASSERT_EQUAL(sp->dahdi.n_bchannels, 0);
	CU_ASSERT_EQUAL(sp->dahdi.echocancel, 0);
	CU_ASSERT_EQUAL(sp->signalling, CFG_SIG_PRI_CPE);
	CU_ASSERT_TRUE(sp->dahdi.law_from_span);
	sp = cfg_span_find(c, "b");
	CU_ASSERT_EQUAL(sp->dahdi.span, 0);
	CU_ASSERT_EQUAL(sp->dahdi.dchannel, 47);
	CU_ASSERT_EQUAL(sp->dahdi.n_bchannels, 19);
	CU_ASSERT_EQUAL(sp->dahdi.bchannels[0], 32);
	CU_ASSERT_EQUAL(sp->dahdi.bchannels[14], 46);
	CU_ASSERT_EQUAL(sp->dahdi.bchannels[15], 48);
	CU_ASSERT_EQUAL(sp->dahdi.bchannels[18], 60);
	CU_ASSERT_EQUAL(sp->signalling, CFG_SIG_PRI_NET);
	CU_ASSERT_EQUAL(sp->dahdi.echocancel, 128);
	CU_ASSERT_FALSE(sp->dahdi.law_from_span);
	CU_ASSERT_EQUAL(sp->law, CFG_LAW_ULAW);
	/* the dump writes ranges back */
	f = open_memstream(&d, &dl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	cfg_dump(c, f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "bchannels = 32-46, 48-50, 60\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "echocancel = off\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "echocancel = 128\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "signalling = pri_net\n"));
	CU_ASSERT_PTR_NULL(strstr(d, "ring_seconds"));
	free(d);
	cfg_unref(c);

	expect_error("[span a]\ndriver = dahdi\nspan = 1\ndchannel = 24\n",
	    "t.conf:4: [span a] dchannel: give either span or dchannel and bchannels, not both");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 24\n",
	    "t.conf:3: [span a] bchannels: needs at least one B-channel (with dchannel)");
	expect_error("[span a]\ndriver = dahdi\nbchannels = 1-5\n",
	    "t.conf:3: [span a] dchannel: missing required key (with bchannels)");
	expect_error("[span a]\ndriver = dahdi\ntype = t1\ndchannel = 30\nbchannels = 1-24\n",
	    "t.conf:5: [span a] bchannels: 24 B-channels, a t1 span has at most 23");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 3\nbchannels = 1-5\n",
	    "t.conf:4: [span a] bchannels: channel 3 is the D-channel");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 16\nbchannels = 1-5, 4\n",
	    "t.conf:4: [span a] bchannels: channel 4 is listed twice");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 16\nbchannels = 5-3\n",
	    "t.conf:4: [span a] bchannels: '5-3' is not a channel number or range "
	    "(1..4095, like 1-15)");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 16\nbchannels = 1-x\n",
	    "t.conf:4: [span a] bchannels: '1-x' is not a channel number or range "
	    "(1..4095, like 1-15)");
	expect_error("[span a]\ndriver = dahdi\nspan = 1\nechocancel = loud\n",
	    "t.conf:4: [span a] echocancel: 'loud' is not off or a tail length of 1..128 ms");
	expect_error("[span a]\ndriver = dahdi\nspan = 1\nechocancel = 256\n",
	    "t.conf:4: [span a] echocancel: '256' is not off or a tail length of 1..128 ms");
	expect_error("[span a]\ndriver = dahdi\nspan = 0\n",
	    "t.conf:3: [span a] span: 0 is out of range 1..255");
	expect_error("[span a]\ndriver = dahdi\nspan = 1\nsignalling = pri_bri\n",
	    "t.conf:4: [span a] signalling: 'pri_bri' is not one of pri_cpe|pri_net");
	expect_error("[span a]\ndriver = sim\nspan = 1\n",
	    "t.conf:3: [span a] span: only valid with driver = dahdi");
	expect_error("[span a]\ndriver = dahdi\nspan = 1\n[span b]\ndriver = dahdi\nspan = 1\n",
	    "t.conf:6: [span b] span: DAHDI span 1 is already span a (line 1)");
	expect_error("[span a]\ndriver = dahdi\ndchannel = 16\nbchannels = 1-15\n"
	    "[span b]\ndriver = dahdi\ndchannel = 31\nbchannels = 15, 17-30\n",
	    "t.conf:5: [span b] : DAHDI channel 15 is already used by span a (line 1)");
}

static void
test_err_many(void)
{
	static const char text[] =
	    "[general]\n"               /* 1 */
	    "log_level = chatty\n"      /* 2 */
	    "[sip]\n"                   /* 3 */
	    "trusted = nowhere\n"       /* 4 */
	    "colour = blue\n"           /* 5 */
	    "[rtp]\n"                   /* 6 */
	    "port_max = 99999\n"        /* 7 */
	    "[bogus]\n"                 /* 8 */
	    "ignored = 1\n"             /* 9 */
	    "[span s]\n"                /* 10 */
	    "type = e3\n"               /* 11 */
	    "[route r]\n"               /* 12 */
	    "match = 1\n"               /* 13 */
	    "spans = nosuch\n";         /* 14 */
	static const char *const want[] = {
		"t.conf:2: [general] log_level: 'chatty' is not one of error|warn|notice|info|debug",
		"t.conf:4: [sip] trusted: 'nowhere' is not a network (ip or ip/bits)",
		"t.conf:5: [sip] colour: unknown key",
		"t.conf:7: [rtp] port_max: 99999 is out of range 1024..65535",
		"t.conf:8: [bogus] : unknown section",
		"t.conf:10: [span s] driver: missing required key",
		"t.conf:11: [span s] type: 'e3' is not one of e1|t1",
		"t.conf:14: [route r] spans: unknown span 'nosuch'",
	};
	struct cfg_errors errs;
	struct cfg *c;
	size_t nwant = sizeof(want) / sizeof(want[0]);

	c = cfg_load_string("t.conf", text, &errs);
	CU_ASSERT_PTR_NULL(c);
	for (size_t i = 0; i < errs.n; i++)
		if (i >= nwant || strcmp(errs.msgs[i], want[i]) != 0)
			fprintf(stderr, "\ngot %zu: %s", i, errs.msgs[i]);
	CU_ASSERT_EQUAL_FATAL(errs.n, nwant);
	/* all of them, in line order */
	for (size_t i = 0; i < nwant; i++)
		CU_ASSERT_STRING_EQUAL(errs.msgs[i], want[i]);
	cfg_errors_release(&errs);
	CU_ASSERT_EQUAL(errs.n, 0);
}

static void
test_err_file(void)
{
	struct cfg_errors errs;
	char line[400];

	CU_ASSERT_PTR_NULL(cfg_load(SRCDIR "/tests/data/cfg/no-such-file.conf", &errs));
	CU_ASSERT_EQUAL_FATAL(errs.n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msgs[0], "no-such-file.conf:0: [] : cannot open"));
	cfg_errors_release(&errs);

	/* a file on disk reports its own name */
	CU_ASSERT_PTR_NULL(cfg_load(SRCDIR "/tests/data/cfg/bad.conf", &errs));
	CU_ASSERT_EQUAL_FATAL(errs.n, 2);
	CU_ASSERT_STRING_EQUAL(errs.msgs[0],
	    SRCDIR "/tests/data/cfg/bad.conf:3: [rtp] latch_mode: 'sometimes' is not one of off|on-change|recent|window|strict");
	CU_ASSERT_STRING_EQUAL(errs.msgs[1],
	    SRCDIR "/tests/data/cfg/bad.conf:6: [span sim1] tone_hz: 50 is out of range 100..3900");
	cfg_errors_release(&errs);

	/* an over-long line is refused, not split in two */
	memset(line, '1', sizeof(line));
	memcpy(line, "[span s]\ndriver = sim\necho = ", 29);
	line[sizeof(line) - 1] = '\0';
	expect_error(line, "t.conf:3: [] : line too long (at most 198 characters)");
}

/* Every key of the table is documented in its section of the man page, as
 * ".TP" then ".B key" between ".SS [section..." and the next ".SS [". */
static void
test_man_page(void)
{
	FILE *f = fopen(SRCDIR "/man/pstnbridge.conf.5", "r");
	char *text = NULL;
	size_t len = 0;
	char buf[4096];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		text = realloc(text, len + n + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		memcpy(text + len, buf, n);
		len += n;
		text[len] = '\0';
	}
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);

	for (size_t i = 0; i < cfg_n_keys; i++) {
		char head[64], item[128];
		const char *s, *end, *hit;

		snprintf(head, sizeof(head), "\n.SS [%s", cfg_keys[i].section);
		snprintf(item, sizeof(item), "\n.TP\n.B %s\n", cfg_keys[i].name);
		s = strstr(text, head);
		if (s == NULL) {
			fprintf(stderr, "\nno section %s in the man page", cfg_keys[i].section);
			CU_FAIL("section not documented");
			continue;
		}
		end = strstr(s + 1, "\n.SS [");
		if (end == NULL)
			end = strstr(s + 1, "\n.SH ");
		hit = strstr(s, item);
		if (hit == NULL || (end != NULL && hit > end)) {
			fprintf(stderr, "\nkey [%s] %s not in the man page", cfg_keys[i].section,
			    cfg_keys[i].name);
			CU_FAIL("key not documented");
		}
	}
	free(text);
}

static void
test_key_table(void)
{
	struct cfg *c = load_ok("");

	CU_ASSERT_FATAL(cfg_n_keys > 30);
	for (size_t i = 0; i < cfg_n_keys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		CU_ASSERT_PTR_NOT_NULL(k->help);
		CU_ASSERT(k->help != NULL && k->help[0] != '\0');
		if (k->type == CFG_T_INT)
			CU_ASSERT(k->min <= k->max);
		if (k->type == CFG_T_ENUM)
			CU_ASSERT_PTR_NOT_NULL(k->values);
		/* a required key has no default */
		if (k->required)
			CU_ASSERT_PTR_NULL(k->def);
		/* no key twice in a section */
		for (size_t j = 0; j < i; j++)
			CU_ASSERT(strcmp(k->section, cfg_keys[j].section) != 0 ||
			    strcmp(k->name, cfg_keys[j].name) != 0);
	}
	cfg_unref(c);
}

/* The sample loads, and shows every key of the table as "key =" at the
 * start of a line (commented out for the [user] example). */
static void
test_sample(void)
{
	struct cfg_errors errs;
	struct cfg *c;
	char line[512];
	FILE *f;

	c = cfg_load(SRCDIR "/conf/pstnbridge.conf.sample", &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "\n%s", errs.msgs[i]);
	CU_ASSERT_PTR_NOT_NULL(c);
	cfg_errors_release(&errs);
	cfg_unref(c);

	for (size_t i = 0; i < cfg_n_keys; i++) {
		bool found = false;
		size_t kl = strlen(cfg_keys[i].name);

		f = fopen(SRCDIR "/conf/pstnbridge.conf.sample", "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		while (!found && fgets(line, sizeof(line), f) != NULL) {
			const char *s = line[0] == ';' ? line + 1 : line;
			if (strncmp(s, cfg_keys[i].name, kl) == 0 && strncmp(s + kl, " =", 2) == 0)
				found = true;
		}
		fclose(f);
		if (!found)
			fprintf(stderr, "\nkey %s not in the sample", cfg_keys[i].name);
		CU_ASSERT_TRUE(found);
	}
}

/* cfg_dump writes a file that loads back to the same configuration. */
static void
test_dump_roundtrip(void)
{
	struct cfg *a, *b;
	char *d1 = NULL, *d2 = NULL;
	size_t l1 = 0, l2 = 0;
	FILE *f;

	a = cfg_load(SRCDIR "/conf/pstnbridge.conf", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	f = open_memstream(&d1, &l1);
	cfg_dump(a, f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(d1, "[span sim1]\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d1, "\nlaw = alaw\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d1, "\ntrusted = 127.0.0.0/8, ::1/128\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d1, "\ntarget = sip:{number}@127.0.0.1:5070\n"));

	b = load_ok(d1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	f = open_memstream(&d2, &l2);
	cfg_dump(b, f);
	fclose(f);
	/* the first line names the file; compare the rest */
	CU_ASSERT_STRING_EQUAL(strchr(d1, '\n'), strchr(d2, '\n'));
	free(d1);
	free(d2);
	cfg_unref(a);
	cfg_unref(b);
}

static void
test_refs(void)
{
	struct cfg *c = load_ok("[general]\ndrain_time = 7\n");

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->refs, 1);
	CU_ASSERT_PTR_EQUAL(cfg_ref(c), c);
	CU_ASSERT_EQUAL(c->refs, 2);
	cfg_unref(c);
	/* still alive with one reference (ASan would catch a use after free) */
	CU_ASSERT_EQUAL(c->refs, 1);
	CU_ASSERT_EQUAL(c->general.drain_time, 7);
	cfg_unref(c);
	cfg_unref(NULL);
}

/* The latch keys of [rtp], and the per-user and per-route override. */
static void
test_latch_keys(void)
{
	const struct cfg_user *u, *u2;
	struct cfg *c;

	c = load_ok("[rtp]\n"
	    "[span s]\ndriver = sim\n"
	    "[route r]\nmatch = 1\nspans = s\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->rtp.latch_mode, CFG_LATCH_STRICT);
	CU_ASSERT_EQUAL(c->rtp.latch_window_ms, 2000);
	CU_ASSERT_EQUAL(c->rtp.latch_probation, 4);
	CU_ASSERT_EQUAL(c->rtp.latch_silence_ms, 500);
	CU_ASSERT_EQUAL(c->rtp.rtp_timeout, 30);
	CU_ASSERT_EQUAL(c->rtp.rtp_hold_timeout, 300);
	CU_ASSERT_EQUAL(c->rtp.jitter_min_ms, 20);
	CU_ASSERT_EQUAL(c->rtp.jitter_max_ms, 200);
	CU_ASSERT_EQUAL_FATAL(c->n_routes, 1);
	CU_ASSERT_EQUAL(c->routes[0].latch_mode, CFG_LATCH_INHERIT);
	CU_ASSERT_EQUAL(cfg_latch_mode_effective(c, NULL, &c->routes[0]), CFG_LATCH_STRICT);
	CU_ASSERT_EQUAL(cfg_latch_mode_effective(c, NULL, NULL), CFG_LATCH_STRICT);
	cfg_unref(c);

	c = load_ok("[rtp]\nlatch_mode = window\nlatch_window_ms = 100\nlatch_probation = 1\n"
	    "latch_silence_ms = 0\nrtp_timeout = 0\nrtp_hold_timeout = 86400\n"
	    "[span s]\ndriver = sim\n"
	    "[route r]\nmatch = 1\nspans = s\nlatch_mode = recent\n"
	    "[user a]\npassword = x\nnumber = 5\nlatch_mode = off\n"
	    "[user b]\npassword = x\nnumber = 6\nlatch_mode = inherit\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->rtp.latch_mode, CFG_LATCH_WINDOW);
	CU_ASSERT_EQUAL(c->rtp.latch_window_ms, 100);
	CU_ASSERT_EQUAL(c->rtp.latch_probation, 1);
	CU_ASSERT_EQUAL(c->rtp.latch_silence_ms, 0);
	CU_ASSERT_EQUAL(c->rtp.rtp_timeout, 0);
	CU_ASSERT_EQUAL(c->rtp.rtp_hold_timeout, 86400);
	u = cfg_user_find(c, "a");
	u2 = cfg_user_find(c, "b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u2);
	CU_ASSERT_EQUAL(u->latch_mode, CFG_LATCH_OFF);
	CU_ASSERT_EQUAL(c->routes[0].latch_mode, CFG_LATCH_RECENT);
	/* the user's wins over the route's, which wins over [rtp]'s */
	CU_ASSERT_EQUAL(cfg_latch_mode_effective(c, u, &c->routes[0]), CFG_LATCH_OFF);
	CU_ASSERT_EQUAL(cfg_latch_mode_effective(c, u2, &c->routes[0]), CFG_LATCH_RECENT);
	CU_ASSERT_EQUAL(cfg_latch_mode_effective(c, u2, NULL), CFG_LATCH_WINDOW);
	CU_ASSERT_STRING_EQUAL(cfg_latch_mode_name(CFG_LATCH_ON_CHANGE), "on-change");
	CU_ASSERT_STRING_EQUAL(cfg_latch_mode_name(CFG_LATCH_STRICT), "strict");
	cfg_unref(c);

	/* inherit is for users and routes only */
	expect_error("[rtp]\nlatch_mode = inherit\n",
	    "t.conf:2: [rtp] latch_mode: 'inherit' is not one of off|on-change|recent|window|strict");
	expect_error("[rtp]\nlatch_probation = 0\n",
	    "t.conf:2: [rtp] latch_probation: 0 is out of range 1..50");
	expect_error("[rtp]\nlatch_window_ms = 99\n",
	    "t.conf:2: [rtp] latch_window_ms: 99 is out of range 100..60000");

	/* jitter buffer bounds */
	expect_error("[rtp]\njitter_max_ms = 100\njitter_min_ms = 150\n",
	    "t.conf:3: [rtp] jitter_min_ms: jitter_min_ms 150 is above jitter_max_ms 100");
	expect_error("[rtp]\njitter_max_ms = 10\n",
	    "t.conf:2: [rtp] jitter_max_ms: 10 is out of range 20..1000");
	expect_error("[user a]\npassword = x\nnumber = 5\nlatch_mode = sometimes\n",
	    "t.conf:4: [user a] latch_mode: 'sometimes' is not one of "
	    "off|on-change|recent|window|strict|inherit");
}

/* Toll-fraud keys: defaults, the [user] policy, errors. */
/* The registrar's keys: [general] state_dir, [sip] register_* and
 * keepalive_interval, [user] ha1 instead of password. */
static void
test_registrar_keys(void)
{
	struct cfg_errors errs;
	struct cfg *c;

	c = cfg_load_string("t.conf", "[user bob]\nnumber = 2001\n", &errs);
	CU_ASSERT_PTR_NULL(c);
	cfg_errors_release(&errs);
	c = cfg_load_string("t.conf", "[general]\nstate_dir = /tmp/x\n"
	    "[sip]\nregister_min_expires = 30\nregister_max_expires = 600\n"
	    "register_max_contacts = 2\nkeepalive_interval = 0\n"
	    "[user bob]\nha1 = 0123456789ABCDEF0123456789abcdef\nnumber = 2001\n", &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->general.state_dir, "/tmp/x");
	CU_ASSERT_EQUAL(c->sip.register_min_expires, 30);
	CU_ASSERT_EQUAL(c->sip.register_max_expires, 600);
	CU_ASSERT_EQUAL(c->sip.register_max_contacts, 2);
	CU_ASSERT_EQUAL(c->sip.keepalive_interval, 0);
	CU_ASSERT_PTR_NULL(c->users[0].password);
	CU_ASSERT_STRING_EQUAL(c->users[0].ha1, "0123456789ABCDEF0123456789abcdef");
	cfg_unref(c);
	/* The defaults. */
	c = cfg_load_string("t.conf", "[general]\n", &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->general.state_dir, "/var/lib/pstnbridge");
	CU_ASSERT_EQUAL(c->sip.register_min_expires, 60);
	CU_ASSERT_EQUAL(c->sip.register_max_expires, 3600);
	CU_ASSERT_EQUAL(c->sip.register_max_contacts, 5);
	CU_ASSERT_EQUAL(c->sip.keepalive_interval, 30);
	cfg_unref(c);
	expect_error_n("[user bob]\nha1 = 0123\nnumber = 2001\n",
	    "t.conf:2: [user bob] ha1: must be 32 hex digits", 1);
	expect_error_n("[user bob]\nha1 = 0123456789abcdef0123456789abcdeg\nnumber = 2001\n",
	    "t.conf:2: [user bob] ha1: must be 32 hex digits", 1);
	expect_error_n("[sip]\nregister_min_expires = 700\nregister_max_expires = 600\n",
	    "t.conf:2: [sip] register_min_expires: register_min_expires 700 is above "
	    "register_max_expires 600", 1);
}

static void
test_security_keys(void)
{
	const struct cfg_user *u;
	struct cfg *c;

	c = load_ok("[sip]\n[user a]\npassword = x\nnumber = 5\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->general.max_calls, 0);
	CU_ASSERT_EQUAL(c->general.max_call_attempts_per_second, 0);
	CU_ASSERT_EQUAL(c->general.default_deny.n, 7);
	CU_ASSERT_STRING_EQUAL(c->general.default_deny.v[0], "00");
	CU_ASSERT_STRING_EQUAL(c->general.default_deny.v[2], "+");
	CU_ASSERT_EQUAL(c->sip.auth_algorithms.n, 2);
	CU_ASSERT_STRING_EQUAL(c->sip.auth_algorithms.v[0], "SHA-256");
	CU_ASSERT_EQUAL(c->sip.auth_nonce_ttl, 300);
	CU_ASSERT_EQUAL(c->sip.auth_fail_limit, 10);
	CU_ASSERT_EQUAL(c->sip.auth_fail_window, 60);
	CU_ASSERT_EQUAL(c->sip.auth_block_time, 600);
	CU_ASSERT_EQUAL(c->sip.trusted_deny.n, 0);
	u = cfg_user_find(c, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_EQUAL(u->policy.n_acl, 0);
	CU_ASSERT_EQUAL(u->policy.max_calls, 0);
	cfg_unref(c);

	c = load_ok("[general]\nmax_calls = 30\nmax_call_attempts_per_second = 5\ndefault_deny =\n"
	    "[sip]\nauth_algorithms = MD5\nauth_fail_limit = 0\ntrusted_deny = 00, 1900\n"
	    "[user a]\nha1_sha256 = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	    "number = 5\nacl = 10.0.0.0/8, 2001:db8::/32\nallow = 0044\ndeny = 0180, *\n"
	    "max_calls = 2\nmax_duration = 3600\nmax_calls_per_minute = 5\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->general.max_calls, 30);
	CU_ASSERT_EQUAL(c->general.max_call_attempts_per_second, 5);
	CU_ASSERT_EQUAL(c->general.default_deny.n, 0);
	CU_ASSERT_EQUAL(c->sip.auth_algorithms.n, 1);
	CU_ASSERT_EQUAL(c->sip.auth_fail_limit, 0);
	CU_ASSERT_EQUAL(c->sip.trusted_deny.n, 2);
	u = cfg_user_find(c, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NULL(u->password);
	CU_ASSERT_EQUAL(u->policy.n_acl, 2);
	CU_ASSERT_EQUAL(u->policy.allow.n, 1);
	CU_ASSERT_EQUAL(u->policy.deny.n, 2);
	CU_ASSERT_EQUAL(u->policy.max_calls, 2);
	CU_ASSERT_EQUAL(u->policy.max_duration, 3600);
	CU_ASSERT_EQUAL(u->policy.max_calls_per_minute, 5);
	cfg_unref(c);

	expect_error("[sip]\nauth_algorithms = SHA-1\n",
	    "t.conf:2: [sip] auth_algorithms: 'SHA-1' is not one of SHA-256|MD5");
	expect_error("[general]\ndefault_deny = 00, 0x9\n",
	    "t.conf:2: [general] default_deny: '0x9' is not a number prefix or *");
	expect_error("[sip]\nauth_nonce_ttl = 5\n",
	    "t.conf:2: [sip] auth_nonce_ttl: 5 is out of range 10..86400");
	expect_error("[user a]\nnumber = 5\nha1_sha256 = abcd\n",
	    "t.conf:3: [user a] ha1_sha256: must be 64 hex digits");
	expect_error("[user a]\npassword = x\nnumber = 5\nacl = 10.0.0.300/8\n",
	    "t.conf:4: [user a] acl: '10.0.0.300/8' is not a network (ip or ip/bits)");
}

/* Session timer and SIP INFO DTMF keys of [sip], dtmf_info of [user]. */
static void
test_dialog_keys(void)
{
	const struct cfg_user *u, *u2;
	struct cfg *c;

	c = load_ok("[sip]\n[span s]\ndriver = sim\n[route r]\nmatch = 1\nspans = s\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sip.session_expires, 1800);
	CU_ASSERT_EQUAL(c->sip.min_se, 90);
	CU_ASSERT_EQUAL(c->sip.dtmf_info, CFG_DTMF_INFO_NO);
	cfg_unref(c);

	c = load_ok("[sip]\nsession_expires = 0\nmin_se = 120\ndtmf_info = yes\n"
	    "[user a]\npassword = x\nnumber = 5\ndtmf_info = no\n"
	    "[user b]\npassword = x\nnumber = 6\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sip.session_expires, 0);
	CU_ASSERT_EQUAL(c->sip.min_se, 120);
	CU_ASSERT_EQUAL(c->sip.dtmf_info, CFG_DTMF_INFO_YES);
	u = cfg_user_find(c, "a");
	u2 = cfg_user_find(c, "b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u2);
	CU_ASSERT_EQUAL(u->dtmf_info, CFG_DTMF_INFO_NO);
	CU_ASSERT_EQUAL(u2->dtmf_info, CFG_DTMF_INFO_INHERIT);
	cfg_unref(c);

	expect_error("[sip]\nmin_se = 89\n", "t.conf:2: [sip] min_se: 89 is out of range 90..86400");
	expect_error("[sip]\nmin_se = 600\nsession_expires = 300\n",
	    "t.conf:3: [sip] session_expires: 300 is below min_se 600 (0 turns it off)");
	expect_error("[sip]\ndtmf_info = maybe\n",
	    "t.conf:2: [sip] dtmf_info: 'maybe' is not one of no|yes");
	expect_error("[user a]\npassword = x\nnumber = 5\ndtmf_info = on\n",
	    "t.conf:4: [user a] dtmf_info: 'on' is not one of no|yes|inherit");

	/* TLS: a listener needs a certificate and a key, verification CAs. */
	c = load_ok("[sip]\nlisten_tls = 127.0.0.1:5061\ntls_certificate = /c.pem\n"
	    "tls_key = /k.pem\ntls_ca = /ca.pem\ntls_verify_peer = yes\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sip.n_listen_tls, 1);
	CU_ASSERT_EQUAL(addr_port(&c->sip.listen_tls[0]), 5061);
	CU_ASSERT_STRING_EQUAL(c->sip.tls_certificate, "/c.pem");
	CU_ASSERT_STRING_EQUAL(c->sip.tls_key, "/k.pem");
	CU_ASSERT_STRING_EQUAL(c->sip.tls_ca, "/ca.pem");
	CU_ASSERT_EQUAL(c->sip.tls_verify_peer, 1);
	cfg_unref(c);
	c = load_ok("[sip]\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->sip.n_listen_tls, 0);
	CU_ASSERT_EQUAL(c->sip.tls_verify_peer, 0);
	cfg_unref(c);
	expect_error("[sip]\nlisten_tls = 127.0.0.1:5061\ntls_key = /k.pem\n",
	    "t.conf:2: [sip] tls_certificate: needed with listen_tls");
	expect_error("[sip]\ntls_verify_peer = yes\n",
	    "t.conf:2: [sip] tls_ca: needed with tls_verify_peer = yes");
}

int
main(void)
{
	CU_pSuite s;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("cfg", NULL, NULL);
	CU_add_test(s, "default conf/pstnbridge.conf loads", test_default_file);
	CU_add_test(s, "values and defaults land in the struct", test_defaults);
	CU_add_test(s, "span PRI keys: ton, prefixes, hunt", test_span_pri_keys);
	CU_add_test(s, "unknown key", test_err_unknown_key);
	CU_add_test(s, "unknown section and bad headers", test_err_unknown_section);
	CU_add_test(s, "bad integer", test_err_bad_int);
	CU_add_test(s, "integer out of range", test_err_out_of_range);
	CU_add_test(s, "bad enum value", test_err_bad_enum);
	CU_add_test(s, "bad address", test_err_bad_address);
	CU_add_test(s, "bad CIDR", test_err_bad_cidr);
	CU_add_test(s, "missing required key", test_err_missing_required);
	CU_add_test(s, "route names an unknown span", test_err_unknown_span);
	CU_add_test(s, "duplicate sections, keys, numbers", test_err_duplicates);
	CU_add_test(s, "sim key on a non-sim span", test_err_sim_key_non_sim);
	CU_add_test(s, "all errors of a file are reported", test_err_many);
	CU_add_test(s, "file errors and long lines", test_err_file);
	CU_add_test(s, "every key is in pstnbridge.conf.5", test_man_page);
	CU_add_test(s, "latch keys and per-user/route latch_mode", test_latch_keys);
	CU_add_test(s, "session timer, dtmf_info and TLS keys", test_dialog_keys);
	CU_add_test(s, "toll-fraud keys", test_security_keys);
	CU_add_test(s, "registrar keys", test_registrar_keys);
	CU_add_test(s, "key table is consistent", test_key_table);
	CU_add_test(s, "dahdi keys", test_dahdi_keys);
	CU_add_test(s, "the sample has every key and loads", test_sample);
	CU_add_test(s, "cfg_dump round trip", test_dump_roundtrip);
	CU_add_test(s, "cfg_ref and cfg_unref", test_refs);

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
}
