// Frame decoding: any byte stream, fed in chunks of any size, gives frames,
// a "need more" or a clean error; every frame a proxy relays is validated
// without reading past it. The first input byte picks the direction and the
// chunk size.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "feed.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/messages.hpp"

using namespace sqltap::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const sender from = (data[0] & 1) ? sender::backend : sender::frontend;
    const std::size_t chunk = 1 + (data[0] >> 1);
    ++data;
    --size;
    frame_reader r(1 << 16, 64);  // a small limit, so that "too large" is reached too
    std::size_t pos = 0;
    bool startup = from == sender::frontend && (size > 0 && data[0] == 0);
    for (;;) {
        std::size_t n = std::min(chunk, size - pos);
        if (n > 0) {
            sqltap::fuzz::feed(r, data + pos, n);
            pos += n;
        }
        std::error_code ec;
        for (;;) {
            if (startup) {
                auto f = r.next_startup(ec);
                if (!f) break;
                startup = false;
                continue;
            }
            auto h = r.peek_header(ec);
            if (!h) break;
            auto f = r.next(ec);
            if (!f) break;
            if (f->raw.size() != f->body.size() + header_size || f->tag != h->tag) __builtin_trap();
            (void)validate(from, f->tag, f->body);
            (void)message_name(from, f->tag);
        }
        if (ec) return 0;  // malformed: the connection would be closed
        if (n == 0) return 0;
    }
}
