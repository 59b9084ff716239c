// The change log's record decoder: any bytes decode or give an error, never
// a crash; a record that decodes encodes back to one that decodes equal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "capture/record.hpp"

using namespace sqltap::capture;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    transaction t;
    if (decode(std::string_view(reinterpret_cast<const char*>(data), size), t)) return 0;
    std::string again = encode(t);
    transaction t2;
    if (decode(again, t2) || !(t2 == t)) __builtin_trap();
    return 0;
}
