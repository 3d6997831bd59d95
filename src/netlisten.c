/*
 * netlisten.c — listening TCP sockets (see netlisten.h).
 */
#include "netlisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void netlisten_format(int fd, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, outsz, "%s:%u", host, ntohs(a->sin_port));
	}
}

static bool is_loopback(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
	if (ai->ai_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	return false;
}

/* One listening socket for `ai`; -1 with errno set on failure. */
static int netlisten_bind(const struct addrinfo *ai, int backlog)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int one = 1, saved;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* With loopback_only: is every address of `res` a loopback one? */
static bool netlisten_check(const struct addrinfo *res, const char *host, long port,
			    char *err, size_t errsz)
{
	const struct addrinfo *ai;
	char addr[INET6_ADDRSTRLEN] = "";

	for (ai = res; ai; ai = ai->ai_next) {
		if (is_loopback(ai))
			continue;
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
		else if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr, sizeof(addr));
		snprintf(err, errsz, "%s:%ld is not a loopback address (%s): anyone who can reach it could "
			 "write rows; --listen-remote on allows it", *host ? host : "(every interface)", port,
			 *addr ? addr : "?");
		return false;
	}
	return true;
}

bool netlisten_open(struct netlisten *nl, const char *host, long port, int backlog,
		    bool loopback_only, char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int rc, fd, bind_errno = 0;

	memset(nl, 0, sizeof(*nl));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%ld", port);
	rc = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsz, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return false;
	}
	if (loopback_only && !netlisten_check(res, host, port, err, errsz)) {
		freeaddrinfo(res);
		return false;
	}
	for (ai = res; ai && nl->nfds < NETLISTEN_MAX; ai = ai->ai_next) {
		if ((fd = netlisten_bind(ai, backlog)) < 0) {
			/* an address family this host lacks is no reason to fail */
			if (errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT)
				bind_errno = errno;
			continue;
		}
		if (!nl->nfds)
			netlisten_format(fd, nl->address, sizeof(nl->address));
		nl->fds[nl->nfds++] = fd;
		if (port == 0)
			break; /* one socket: every address would get another port */
	}
	freeaddrinfo(res);
	if (!nl->nfds || bind_errno) {
		snprintf(err, errsz, "cannot listen on %s:%ld: %s", host, port,
			 strerror(bind_errno ? bind_errno : EADDRNOTAVAIL));
		netlisten_close(nl);
		return false;
	}
	return true;
}

void netlisten_close(struct netlisten *nl)
{
	size_t i;

	for (i = 0; i < nl->nfds; i++)
		close(nl->fds[i]);
	nl->nfds = 0;
}
