/*
 * http_client.h - HTTP/1.1 client plumbing for the examples: an http:// URL parser, a
 * response header lookup, and a decoder of the chunked transfer coding. Taken from
 * sse_client.c (which can include this header in place of its own copies); used by
 * sse_relay.c.
 *
 * Header-only: static inline functions (an unused one costs nothing and warns nowhere).
 * C99 + POSIX: include it after defining _POSIX_C_SOURCE 200809L.
 */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct url {
    char host[256], port[8], path[2048];
};

/* Chunked transfer coding, decoded in place. */
struct chunked {
    enum { SIZE, EXT, SIZE_LF, DATA, DATA_CR, DATA_LF, TRAILER, TRAILER_LF, END } state;
    unsigned long long left;
    int line_empty;
};

static inline int parse_url(const char *s, struct url *u)
{
    const char *host, *end, *path;
    size_t hl;

    if (strncmp(s, "http://", 7) != 0) {
        return -1;
    }
    host = s + 7;
    path = host + strcspn(host, "/?#");
    strcpy(u->port, "80");
    if (*host == '[') { /* [IPv6]:port */
        end = memchr(host, ']', (size_t)(path - host));
        if (end == NULL) {
            return -1;
        }
        host++;
        hl = (size_t)(end - host);
        end++;
    } else {
        end = memchr(host, ':', (size_t)(path - host));
        end = end ? end : path;
        hl = (size_t)(end - host);
    }
    if (hl == 0 || hl >= sizeof u->host || (*end == ':' && (size_t)(path - end) > sizeof u->port)) {
        return -1;
    }
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    if (*end == ':') {
        memcpy(u->port, end + 1, (size_t)(path - end - 1));
        u->port[path - end - 1] = '\0';
    }
    if (strlen(path) + 2 > sizeof u->path) {
        return -1;
    }
    snprintf(u->path, sizeof u->path, "%s%s", *path == '/' ? "" : "/", path);
    return 0;
}
static inline const char *header(const char *head, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");

    for (; line != NULL && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        const char *v = line + 2, *end = strstr(v, "\r\n");
        if (strncasecmp(v, name, nl) == 0 && v[nl] == ':') {
            v += nl + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            *len = (size_t)(end - v);
            return v;
        }
    }
    return NULL;
}
static inline int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}
static inline long dechunk(struct chunked *ck, char *buf, size_t len)
{
    size_t i = 0, out = 0;

    while (i < len && ck->state != END) {
        char c = buf[i];
        switch (ck->state) {
        case SIZE:
            if (hexval(c) >= 0 && ck->left < (1ULL << 56)) {
                ck->left = ck->left * 16 + (unsigned)hexval(c);
            } else if (c == ';' || c == ' ' || c == '\t') {
                ck->state = EXT; /* chunk extensions are ignored */
            } else if (c == '\r') {
                ck->state = SIZE_LF;
            } else if (c == '\n') {
                ck->state = ck->left ? DATA : TRAILER;
            } else {
                return -1;
            }
            i++;
            break;
        case EXT:
        case SIZE_LF:
            if (c == '\n') {
                ck->state = ck->left ? DATA : TRAILER;
                ck->line_empty = 1;
            } else if (ck->state == SIZE_LF) {
                return -1;
            }
            i++;
            break;
        case DATA: {
            size_t n = len - i < ck->left ? len - i : (size_t)ck->left;
            memmove(buf + out, buf + i, n);
            out += n;
            i += n;
            ck->left -= n;
            if (ck->left == 0) {
                ck->state = DATA_CR;
            }
            break;
        }
        case DATA_CR:
        case DATA_LF:
            if (c == '\n') {
                ck->state = SIZE;
            } else if (c != '\r' || ck->state == DATA_LF) {
                return -1;
            } else {
                ck->state = DATA_LF;
            }
            i++;
            break;
        case TRAILER: /* trailer lines, then an empty line */
        case TRAILER_LF:
            if (c == '\n') {
                if (ck->line_empty) {
                    ck->state = END;
                }
                ck->line_empty = 1;
            } else if (c != '\r') {
                ck->line_empty = 0;
            }
            i++;
            break;
        case END: break;
        }
    }
    return (long)out;
}

#endif /* HTTP_CLIENT_H */
