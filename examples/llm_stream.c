/*
 * llm_stream - stream a chat completion from an OpenAI-compatible endpoint and print the
 * text as it arrives: libcurl for HTTP, the sse parser for the event stream, cJSON for the
 * JSON (the request body and each chunk).
 *
 *   export OPENAI_API_KEY=sk-...
 *   llm_stream --model gpt-4o-mini "Write a haiku about sockets"
 *   echo "Why is the sky blue?" | llm_stream --url http://127.0.0.1:8080/v1/chat/completions \
 *                                            --model local
 *
 * Options
 *   --url URL         the chat completions endpoint
 *                     (default https://api.openai.com/v1/chat/completions)
 *   --model NAME      the model (required)
 *   --key-env VAR     environment variable holding the API key (default OPENAI_API_KEY);
 *                     unset or empty: no Authorization header (local servers need none)
 *   --system TEXT     a system message before the prompt
 *   --idle-timeout-s N  give up when connecting takes N s, or when no byte arrives for
 *                     N s (checked about once a second; default 60)
 *   PROMPT            the user message; without it, stdin is read (up to 1 MiB)
 * It POSTs {"model", "stream": true, "messages": [...]} and prints each chunk's
 * choices[0].delta.content on stdout as it arrives, until "data: [DONE]".
 *
 * Exit: 0 after [DONE]; 1 on an HTTP error (its JSON "error.message" is printed), an
 * in-stream error ("event: error", or a chunk holding "error"), a transfer error, or a
 * stream that ended before [DONE]: a truncated answer must not pass for a whole one. The
 * text received so far is on stdout in every case; 2 on bad usage.
 * Which parser option, and why: the default, not SSE_OPT_DISPATCH_AT_EOF. A stream cut
 * off mid-event leaves half a JSON chunk that must not be dispatched; sse_parser_finish
 * discards it and returns SSE_ERR_TRUNCATED, and the missing [DONE] is what marks the
 * answer incomplete. There is no reconnection: a completion cannot be resumed.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROMPT     (1L << 20)
#define MAX_ERROR_BODY 65536

struct stream {
    CURL *curl;
    sse_parser parser;
    char storage[1 << 18]; /* events up to 192 KiB of data; a chunk is far smaller */
    int streaming;         /* 200 + text/event-stream: the body is events */
    long status;
    char err_body[MAX_ERROR_BODY + 1]; /* an error response's body, for its message */
    size_t err_len;
    int done, failed;
    long long last_byte_ms; /* monotonic time of the last byte */
    long idle_s;            /* --idle-timeout-s */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON ------------------------------------------------------------------------------ */

