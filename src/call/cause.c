/* Q.850 cause <-> SIP status mapping after RFC 3398, and the RFC 3326
 * Reason header.
 *
 * RFC 3398 numbers its tables from the point of view of the SIP side of the
 * gateway: section 7.2.4.1 ("ISDN Cause Code to SIP Status Code") is used
 * when the PSTN releases a call the Internet placed, section 8.2.6.1 ("SIP
 * Status Code to ISDN Cause Code") when a SIP peer rejects a call the PSTN
 * placed. */
#include "call/cause.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cause_map {
	int from, to;
};

/*
 * Q.850 -> SIP, RFC 3398 section 7.2.4.1.
 *
 * Cause 16 (normal call clearing) has no response in the RFC: it normally
 * becomes a BYE or CANCEL. When it arrives while an INVITE is still
 * unanswered the call has failed without a reason, so we answer as for
 * cause 31 (normal, unspecified): 480.
 *
 * Cause 29 is printed as "510 Not implemented" in the RFC; the text and the
 * errata mean 501, which is what we send.
 *
 * Cause 69 (requested facility not implemented) is not in the table; it
 * belongs to the "service or option not implemented" class, like 79, and
 * maps to 501 as well.
 */
static const struct cause_map q850_to_sip[] = {
	{1, 404}, {2, 404}, {3, 404},
	{16, 480},
	{17, 486}, {18, 408}, {19, 480}, {20, 480},
	{21, 403}, {22, 410}, {23, 410},
	{26, 404}, {27, 502}, {28, 484}, {29, 501}, {31, 480},
	{34, 503}, {38, 503}, {41, 503}, {42, 503}, {47, 503},
	{55, 403}, {57, 403}, {58, 503},
	{65, 488}, {69, 501}, {70, 488}, {79, 501},
	{87, 403}, {88, 503},
	{102, 504}, {111, 500},
	{127, 500},
};

/*
 * SIP -> Q.850, RFC 3398 section 8.2.6.1.
 *
 * The RFC gives no cause for 487, 488 and 606. Our choices:
 * - 487 Request Terminated only reaches us after we sent CANCEL, which we
 *   do when the PSTN side released normally: 16 (normal call clearing).
 * - 488 Not Acceptable Here: 127 (interworking, unspecified); the peer
 *   refused our media, which is a failure of interworking.
 * - 606 Not Acceptable: 58 (bearer capability not presently available).
 * 580 Precondition Failure (RFC 3312, later than RFC 3398) maps to 47
 * (resource unavailable).
 */
static const struct cause_map sip_to_q850[] = {
	{400, 41}, {401, 21}, {402, 21}, {403, 21}, {404, 1}, {405, 63},
	{406, 79}, {407, 21}, {408, 102}, {410, 22}, {413, 127}, {414, 127},
	{415, 79}, {416, 127}, {420, 127}, {421, 127}, {423, 127},
	{480, 18}, {481, 41}, {482, 25}, {483, 25}, {484, 28}, {485, 1},
	{486, 17}, {487, 16}, {488, 127},
	{500, 41}, {501, 79}, {502, 38}, {503, 41}, {504, 102}, {505, 127},
	{513, 127}, {580, 47},
	{600, 17}, {603, 21}, {604, 1}, {606, 58},
};

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

static int
cause_lookup(const struct cause_map *map, size_t n, int from, int *to)
{
	for (size_t i = 0; i < n; i++) {
		if (map[i].from == from) {
			*to = map[i].to;
			return 0;
		}
	}
	return ENOENT;
}

/*
 * A cause the table does not name is answered by its Q.850 class (the
 * three high bits of the 7-bit value), with the response the RFC gives to
 * the members of that class it does name:
 *   0-31   normal event                        480
 *   32-47  resource unavailable                503
 *   48-63  service or option not available     503
 *   64-79  service or option not implemented   501
 *   80-95  invalid message                     400 (our choice: the
 *          message was bad, not the network)
 *   96-111 protocol error                      500
 *   112-127 interworking                       500
 */
