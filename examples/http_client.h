/*
 * http_client.h - the HTTP/1.1 client side of the examples, done strictly (RFC 9110,
 * 9112), shared by sse_client.c and sse_relay.c (its upstream side):
 *
 *   parse_url           http://host[:port]/path, [IPv6] hosts; nothing else
 *   http_head           the response head in a buffer: its status line must be exactly
 *                       "HTTP/1.x NNN[ reason]"; interim 1xx heads (103 Early Hints) are
 *                       removed and the final one is returned (101 too: no upgrade was
 *                       asked for, sse_check_response fails it)
 *   header              a response header's value; Content-Type and Content-Length are
 *                       singletons: repeated with different values it is an error
 *                       (identical repeats are one value)
 *   http_body_begin     how the body is framed: Transfer-Encoding exactly "chunked" (any
 *                       other coding fails; it overrides Content-Length), else
 *                       Content-Length when present (digits only), else until the close
 *   http_body_take      the body bytes of what was read: chunked decoded in place, bytes
 *                       beyond Content-Length cut off; the bytes decoded before a
 *                       malformed chunk byte are returned all the same, so no event is
 *                       lost to it
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

/* The body of a response: its framing, and the chunked decoder's state. */
struct http_body {
    int chunked;             /* Transfer-Encoding: chunked */
    int has_length;          /* else Content-Length was given: */
    unsigned long long left; /* the body bytes still to come */
    enum {
        SIZE,
        EXT,
        SIZE_LF,
        DATA,
        DATA_CR,
        DATA_LF,
        TRAILER,
        TRAILER_LF,
        END, /* the body is complete: the last chunk, or Content-Length reached */
        BAD  /* a malformed chunk byte: what was decoded before stands, the rest is not read */
    } state;
    unsigned long long chunk_left; /* bytes left in the current chunk */
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

/* Reads the status line "HTTP/1.x NNN[ reason]" (RFC 9112, 4); returns NNN, or -1 when the
 * line is anything else (then the peer does not speak HTTP/1.x). */
static inline int status_line(const char *line)
{
    size_t len = strcspn(line, "\r\n");
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
        line[11] < '0' || line[11] > '9' || (len > 12 && line[12] != ' ')) {
        return -1;
    }
    return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* Looks for a complete response head at the start of buf (*have bytes, NUL-terminated).
 * Interim 1xx heads (but 101) are removed from buf as they complete. Returns the final
 * head's status, with *body at the first byte after it; 0 when more bytes are needed; -1
 * when a status line is not HTTP/1.x's. */
static inline int http_head(char *buf, size_t *have, char **body)
{
    for (;;) {
        char *end = strstr(buf, "\r\n\r\n");
        int status;
        if (end == NULL) {
            return 0;
        }
        *body = end + 4;
        status = status_line(buf);
        if (status < 0 || status >= 200 || status == 101) {
            return status;
        }
        *have -= (size_t)(*body - buf); /* interim (103 Early Hints...): the final follows */
        memmove(buf, *body, *have + 1);
    }
}

/* Finds field name in the response head (NUL-terminated, "\r\n\r\n" at its end): *v and
 * *len get its value, whitespace trimmed. Returns 0 when it is absent, 1 when present, -1
 * when it appears twice with different values: singletons such as Content-Type and
 * Content-Length (RFC 9110, 5.3) are then unusable, a recipient cannot tell which one the
 * sender meant. */
static inline int header(const char *head, const char *name, const char **v, size_t *len)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");
    int found = 0;

