/* Where to send RTP: the address the peer signalled, or the source of its
 * RTP when that shows the peer is behind a NAT. Pure: no clock, no socket. */
#include "rtp/rtp.h"

#include <string.h>

/* An address we can send to: set, a port, and not 0.0.0.0 / :: (an old
 * style hold). */
static bool
rtp_latch_usable(const struct addr *a)
{
	if (!addr_is_set(a) || addr_port(a) == 0)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_addr.s_addr != 0;
	return !IN6_IS_ADDR_UNSPECIFIED(&a->u.sin6.sin6_addr);
}

static void
rtp_latch_update_nat(struct rtp_latch *l)
{
	l->nat = l->have_learned && !addr_ip_eq(&l->learned, &l->sdp);
}

void
rtp_latch_init(struct rtp_latch *l, enum cfg_latch_mode mode, const struct addr *sdp)
{
	memset(l, 0, sizeof(*l));
	l->mode = mode;
	if (sdp)
		l->sdp = *sdp;
}

void
rtp_latch_set_sdp(struct rtp_latch *l, const struct addr *sdp)
{
	if (sdp)
		l->sdp = *sdp;
	else
		memset(&l->sdp, 0, sizeof(l->sdp));
	rtp_latch_update_nat(l);
}

bool
rtp_latch_on_packet(struct rtp_latch *l, const struct addr *src)
{
	if (l->mode == CFG_LATCH_OFF || !addr_is_set(src))
		return false;
	if (l->have_learned && addr_eq(&l->learned, src))
		return false;
	if (l->have_learned)
		l->relatches++;
	l->learned = *src;
	l->have_learned = true;
	rtp_latch_update_nat(l);
	return true;
}

const struct addr *
rtp_latch_dest(const struct rtp_latch *l)
{
	bool sdp_ok = rtp_latch_usable(&l->sdp);

	if (l->mode == CFG_LATCH_OFF || !l->have_learned)
		return sdp_ok ? &l->sdp : NULL;
	/* Same IP as signalled: not behind a NAT. Keep to the signalled port,
	 * which a peer that sends from another port still listens on. */
	if (sdp_ok && addr_ip_eq(&l->learned, &l->sdp))
		return &l->sdp;
	return &l->learned;
}
