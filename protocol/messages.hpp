#pragma once
// Every message of the PostgreSQL v3 protocol after startup: the one table of
// message types, and a decoder per message into views of the message body.
// Decoded views are valid as long as the frame they came from.
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/bytes.hpp"

namespace sqltap::protocol {

enum class sender { frontend, backend };

// The message's name ("Query", "RowDescription"), or nullptr when `tag` is not
// a message that `from` may send.
const char* message_name(sender from, char tag) noexcept;

namespace frontend {
inline constexpr char bind = 'B', close = 'C', copy_data = 'd', copy_done = 'c',
                      copy_fail = 'f', describe = 'D', execute = 'E', flush = 'H',
                      function_call = 'F', password = 'p', parse = 'P', query = 'Q',
                      sync = 'S', terminate = 'X';
}
namespace backend {
inline constexpr char authentication = 'R', backend_key_data = 'K', bind_complete = '2',
                      close_complete = '3', command_complete = 'C', copy_data = 'd',
                      copy_done = 'c', copy_in_response = 'G', copy_out_response = 'H',
                      copy_both_response = 'W', data_row = 'D', empty_query_response = 'I',
                      error_response = 'E', function_call_response = 'V',
                      negotiate_protocol_version = 'v', no_data = 'n', notice_response = 'N',
                      notification_response = 'A', parameter_description = 't',
                      parameter_status = 'S', parse_complete = '1', portal_suspended = 's',
                      ready_for_query = 'Z', row_description = 'T';
}

// Authentication request codes ('R' messages).
enum class auth_code : std::int32_t {
    ok = 0, kerberos_v5 = 2, cleartext_password = 3, md5_password = 5, scm_credential = 6,
    gss = 7, gss_continue = 8, sspi = 9, sasl = 10, sasl_continue = 11, sasl_final = 12,
};

// ---- frontend messages ----
struct query_msg { std::string_view sql; };
struct parse_msg {
    std::string_view statement, sql;
    std::vector<std::uint32_t> parameter_types;
};
struct bind_msg {
    std::string_view portal, statement;
    std::vector<std::int16_t> parameter_formats;
    std::vector<std::optional<bytes>> parameters;
    std::vector<std::int16_t> result_formats;
};
struct execute_msg { std::string_view portal; std::int32_t max_rows = 0; };
struct describe_msg { char kind = 'S'; std::string_view name; };  // 'S' statement, 'P' portal
struct close_msg { char kind = 'S'; std::string_view name; };
struct copy_fail_msg { std::string_view message; };
struct function_call_msg {
    std::uint32_t function_oid = 0;
    std::vector<std::int16_t> argument_formats;
    std::vector<std::optional<bytes>> arguments;
    std::int16_t result_format = 0;
};
struct sasl_initial_response_msg { std::string_view mechanism; std::optional<bytes> data; };

std::error_code decode(bytes body, query_msg& m) noexcept;
std::error_code decode(bytes body, parse_msg& m);
std::error_code decode(bytes body, bind_msg& m);
std::error_code decode(bytes body, execute_msg& m) noexcept;
std::error_code decode(bytes body, describe_msg& m) noexcept;
std::error_code decode(bytes body, close_msg& m) noexcept;
std::error_code decode(bytes body, copy_fail_msg& m) noexcept;
std::error_code decode(bytes body, function_call_msg& m);
std::error_code decode(bytes body, sasl_initial_response_msg& m) noexcept;

// ---- backend messages ----
struct authentication_msg { auth_code code = auth_code::ok; bytes data; };
struct backend_key_data_msg { std::int32_t process_id = 0, secret_key = 0; };
struct command_complete_msg { std::string_view tag; };
struct data_row_msg { std::vector<std::optional<bytes>> columns; };
struct field_msg {  // ErrorResponse and NoticeResponse
    struct field { char code; std::string_view value; };
    std::vector<field> fields;
    std::string_view get(char code) const noexcept;
};
struct notification_msg { std::int32_t process_id = 0; std::string_view channel, payload; };
struct parameter_status_msg { std::string_view name, value; };
struct ready_for_query_msg { char status = 'I'; };  // I idle, T in transaction, E failed
struct row_description_msg {
    struct field {
        std::string_view name;
        std::uint32_t table_oid = 0;
        std::int16_t column = 0;
        std::uint32_t type_oid = 0;
        std::int16_t type_size = 0;
        std::int32_t type_modifier = 0;
        std::int16_t format = 0;
    };
    std::vector<field> fields;
};
struct parameter_description_msg { std::vector<std::uint32_t> types; };
struct negotiate_protocol_version_msg {
    std::int32_t newest_minor = 0;
    std::vector<std::string_view> unrecognized_options;
};
struct copy_response_msg { std::int8_t format = 0; std::vector<std::int16_t> column_formats; };
struct function_call_response_msg { std::optional<bytes> value; };

std::error_code decode(bytes body, authentication_msg& m) noexcept;
std::error_code decode(bytes body, backend_key_data_msg& m) noexcept;
std::error_code decode(bytes body, command_complete_msg& m) noexcept;
std::error_code decode(bytes body, data_row_msg& m);
std::error_code decode(bytes body, field_msg& m);
std::error_code decode(bytes body, notification_msg& m) noexcept;
std::error_code decode(bytes body, parameter_status_msg& m) noexcept;
std::error_code decode(bytes body, ready_for_query_msg& m) noexcept;
std::error_code decode(bytes body, row_description_msg& m);
std::error_code decode(bytes body, parameter_description_msg& m);
std::error_code decode(bytes body, negotiate_protocol_version_msg& m);
std::error_code decode(bytes body, copy_response_msg& m);
std::error_code decode(bytes body, function_call_response_msg& m) noexcept;

// The mechanisms of an AuthenticationSASL body.
std::error_code decode_sasl_mechanisms(bytes data, std::vector<std::string_view>& out);

// Checks that a message of this tag from this sender decodes completely: the
// structural validation a proxy can apply to any message it relays.
std::error_code validate(sender from, char tag, bytes body);

}  // namespace sqltap::protocol
