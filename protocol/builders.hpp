#pragma once
// Builders for the messages sqltap itself sends, in either direction. Each
// appends one complete message to `out`.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "protocol/bytes.hpp"
#include "protocol/messages.hpp"

namespace sqltap::protocol {

// SQLSTATE codes sqltap uses in its own errors.
namespace sqlstate {
inline constexpr std::string_view protocol_violation = "08P01";
inline constexpr std::string_view connection_failure = "08006";
inline constexpr std::string_view cannot_connect = "08001";
inline constexpr std::string_view connection_rejected = "08004";
inline constexpr std::string_view invalid_authorization = "28000";
inline constexpr std::string_view invalid_password = "28P01";
inline constexpr std::string_view admin_shutdown = "57P01";
inline constexpr std::string_view cannot_connect_now = "57P03";
inline constexpr std::string_view program_limit_exceeded = "54000";
inline constexpr std::string_view feature_not_supported = "0A000";
inline constexpr std::string_view internal_error = "XX000";
inline constexpr std::string_view query_canceled = "57014";
inline constexpr std::string_view idle_session_timeout = "57P05";
}  // namespace sqlstate

struct error_fields {
    std::string_view severity = "FATAL";  // ERROR, FATAL, PANIC, WARNING, NOTICE, …
    std::string_view sqlstate;
    std::string_view message;
    std::string_view detail = {};
    std::string_view hint = {};
};

// ---- backend ----
void build_error_response(byte_buffer& out, const error_fields& e);
void build_notice_response(byte_buffer& out, const error_fields& e);
void build_field_message(byte_buffer& out, char tag, std::span<const field_msg::field> fields);
void build_ready_for_query(byte_buffer& out, char status);
void build_authentication(byte_buffer& out, auth_code code, bytes data = {});
void build_authentication_sasl(byte_buffer& out, std::span<const std::string_view> mechanisms);
void build_backend_key_data(byte_buffer& out, std::int32_t process_id, std::int32_t secret_key);
void build_parameter_status(byte_buffer& out, std::string_view name, std::string_view value);
void build_row_description(byte_buffer& out, std::span<const row_description_msg::field> fields);
void build_data_row(byte_buffer& out, std::span<const std::optional<bytes>> columns);
void build_command_complete(byte_buffer& out, std::string_view tag);
void build_empty(byte_buffer& out, char tag);  // messages without a body
void build_negotiate_protocol_version(byte_buffer& out, std::int32_t newest_minor,
                                      std::span<const std::string_view> unrecognized);

// ---- frontend ----
void build_query(byte_buffer& out, std::string_view sql);
void build_parse(byte_buffer& out, std::string_view statement, std::string_view sql,
                 std::span<const std::uint32_t> parameter_types = {});
void build_bind(byte_buffer& out, const bind_msg& m);
void build_describe(byte_buffer& out, char kind, std::string_view name);
void build_close(byte_buffer& out, char kind, std::string_view name);
void build_execute(byte_buffer& out, std::string_view portal, std::int32_t max_rows = 0);
void build_password(byte_buffer& out, bytes data);  // also SASLResponse
void build_sasl_initial_response(byte_buffer& out, std::string_view mechanism, bytes data);

}  // namespace sqltap::protocol