/* The request body: {"model": M, "stream": true, "messages": [...]}; malloc'd string. */
static char *request_body(const char *model, const char *system, const char *prompt)
{
    cJSON *root = cJSON_CreateObject(), *msgs, *m;
    char *out = NULL;
    if (root == NULL || !cJSON_AddStringToObject(root, "model", model) ||
        !cJSON_AddTrueToObject(root, "stream") ||
        (msgs = cJSON_AddArrayToObject(root, "messages")) == NULL) {
        goto done;
    }
    if (system != NULL) {
        if ((m = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(msgs, m) ||
            !cJSON_AddStringToObject(m, "role", "system") ||
            !cJSON_AddStringToObject(m, "content", system)) {
            goto done;
        }
    }
    if ((m = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(msgs, m) ||
        !cJSON_AddStringToObject(m, "role", "user") ||
        !cJSON_AddStringToObject(m, "content", prompt)) {
        goto done;
    }
    out = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return out;
}

/* Prints the message of {"error": {"message": ...}} (or {"error": "..."}); 0 if none. */
static int print_error(const char *what, const cJSON *json)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
    const cJSON *msg = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (cJSON_IsString(msg)) {
        fprintf(stderr, "\nllm_stream: %s: %s\n", what, msg->valuestring);
        return 1;
    }
    return 0;
}

/* ---- SSE: one chunk per event ---------------------------------------------------------- */

static int on_event(void *user, const sse_event *ev)
{
    struct stream *st = user;
    cJSON *json;
    const cJSON *text;

    if (ev->kind == SSE_KIND_DROPPED) {
        fprintf(stderr, "\nllm_stream: a chunk was lost: %s\n", sse_strerror(ev->error));
        st->failed = 1;
        return 1;
    }
    if (ev->kind != SSE_KIND_EVENT) {
        return 0; /* comments (keep-alives) and retry fields mean nothing here */
    }
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        st->done = 1;
        return 1; /* the end: stop reading */
    }
    json = cJSON_ParseWithLength(ev->data, ev->data_len);
    if (strcmp(ev->type, "error") == 0) { /* event: error, data: {"error": {...}} or text */
        if (json == NULL || !print_error("in-stream error", json)) {
            fprintf(stderr, "\nllm_stream: in-stream error: %.*s\n", (int)ev->data_len, ev->data);
        }
        st->failed = 1;
    } else if (json == NULL) {
        fprintf(stderr, "\nllm_stream: a chunk is not JSON: %.*s\n", (int)ev->data_len, ev->data);
        st->failed = 1;
    } else if (print_error("in-stream error", json)) { /* data: {"error": {...}} */
        st->failed = 1;
    }
    if (st->failed) {
        cJSON_Delete(json);
        return 1;
    }
    /* choices[0].delta.content; absent in the role-only first chunk and the last one */
    text = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(json, "choices"), 0), "delta"),
        "content");
    if (cJSON_IsString(text)) {
        fputs(text->valuestring, stdout);
        fflush(stdout);
    }
    cJSON_Delete(json);
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static size_t on_header(char *line, size_t size, size_t n, void *user)
{
    struct stream *st = user;
    size_t len = size * n;
    char *ct = NULL;

    st->last_byte_ms = now_ms();
    if (len > 2 || (line[0] != '\r' && line[0] != '\n')) {
        return len; /* a header line; the empty line ends the head */
    }
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
    if (st->status / 100 == 1) {
        return len; /* 100 Continue, 103 Early Hints: the real head follows */
    }
    curl_easy_getinfo(st->curl, CURLINFO_CONTENT_TYPE, &ct);
    st->streaming = sse_check_response((int)st->status, ct, ct ? strlen(ct) : 0) == SSE_OK;
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct stream *st = user;
    size_t len = size * n;
    st->last_byte_ms = now_ms();
    if (!st->streaming) { /* an error response: keep the start of its body */
        size_t room = MAX_ERROR_BODY - st->err_len;
        memcpy(st->err_body + st->err_len, data, len < room ? len : room);
        st->err_len += len < room ? len : room;
        return len;
    }
    if (sse_parser_feed(&st->parser, data, len, on_event, st) == SSE_ERR_STOPPED) {
        return 0; /* [DONE] or an error: end the transfer */
    }
    return len;
}

/* libcurl calls this about once a second while waiting, more often while bytes flow;
 * non-zero aborts the transfer. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct stream *st = user;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (now_ms() - st->last_byte_ms >= st->idle_s * 1000LL) {
        fprintf(stderr, "\nllm_stream: no byte for %ld s (--idle-timeout-s)\n", st->idle_s);
        st->failed = 1;
        return 1;
    }
    return 0;
}

/* After the transfer: why it failed, or 0 when the answer is whole. */
static int verdict(struct stream *st, CURLcode rc)
{
    if (st->done) {
        putchar('\n');
        return 0;
    }
    if (st->failed) {
        return 1;
    }
    if (st->status != 0 && !st->streaming) {
        cJSON *json = cJSON_ParseWithLength(st->err_body, st->err_len);
        char what[64];
        snprintf(what, sizeof what, "HTTP %ld", st->status);
        if (json == NULL || !print_error(what, json)) {
            fprintf(stderr, "llm_stream: %s: %.*s\n", what,
                    (int)(st->err_len > 300 ? 300 : st->err_len), st->err_body);
        }
        cJSON_Delete(json);
        return 1;
    }
    if (rc != CURLE_OK) {
        fprintf(stderr, "\nllm_stream: %s\n", curl_easy_strerror(rc));
        return 1;
    }
    fprintf(stderr, "\nllm_stream: the stream ended before [DONE]%s: the answer is incomplete\n",
            sse_parser_finish(&st->parser, on_event, st) == SSE_ERR_TRUNCATED ? " (inside an event)"
                                                                              : "");
    return 1;
}

