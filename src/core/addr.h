/* Socket addresses (IPv4 and IPv6) and CIDR prefixes. Small values. */
#ifndef PB_CORE_ADDR_H
#define PB_CORE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

struct addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

#define ADDR_STRLEN 64

struct cidr {
	int family;
	unsigned char net[16];
	unsigned int bits;
};

/* "1.2.3.4", "::1" with a port; 0 or EINVAL. */
int addr_from_ip(struct addr *a, const char *ip, unsigned int port);
/* "1.2.3.4:5060", "[::1]:5060", or a bare IP with default_port. */
int addr_parse(struct addr *a, const char *s, unsigned int default_port);
const char *addr_str(const struct addr *a, char *buf, size_t len);   /* ip:port */
const char *addr_ip_str(const struct addr *a, char *buf, size_t len); /* ip only */
unsigned int addr_port(const struct addr *a);
void addr_set_port(struct addr *a, unsigned int port);
bool addr_eq(const struct addr *a, const struct addr *b);      /* ip and port */
bool addr_ip_eq(const struct addr *a, const struct addr *b);   /* ip only */
bool addr_is_set(const struct addr *a);

/* "10.0.0.0/8", "::1", "127.0.0.1/32"; 0 or EINVAL. */
int cidr_parse(struct cidr *c, const char *s);
bool cidr_match(const struct cidr *c, const struct addr *a);

#endif
