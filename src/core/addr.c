#include "core/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
addr_from_ip(struct addr *a, const char *ip, unsigned int port)
{
	memset(a, 0, sizeof(*a));
	if (port > 65535)
		return EINVAL;
	if (inet_pton(AF_INET, ip, &a->u.sin.sin_addr) == 1) {
		a->u.sin.sin_family = AF_INET;
		a->u.sin.sin_port = htons((uint16_t)port);
		a->len = sizeof(a->u.sin);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a->u.sin6.sin6_addr) == 1) {
		a->u.sin6.sin6_family = AF_INET6;
		a->u.sin6.sin6_port = htons((uint16_t)port);
		a->len = sizeof(a->u.sin6);
		return 0;
	}
	return EINVAL;
}

int
addr_parse(struct addr *a, const char *s, unsigned int default_port)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hl;

	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return EINVAL;
		hl = (size_t)(e - s - 1);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			return EINVAL;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':'))
			c = NULL; /* bare IPv6 */
		hl = c ? (size_t)(c - s) : strlen(s);
		if (hl >= sizeof(host))
			return EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (c)
			port = c + 1;
	}
	unsigned long p = default_port;
	if (port) {
		char *end;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (errno || *end || end == port || p > 65535)
			return EINVAL;
	}
	return addr_from_ip(a, host, (unsigned int)p);
}

const char *
addr_ip_str(const struct addr *a, char *buf, size_t len)
{
	const void *src = a->u.sa.sa_family == AF_INET6 ? (const void *)&a->u.sin6.sin6_addr
	                                                 : (const void *)&a->u.sin.sin_addr;
	if (!addr_is_set(a) || !inet_ntop(a->u.sa.sa_family, src, buf, (socklen_t)len))
		snprintf(buf, len, "-");
	return buf;
}

const char *
addr_str(const struct addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!addr_is_set(a)) {
		snprintf(buf, len, "-");
		return buf;
	}
	addr_ip_str(a, ip, sizeof(ip));
	if (a->u.sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, addr_port(a));
	else
		snprintf(buf, len, "%s:%u", ip, addr_port(a));
	return buf;
}

unsigned int
addr_port(const struct addr *a)
{
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.sin6.sin6_port);
	if (a->u.sa.sa_family == AF_INET)
		return ntohs(a->u.sin.sin_port);
	return 0;
}

void
addr_set_port(struct addr *a, unsigned int port)
{
	if (a->u.sa.sa_family == AF_INET6)
		a->u.sin6.sin6_port = htons((uint16_t)port);
	else if (a->u.sa.sa_family == AF_INET)
		a->u.sin.sin_port = htons((uint16_t)port);
}

bool
addr_is_set(const struct addr *a)
{
	return a->u.sa.sa_family == AF_INET || a->u.sa.sa_family == AF_INET6;
}

bool
addr_ip_eq(const struct addr *a, const struct addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_addr.s_addr == b->u.sin.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return memcmp(&a->u.sin6.sin6_addr, &b->u.sin6.sin6_addr, 16) == 0;
	return false;
}

bool
addr_eq(const struct addr *a, const struct addr *b)
{
	return addr_ip_eq(a, b) && addr_port(a) == addr_port(b);
}

int
cidr_parse(struct cidr *c, const char *s)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t l = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long bits;

	memset(c, 0, sizeof(*c));
	if (l >= sizeof(ip))
		return EINVAL;
	memcpy(ip, s, l);
	ip[l] = '\0';
	if (inet_pton(AF_INET, ip, c->net) == 1) {
		c->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, ip, c->net) == 1) {
		c->family = AF_INET6;
		bits = 128;
	} else {
		return EINVAL;
	}
	if (slash) {
		char *end;
		unsigned long b;
		errno = 0;
		b = strtoul(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || b > bits)
			return EINVAL;
		bits = b;
	}
	c->bits = (unsigned int)bits;
	return 0;
}

bool
cidr_match(const struct cidr *c, const struct addr *a)
{
	const unsigned char *p;
	unsigned int full, rem;

	if (a->u.sa.sa_family == AF_INET && c->family == AF_INET)
		p = (const unsigned char *)&a->u.sin.sin_addr;
	else if (a->u.sa.sa_family == AF_INET6 && c->family == AF_INET6)
		p = (const unsigned char *)&a->u.sin6.sin6_addr;
	else
		return false;
	full = c->bits / 8;
	rem = c->bits % 8;
	if (memcmp(p, c->net, full) != 0)
		return false;
	if (rem) {
		unsigned char mask = (unsigned char)(0xff << (8 - rem));
		if ((p[full] & mask) != (c->net[full] & mask))
			return false;
	}
	return true;
}
