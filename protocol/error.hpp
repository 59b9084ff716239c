#pragma once
// Errors the sans-io codec reports. Decoders return these through std::error_code;
// nothing in protocol/ throws.
#include <system_error>

namespace sqltap::protocol {

enum class errc {
    frame_too_short = 1,    // length field below 4
    frame_too_large,        // length field above the configured maximum
    startup_too_short,      // startup packet below 8 bytes
    startup_too_large,      // startup packet above 10,000 bytes
    unknown_message_type,   // tag not defined for this direction
    truncated_message,      // a field runs past the end of the message body
    trailing_bytes,         // bytes left over after the last field
    missing_terminator,     // a string field without its NUL
    bad_value,              // a field holds a value the protocol does not allow
};

const std::error_category& protocol_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), protocol_category()};
}

}  // namespace sqltap::protocol

template <>
struct std::is_error_code_enum<sqltap::protocol::errc> : std::true_type {};