static char *read_stdin(void)
{
    char *buf = malloc((size_t)MAX_PROMPT + 1);
    size_t len;
    if (buf == NULL) {
        return NULL;
    }
    len = fread(buf, 1, (size_t)MAX_PROMPT + 1, stdin);
    if (len > (size_t)MAX_PROMPT || ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    static struct stream st;
    const char *url = "https://api.openai.com/v1/chat/completions", *model = NULL;
    const char *key_env = "OPENAI_API_KEY", *system = NULL, *key;
    char *prompt = NULL, *body, *stdin_prompt = NULL, auth[4096];

    struct curl_slist *headers = NULL;
    CURLcode rc;
    int a, status;

    st.idle_s = 60;
    for (a = 1; a < argc; a++) {
        int has_val = a + 1 < argc;
        if (!strcmp(argv[a], "--url") && has_val) {
            url = argv[++a];
        } else if (!strcmp(argv[a], "--model") && has_val) {
            model = argv[++a];
        } else if (!strcmp(argv[a], "--key-env") && has_val) {
            key_env = argv[++a];
        } else if (!strcmp(argv[a], "--system") && has_val) {
            system = argv[++a];
        } else if (!strcmp(argv[a], "--idle-timeout-s") && has_val) {
            st.idle_s = atol(argv[++a]);
        } else if (argv[a][0] != '-' && prompt == NULL) {
            prompt = argv[a];
        } else {
            model = NULL;
            break;
        }
    }
    if (model == NULL || st.idle_s <= 0) {
        fprintf(stderr, "usage: llm_stream --model NAME [--url URL] [--key-env VAR] "
                        "[--system TEXT] [--idle-timeout-s N] [PROMPT]\n");
        return 2;
    }
    if (prompt == NULL && (prompt = stdin_prompt = read_stdin()) == NULL) {
        fprintf(stderr, "llm_stream: cannot read the prompt from stdin (or over 1 MiB)\n");
        return 2;
    }
    key = getenv(key_env);
    if ((body = request_body(model, system, prompt)) == NULL ||
        curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (st.curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "llm_stream: out of memory\n");
        return 1;
    }
    sse_parser_init(&st.parser, st.storage, sizeof st.storage, 0);

    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    if (key != NULL && key[0] != '\0') {
        if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) >= sizeof auth ||
            strpbrk(key, "\r\n") != NULL) {
            fprintf(stderr, "llm_stream: $%s is too long or holds a line break\n", key_env);
            return 2;
        }
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(st.curl, CURLOPT_URL, url);
    curl_easy_setopt(st.curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(st.curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(st.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(st.curl, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(st.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(st.curl, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(st.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(st.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(st.curl, CURLOPT_CONNECTTIMEOUT, st.idle_s);
    curl_easy_setopt(st.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(st.curl, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(st.curl, CURLOPT_NOPROGRESS, 0L);
    st.last_byte_ms = now_ms(); /* from the start of the request */

    rc = curl_easy_perform(st.curl);
    status = verdict(&st, rc);

    curl_slist_free_all(headers);
    curl_easy_cleanup(st.curl);
    curl_global_cleanup();
    cJSON_free(body);
    free(stdin_prompt);
    return status;
}
