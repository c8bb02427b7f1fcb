/* Q.850 cause <-> SIP status mapping (RFC 3398 sections 7.2.4.1 and 8.2.6.1)
 * and the Reason header (RFC 3326). */
#ifndef PB_CALL_CAUSE_H
#define PB_CALL_CAUSE_H

#include <stddef.h>

/* Q.850 cause (from the PSTN) to the SIP response sent to the Internet. */
int cause_to_sip(int q850);
/* SIP final response (from the Internet) to the Q.850 cause sent to the PSTN. */
int cause_from_sip(int status);
/* Reason phrase for a SIP status ("Busy Here"). */
const char *cause_sip_reason(int status);
/* Text of a Q.850 cause ("user busy"). */
const char *cause_name(int q850);
/* Format `Q.850;cause=17;text="user busy"` into buf. */
int cause_reason_header(int q850, char *buf, size_t len);
/* Parse a Reason header value; the Q.850 cause, or 0 when it has none. */
int cause_parse_reason(const char *value);

#endif
