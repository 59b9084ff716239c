#pragma once
// The packets that open a connection: StartupMessage, SSLRequest,
// GSSENCRequest and CancelRequest.
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/frame_reader.hpp"

namespace sqltap::protocol {

inline constexpr std::uint32_t protocol_v3 = 3u << 16;
inline constexpr std::uint32_t ssl_request_code = (1234u << 16) | 5679u;
inline constexpr std::uint32_t gssenc_request_code = (1234u << 16) | 5680u;
inline constexpr std::uint32_t cancel_request_code = (1234u << 16) | 5678u;

enum class startup_kind { startup, ssl_request, gssenc_request, cancel_request, unsupported };

startup_kind classify(const startup_frame& f) noexcept;

struct startup_message {
    std::uint32_t version = protocol_v3;
    std::vector<std::pair<std::string, std::string>> parameters;  // in arrival order

    const std::string* find(std::string_view name) const noexcept;
    std::string_view user() const noexcept;
    // The database, which PostgreSQL defaults to the user name.
    std::string_view database() const noexcept;
};

std::error_code decode_startup(const startup_frame& f, startup_message& out);
void encode_startup(byte_buffer& out, const startup_message& m);

struct cancel_request {
    std::int32_t process_id = 0;
    std::int32_t secret_key = 0;
};

std::error_code decode_cancel(const startup_frame& f, cancel_request& out) noexcept;
void encode_cancel(byte_buffer& out, const cancel_request& c);
void encode_ssl_request(byte_buffer& out);

}  // namespace sqltap::protocol
