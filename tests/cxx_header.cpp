// The header compiles as C++ and its API links from a C++ program.
#include "sse.h"

#include <cstring>

static int on_event(void *user, const sse_event *ev)
{
    if (ev->kind == SSE_KIND_EVENT) {
        *static_cast<int *>(user) += 1;
    }
    return 0;
}

int main()
{
    char storage[256];
    sse_parser p;
    int events = 0;
    if (sse_parser_init(&p, storage, sizeof storage, 0) != SSE_OK) {
        return 1;
    }
    const char in[] = "data: x\n\n";
    sse_parser_feed(&p, in, std::strlen(in), on_event, &events);
    sse_frame f = sse_frame();
    f.data = "x";
    f.data_len = 1;
    char out[64];
    size_t len = 0;
    if (sse_encode(out, sizeof out, &f, &len) != SSE_OK || len != 9) {
        return 1;
    }
    return events == 1 ? 0 : 1;
}
