#include "protocol/error.hpp"

#include <string>

namespace sqltap::protocol {
namespace {

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "pgwire"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::frame_too_short: return "message length below 4";
            case errc::frame_too_large: return "message length above the configured maximum";
            case errc::startup_too_short: return "startup packet shorter than 8 bytes";
            case errc::startup_too_large: return "startup packet longer than 10000 bytes";
            case errc::unknown_message_type: return "unknown message type";
            case errc::truncated_message: return "message truncated";
            case errc::trailing_bytes: return "unexpected bytes at the end of a message";
            case errc::missing_terminator: return "string field without terminator";
            case errc::bad_value: return "invalid field value";
        }
        return "unknown protocol error";
    }
};

}  // namespace

const std::error_category& protocol_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace sqltap::protocol