    for (; line != NULL && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        const char *b = line + 2, *end = strstr(b, "\r\n");
        if (strncasecmp(b, name, nl) != 0 || b[nl] != ':') {
            continue;
        }
        b += nl + 1;
        while (*b == ' ' || *b == '\t') {
            b++;
        }
        while (end > b && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (found && ((size_t)(end - b) != *len || memcmp(b, *v, *len) != 0)) {
            return -1;
        }
        *v = b;
        *len = (size_t)(end - b);
        found = 1;
    }
    return found;
}

/* Sets up b for the body of the response head: Transfer-Encoding exactly "chunked", else
 * Content-Length, else until the connection closes. Returns NULL, or why the body cannot
 * be read (the response must then fail, not be retried): why has room for 160 bytes. */
static inline const char *http_body_begin(struct http_body *b, const char *head, char *why)
{
    const char *te = NULL, *cl = NULL;
    size_t telen = 0, cllen = 0, i;
    int has_te = header(head, "Transfer-Encoding", &te, &telen);
    int has_cl = header(head, "Content-Length", &cl, &cllen);

    memset(b, 0, sizeof *b);
    if (has_te != 0) { /* the one coding we decode, exactly; it overrides Content-Length */
        if (has_te < 0 || telen != 7 || strncasecmp(te, "chunked", 7) != 0) {
            snprintf(why, 160, "Transfer-Encoding %.*s not supported", has_te > 0 ? (int)telen : 9,
                     has_te > 0 ? te : "(several)");
            return why;
        }
        b->chunked = 1;
        return NULL;
    }
    if (has_cl < 0) {
        return "two different Content-Length headers";
    }
    if (has_cl > 0) {
        for (i = 0; i < cllen && i < 19 && cl[i] >= '0' && cl[i] <= '9'; i++) {
            b->left = b->left * 10 + (unsigned)(cl[i] - '0');
        }
        if (cllen == 0 || i != cllen) {
            snprintf(why, 160, "bad Content-Length %.*s", (int)(cllen < 40 ? cllen : 40), cl);
            return why;
        }
        b->has_length = 1;
        b->state = b->left == 0 ? END : SIZE;
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

/* Decodes buf[0..len) in place (the output is never longer than the input). */
static inline size_t http_dechunk(struct http_body *b, char *buf, size_t len)
{
    size_t i = 0, out = 0;

    while (i < len && b->state != END && b->state != BAD) {
        char c = buf[i];
        switch (b->state) {
        case SIZE:
            if (hexval(c) >= 0 && b->chunk_left < (1ULL << 56)) {
                b->chunk_left = b->chunk_left * 16 + (unsigned)hexval(c);
            } else if (c == ';' || c == ' ' || c == '\t') {
                b->state = EXT; /* chunk extensions are ignored */
            } else if (c == '\r') {
                b->state = SIZE_LF;
            } else if (c == '\n') {
                b->state = b->chunk_left ? DATA : TRAILER;
            } else {
                b->state = BAD; /* also a size of more than 14 hex digits */
            }
            i++;
            break;
        case EXT:
        case SIZE_LF:
            if (c == '\n') {
                b->state = b->chunk_left ? DATA : TRAILER;
                b->line_empty = 1;
            } else if (b->state == SIZE_LF) {
                b->state = BAD;
            }
            i++;
            break;
        case DATA: {
            size_t n = len - i < b->chunk_left ? len - i : (size_t)b->chunk_left;
            memmove(buf + out, buf + i, n);
            out += n;
            i += n;
            b->chunk_left -= n;
            if (b->chunk_left == 0) {
                b->state = DATA_CR;
            }
            break;
        }
        case DATA_CR:
        case DATA_LF:
            if (c == '\n') {
                b->state = SIZE;
            } else if (c != '\r' || b->state == DATA_LF) {
                b->state = BAD;
            } else {
                b->state = DATA_LF;
            }
            i++;
            break;
        case TRAILER: /* trailer lines, then an empty line */
        case TRAILER_LF:
            if (c == '\n') {
                if (b->line_empty) {
                    b->state = END;
                }
                b->line_empty = 1;
            } else if (c != '\r') {
                b->line_empty = 0;
            }
            i++;
            break;
        case END:
        case BAD: break;
        }
    }
    return out;
}

/* Takes len bytes read from the connection (buf is rewritten in place) and returns how many
 * of them, from buf's start, are body. Afterwards b->state is END when the body is
 * complete (what follows it is not part of it), BAD at a malformed chunk. */
static inline size_t http_body_take(struct http_body *b, char *buf, size_t len)
{
    if (b->chunked) {
        return http_dechunk(b, buf, len);
    }
    if (b->has_length) {
        len = len < b->left ? len : (size_t)b->left;
        b->left -= len;
        b->state = b->left == 0 ? END : b->state;
    }
    return len;
}

#endif /* HTTP_CLIENT_H */