int
cause_to_sip(int q850)
{
	int sip;

	if (cause_lookup(q850_to_sip, NITEMS(q850_to_sip), q850, &sip) == 0)
		return sip;
	if (q850 < 0 || q850 > 127)
		return 500;
	switch (q850 >> 4) {
	case 0:
	case 1:
		return 480;
	case 2:
	case 3:
		return 503;
	case 4:
		return 501;
	case 5:
		return 400;
	default:
		return 500;
	}
}

/*
 * A status the table does not name maps to 31 (normal, unspecified), as
 * RFC 3398 section 8.2.6.1 says for every unlisted code. A 2xx or 1xx is not
 * a failure at all; it gets 16.
 */
int
cause_from_sip(int status)
{
	int q850;

	if (cause_lookup(sip_to_q850, NITEMS(sip_to_q850), status, &q850) == 0)
		return q850;
	if (status >= 100 && status < 300)
		return 16;
	return 31;
}

static const struct {
	int status;
	const char *reason;
} sip_reasons[] = {
	{100, "Trying"}, {180, "Ringing"}, {181, "Call Is Being Forwarded"},
	{182, "Queued"}, {183, "Session Progress"},
	{200, "OK"}, {202, "Accepted"},
	{300, "Multiple Choices"}, {301, "Moved Permanently"},
	{302, "Moved Temporarily"}, {305, "Use Proxy"},
	{380, "Alternative Service"},
	{400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"},
	{403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
	{406, "Not Acceptable"}, {407, "Proxy Authentication Required"},
	{408, "Request Timeout"}, {410, "Gone"},
	{413, "Request Entity Too Large"}, {414, "Request-URI Too Long"},
	{415, "Unsupported Media Type"}, {416, "Unsupported URI Scheme"},
	{420, "Bad Extension"}, {421, "Extension Required"},
	{423, "Interval Too Brief"}, {480, "Temporarily Unavailable"},
	{481, "Call/Transaction Does Not Exist"}, {482, "Loop Detected"},
	{483, "Too Many Hops"}, {484, "Address Incomplete"},
	{485, "Ambiguous"}, {486, "Busy Here"}, {487, "Request Terminated"},
	{488, "Not Acceptable Here"}, {491, "Request Pending"},
	{493, "Undecipherable"},
	{500, "Server Internal Error"}, {501, "Not Implemented"},
	{502, "Bad Gateway"}, {503, "Service Unavailable"},
	{504, "Server Time-out"}, {505, "Version Not Supported"},
	{513, "Message Too Large"}, {580, "Precondition Failure"},
	{600, "Busy Everywhere"}, {603, "Decline"},
	{604, "Does Not Exist Anywhere"}, {606, "Not Acceptable"},
};

const char *
cause_sip_reason(int status)
{
	for (size_t i = 0; i < NITEMS(sip_reasons); i++)
		if (sip_reasons[i].status == status)
			return sip_reasons[i].reason;
	if (status >= 100 && status < 200)
		return "Progress";
	if (status >= 200 && status < 300)
		return "OK";
	if (status >= 300 && status < 400)
		return "Redirection";
	if (status >= 400 && status < 500)
		return "Client Error";
	if (status >= 500 && status < 600)
		return "Server Error";
	if (status >= 600 && status < 700)
		return "Global Failure";
	return "Unknown";
}

static const char *const q850_names[128] = {
	[1] = "Unallocated number",
	[2] = "No route to specified transit network",
	[3] = "No route to destination",
	[6] = "Channel unacceptable",
	[7] = "Call awarded and being delivered in an established channel",
	[16] = "Normal call clearing",
	[17] = "User busy",
	[18] = "No user responding",
	[19] = "No answer from user",
	[20] = "Subscriber absent",
	[21] = "Call rejected",
	[22] = "Number changed",
	[23] = "Redirection to new destination",
	[25] = "Exchange routing error",
	[26] = "Non-selected user clearing",
	[27] = "Destination out of order",
	[28] = "Invalid number format",
	[29] = "Facility rejected",
	[30] = "Response to STATUS ENQUIRY",
	[31] = "Normal, unspecified",
	[34] = "No circuit/channel available",
	[38] = "Network out of order",
	[41] = "Temporary failure",
	[42] = "Switching equipment congestion",
	[43] = "Access information discarded",
	[44] = "Requested circuit/channel not available",
	[47] = "Resource unavailable, unspecified",
	[49] = "Quality of service not available",
	[50] = "Requested facility not subscribed",
	[55] = "Incoming calls barred within CUG",
	[57] = "Bearer capability not authorized",
	[58] = "Bearer capability not presently available",
	[63] = "Service or option not available, unspecified",
	[65] = "Bearer capability not implemented",
	[66] = "Channel type not implemented",
	[69] = "Requested facility not implemented",
	[70] = "Only restricted digital information bearer capability is available",
	[79] = "Service or option not implemented, unspecified",
	[81] = "Invalid call reference value",
	[82] = "Identified channel does not exist",
	[87] = "User not member of CUG",
	[88] = "Incompatible destination",
	[91] = "Invalid transit network selection",
	[95] = "Invalid message, unspecified",
	[96] = "Mandatory information element is missing",
	[97] = "Message type non-existent or not implemented",
	[98] = "Message not compatible with call state",
	[99] = "Information element non-existent or not implemented",
	[100] = "Invalid information element contents",
	[101] = "Message not compatible with call state",
	[102] = "Recovery on timer expiry",
	[111] = "Protocol error, unspecified",
	[127] = "Interworking, unspecified",
};

const char *
cause_name(int q850)
{
	if (q850 < 0 || q850 >= (int)NITEMS(q850_names) || !q850_names[q850])
		return "Unknown cause";
	return q850_names[q850];
}

/* Returns the length written, or -1 when buf is too small (as snprintf
 * would have truncated) or the cause is out of range. */
int
cause_reason_header(int q850, char *buf, size_t len)
{
	int n;

	if (q850 < 0 || q850 > 127)
		return -1;
	n = snprintf(buf, len, "Q.850;cause=%d;text=\"%s\"", q850, cause_name(q850));
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* Parse one reason-value in [p, end): protocol *(";" param). The Q.850
 * cause, or 0. */
static int
parse_one_reason(const char *p, const char *end)
{
	const char *tok;
	int cause = 0;

	p = skip_ws(p, end);
	tok = p;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t')
		p++;
	if ((size_t)(p - tok) != 5 || strncasecmp(tok, "Q.850", 5) != 0)
		return 0;
	for (;;) {
		const char *name, *val;
		size_t nl, vl;

		p = skip_ws(p, end);
		if (p >= end)
			break;
		if (*p != ';')
			return 0;
		p = skip_ws(p + 1, end);
		name = p;
		while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		nl = (size_t)(p - name);
		p = skip_ws(p, end);
		val = NULL;
		vl = 0;
		if (p < end && *p == '=') {
			p = skip_ws(p + 1, end);
			val = p;
			if (p < end && *p == '"') {
				p++;
				while (p < end && *p != '"') {
					if (*p == '\\' && p + 1 < end)
						p++;
					p++;
				}
				if (p >= end)
					return 0; /* unterminated quote */
				p++;
			} else {
				while (p < end && *p != ';' && *p != ' ' && *p != '\t')
					p++;
			}
			vl = (size_t)(p - val);
		}
		if (nl == 5 && strncasecmp(name, "cause", 5) == 0) {
			int c = 0;

			if (!val || vl == 0 || vl > 3)
				return 0;
			for (size_t i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)val[i]))
					return 0;
				c = c * 10 + (val[i] - '0');
			}
			if (c < 1 || c > 127)
				return 0;
			cause = c;
		}
	}
	return cause;
}

/* Split on commas outside quoted strings; the first Q.850 entry with a
 * valid cause wins. */
int
cause_parse_reason(const char *value)
{
	const char *p, *start;
	int inq = 0;

	if (!value)
		return 0;
	start = p = value;
	for (;; p++) {
		if (*p == '"' && (p == value || p[-1] != '\\'))
			inq = !inq;
		if (*p == '\0' || (*p == ',' && !inq)) {
			int c = parse_one_reason(start, p);
			if (c)
				return c;
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return 0;
}
