// Startup packets: whatever a client sends first is classified and decoded
// or refused cleanly; a StartupMessage that decodes encodes back to a packet
// that decodes to the same parameters.
#include <cstddef>
#include <cstdint>

#include "feed.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/startup.hpp"

using namespace sqltap::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    frame_reader r;
    sqltap::fuzz::feed(r, data, size);
    std::error_code ec;
    auto f = r.next_startup(ec);
    if (!f) return 0;
    switch (classify(*f)) {
        case startup_kind::startup: {
            startup_message m;
            if (decode_startup(*f, m)) return 0;
            (void)m.user();
            (void)m.database();
            byte_buffer again;
            encode_startup(again, m);
            frame_reader r2;
            sqltap::fuzz::feed(r2, again.data(), again.size());
            auto f2 = r2.next_startup(ec);
            startup_message m2;
            if (!f2 || decode_startup(*f2, m2) || m2.parameters != m.parameters || m2.version != m.version)
                __builtin_trap();
            break;
        }
        case startup_kind::cancel_request: {
            cancel_request c;
            (void)decode_cancel(*f, c);
            break;
        }
        default: break;
    }
    return 0;
}
