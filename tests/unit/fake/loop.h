/* Bounded runs of a test's event loop, shared by the unit tests that drive
 * spans through a real libevent loop (test_span, test_dahdi). */
#ifndef PB_TESTS_FAKE_LOOP_H
#define PB_TESTS_FAKE_LOOP_H

struct event_base;

/* CLOCK_MONOTONIC in ms. */
long loop_now_ms(void);
/* Run base for ms milliseconds. */
void loop_run_ms(struct event_base *base, int ms);

/* Run base in 5 ms steps until cond holds or ms pass; the value of cond. */
#define LOOP_RUN_UNTIL(base, cond, ms) __extension__ ({			\
	long until_ = loop_now_ms() + (ms);				\
	while (!(cond) && loop_now_ms() < until_)			\
		loop_run_ms((base), 5);					\
	(cond) ? 1 : 0;							\
})

#endif
