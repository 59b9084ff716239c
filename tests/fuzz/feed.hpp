#pragma once
// Puts bytes into a frame_reader as a socket read would.
#include <cstddef>
#include <cstring>

#include "protocol/frame_reader.hpp"

namespace sqltap::fuzz {

inline void feed(protocol::frame_reader& r, const void* data, std::size_t n) {
    auto space = r.prepare(n);
    if (n > 0) std::memcpy(space.data(), data, n);
    r.commit(n);
}

}  // namespace sqltap::fuzz
