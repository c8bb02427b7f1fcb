/* Digest authentication helpers: nonces bound to time by an HMAC of a
 * random per-process secret, and the MD5 digest response. */
#include "sip/sip_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static unsigned char auth_secret[32];
static int auth_have_secret;

void
sip_auth_init(void)
{
	if (RAND_bytes(auth_secret, sizeof(auth_secret)) != 1) {
		/* Unlikely; fall back to something that is at least not fixed. */
		for (size_t i = 0; i < sizeof(auth_secret); i++)
			auth_secret[i] = (unsigned char)random();
	}
	auth_have_secret = 1;
}

void
sip_auth_set_secret(const unsigned char *key, size_t len)
{
	memset(auth_secret, 0, sizeof(auth_secret));
	memcpy(auth_secret, key, len < sizeof(auth_secret) ? len : sizeof(auth_secret));
	auth_have_secret = 1;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The MAC part of a nonce for timestamp `ts` (as its 16 hex digits). */
static int
nonce_mac(const char *ts, char out[33])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!auth_have_secret)
		sip_auth_init();
	if (HMAC(EVP_sha256(), auth_secret, sizeof(auth_secret),
	    (const unsigned char *)ts, strlen(ts), mac, &maclen) == NULL || maclen < 16)
		return EIO;
	hex(mac, 16, out);
	return 0;
}

int
sip_auth_nonce(time_t now, char *buf, size_t len)
{
	char ts[17], mac[33];
	int error;

	snprintf(ts, sizeof(ts), "%016llx", (unsigned long long)now);
	if ((error = nonce_mac(ts, mac)) != 0)
		return error;
	if ((size_t)snprintf(buf, len, "%s%s", ts, mac) >= len)
		return ENOSPC;
	return 0;
}

int
sip_auth_nonce_check(const char *nonce, time_t now)
{
	char ts[17], mac[33];
	unsigned long long t;
	char *end;

	if (nonce == NULL || strlen(nonce) != 48)
		return EINVAL;
	memcpy(ts, nonce, 16);
	ts[16] = '\0';
	t = strtoull(ts, &end, 16);
	if (*end != '\0')
		return EINVAL;
	if (nonce_mac(ts, mac) != 0)
		return EINVAL;
	if (CRYPTO_memcmp(mac, nonce + 16, 32) != 0)
		return EINVAL;
	if ((long long)t > (long long)now || (long long)now - (long long)t > SIP_AUTH_NONCE_TTL)
		return ESTALE;
	return 0;
}

static int
md5_hex(const char *s, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
		return EIO;
	hex(md, 16, out);
	return 0;
}

int
sip_auth_response(const char *user, const char *realm, const char *password,
                  const char *method, const char *uri, const char *nonce,
                  const char *nc, const char *cnonce, const char *qop,
                  char out[33])
{
	char ha1[33], ha2[33], *s = NULL;
	int error = 0;

	if (asprintf(&s, "%s:%s:%s", user, realm, password) < 0) {
		s = NULL;
		error = ENOMEM;
		goto out;
	}
	if ((error = md5_hex(s, ha1)) != 0)
		goto out;
	free(s);
	if (asprintf(&s, "%s:%s", method, uri) < 0) {
		s = NULL;
		error = ENOMEM;
		goto out;
	}
	if ((error = md5_hex(s, ha2)) != 0)
		goto out;
	free(s);
	if (qop != NULL && *qop != '\0') {
		if (nc == NULL || cnonce == NULL) {
			s = NULL;
			error = EINVAL;
			goto out;
		}
		if (asprintf(&s, "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2) < 0)
			s = NULL;
	} else {
		if (asprintf(&s, "%s:%s:%s", ha1, nonce, ha2) < 0)
			s = NULL;
	}
	if (s == NULL) {
		error = ENOMEM;
		goto out;
	}
	error = md5_hex(s, out);
out:
	free(s);
	return error;
}
