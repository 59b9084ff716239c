#include "protocol/messages.hpp"

namespace sqltap::protocol {
namespace {

struct message_type {
    char tag;
    const char* name;
};

constexpr message_type frontend_types[] = {
    {'B', "Bind"},     {'C', "Close"},     {'d', "CopyData"},      {'c', "CopyDone"},
    {'f', "CopyFail"}, {'D', "Describe"},  {'E', "Execute"},       {'H', "Flush"},
    {'F', "FunctionCall"}, {'p', "PasswordMessage"}, {'P', "Parse"}, {'Q', "Query"},
    {'S', "Sync"},     {'X', "Terminate"},
};

constexpr message_type backend_types[] = {
    {'R', "Authentication"},     {'K', "BackendKeyData"},     {'2', "BindComplete"},
    {'3', "CloseComplete"},      {'C', "CommandComplete"},    {'d', "CopyData"},
    {'c', "CopyDone"},           {'G', "CopyInResponse"},     {'H', "CopyOutResponse"},
    {'W', "CopyBothResponse"},   {'D', "DataRow"},            {'I', "EmptyQueryResponse"},
    {'E', "ErrorResponse"},      {'V', "FunctionCallResponse"},
    {'v', "NegotiateProtocolVersion"}, {'n', "NoData"},       {'N', "NoticeResponse"},
    {'A', "NotificationResponse"}, {'t', "ParameterDescription"}, {'S', "ParameterStatus"},
    {'1', "ParseComplete"},      {'s', "PortalSuspended"},    {'Z', "ReadyForQuery"},
    {'T', "RowDescription"},
};

std::vector<std::int16_t> read_i16_array(field_reader& r) {
    std::int16_t n = r.i16();
    std::vector<std::int16_t> v;
    if (n < 0) {
        r.fail(errc::bad_value);
        return v;
    }
    if (r.remaining() < std::size_t(n) * 2) {
        r.fail(errc::truncated_message);
        return v;
    }
    v.reserve(std::size_t(n));
    for (int i = 0; i < n; ++i) v.push_back(r.i16());
    return v;
}

std::vector<std::optional<bytes>> read_values(field_reader& r) {
    std::int16_t n = r.i16();
    std::vector<std::optional<bytes>> v;
    if (n < 0) {
        r.fail(errc::bad_value);
        return v;
    }
    if (r.remaining() < std::size_t(n) * 4) {
        r.fail(errc::truncated_message);
        return v;
    }
    v.reserve(std::size_t(n));
    for (int i = 0; i < n && !r.error(); ++i) v.push_back(r.nullable_value());
    return v;
}

bool is_format(std::int16_t f) noexcept { return f == 0 || f == 1; }

}  // namespace

const char* message_name(sender from, char tag) noexcept {
    if (from == sender::frontend) {
        for (const auto& t : frontend_types)
            if (t.tag == tag) return t.name;
    } else {
        for (const auto& t : backend_types)
            if (t.tag == tag) return t.name;
    }
    return nullptr;
}

// ---- frontend ----

std::error_code decode(bytes body, query_msg& m) noexcept {
    field_reader r(body);
    m.sql = r.cstr();
    return r.finish();
}

std::error_code decode(bytes body, parse_msg& m) {
    field_reader r(body);
    m.statement = r.cstr();
    m.sql = r.cstr();
    std::int16_t n = r.i16();
    m.parameter_types.clear();
    if (n < 0) r.fail(errc::bad_value);
    for (int i = 0; i < n && !r.error(); ++i)
        m.parameter_types.push_back(static_cast<std::uint32_t>(r.i32()));
    return r.finish();
}

std::error_code decode(bytes body, bind_msg& m) {
    field_reader r(body);
    m.portal = r.cstr();
    m.statement = r.cstr();
    m.parameter_formats = read_i16_array(r);
    m.parameters = read_values(r);
    m.result_formats = read_i16_array(r);
    for (auto f : m.parameter_formats)
        if (!is_format(f)) r.fail(errc::bad_value);
    for (auto f : m.result_formats)
        if (!is_format(f)) r.fail(errc::bad_value);
    return r.finish();
}

std::error_code decode(bytes body, execute_msg& m) noexcept {
    field_reader r(body);
    m.portal = r.cstr();
    m.max_rows = r.i32();
    return r.finish();
}

template <class M>
std::error_code decode_kind_name(bytes body, M& m) noexcept {
    field_reader r(body);
    m.kind = static_cast<char>(r.u8());
    m.name = r.cstr();
    if (!r.error() && m.kind != 'S' && m.kind != 'P') r.fail(errc::bad_value);
    return r.finish();
}

std::error_code decode(bytes body, describe_msg& m) noexcept { return decode_kind_name(body, m); }
std::error_code decode(bytes body, close_msg& m) noexcept { return decode_kind_name(body, m); }

std::error_code decode(bytes body, copy_fail_msg& m) noexcept {
    field_reader r(body);
    m.message = r.cstr();
    return r.finish();
}

std::error_code decode(bytes body, function_call_msg& m) {
    field_reader r(body);
    m.function_oid = static_cast<std::uint32_t>(r.i32());
    m.argument_formats = read_i16_array(r);
    m.arguments = read_values(r);
    m.result_format = r.i16();
    return r.finish();
}

std::error_code decode(bytes body, sasl_initial_response_msg& m) noexcept {
    field_reader r(body);
    m.mechanism = r.cstr();
    m.data = r.nullable_value();
    return r.finish();
}

// ---- backend ----

std::error_code decode(bytes body, authentication_msg& m) noexcept {
    field_reader r(body);
    m.code = static_cast<auth_code>(r.i32());
    m.data = r.rest();
    return r.finish();
}

std::error_code decode(bytes body, backend_key_data_msg& m) noexcept {
    field_reader r(body);
    m.process_id = r.i32();
    m.secret_key = r.i32();
    return r.finish();
}

std::error_code decode(bytes body, command_complete_msg& m) noexcept {
    field_reader r(body);
    m.tag = r.cstr();
    return r.finish();
}

std::error_code decode(bytes body, data_row_msg& m) {
    field_reader r(body);
    m.columns = read_values(r);
    return r.finish();
}

std::string_view field_msg::get(char code) const noexcept {
    for (const auto& f : fields)
        if (f.code == code) return f.value;
    return {};
}

std::error_code decode(bytes body, field_msg& m) {
    field_reader r(body);
    m.fields.clear();
    for (;;) {
        char code = static_cast<char>(r.u8());
        if (r.error() || code == 0) break;
        std::string_view value = r.cstr();
        m.fields.push_back({code, value});
    }
    return r.finish();
}

std::error_code decode(bytes body, notification_msg& m) noexcept {
    field_reader r(body);
    m.process_id = r.i32();
    m.channel = r.cstr();
    m.payload = r.cstr();
    return r.finish();
}

std::error_code decode(bytes body, parameter_status_msg& m) noexcept {
    field_reader r(body);
    m.name = r.cstr();
    m.value = r.cstr();
    return r.finish();
}

std::error_code decode(bytes body, ready_for_query_msg& m) noexcept {
    field_reader r(body);
    m.status = static_cast<char>(r.u8());
    if (!r.error() && m.status != 'I' && m.status != 'T' && m.status != 'E')
        r.fail(errc::bad_value);
    return r.finish();
}

std::error_code decode(bytes body, row_description_msg& m) {
    field_reader r(body);
    std::int16_t n = r.i16();
    m.fields.clear();
    if (n < 0) r.fail(errc::bad_value);
    for (int i = 0; i < n && !r.error(); ++i) {
        row_description_msg::field f;
        f.name = r.cstr();
        f.table_oid = static_cast<std::uint32_t>(r.i32());
        f.column = r.i16();
        f.type_oid = static_cast<std::uint32_t>(r.i32());
        f.type_size = r.i16();
        f.type_modifier = r.i32();
        f.format = r.i16();
        m.fields.push_back(f);
    }
    return r.finish();
}

std::error_code decode(bytes body, parameter_description_msg& m) {
    field_reader r(body);
    std::int16_t n = r.i16();
    m.types.clear();
    if (n < 0) r.fail(errc::bad_value);
    for (int i = 0; i < n && !r.error(); ++i) m.types.push_back(static_cast<std::uint32_t>(r.i32()));
    return r.finish();
}

std::error_code decode(bytes body, negotiate_protocol_version_msg& m) {
    field_reader r(body);
    m.newest_minor = r.i32();
    std::int32_t n = r.i32();
    m.unrecognized_options.clear();
    if (n < 0) r.fail(errc::bad_value);
    for (std::int32_t i = 0; i < n && !r.error(); ++i) m.unrecognized_options.push_back(r.cstr());
    return r.finish();
}

std::error_code decode(bytes body, copy_response_msg& m) {
    field_reader r(body);
    m.format = static_cast<std::int8_t>(r.u8());
    m.column_formats = read_i16_array(r);
    return r.finish();
}

std::error_code decode(bytes body, function_call_response_msg& m) noexcept {
    field_reader r(body);
    m.value = r.nullable_value();
    return r.finish();
}

std::error_code decode_sasl_mechanisms(bytes data, std::vector<std::string_view>& out) {
    field_reader r(data);
    out.clear();
    for (;;) {
        std::string_view mech = r.cstr();
        if (r.error() || mech.empty()) break;
        out.push_back(mech);
    }
    return r.finish();
}

namespace {
// Structural checks without building the decoded message: validate() runs on
// every client message, and Bind/Parse would otherwise allocate each time.
void skip_formats(field_reader& r) {
    std::int16_t n = r.i16();
    if (n < 0) r.fail(errc::bad_value);
    for (int i = 0; i < n && !r.error(); ++i)
        if (!is_format(r.i16())) r.fail(errc::bad_value);
}
void skip_values(field_reader& r) {
    std::int16_t n = r.i16();
    if (n < 0) r.fail(errc::bad_value);
    for (int i = 0; i < n && !r.error(); ++i) r.nullable_value();
}
std::error_code check_bind(bytes body) {
    field_reader r(body);
    r.cstr();
    r.cstr();
    skip_formats(r);
    skip_values(r);
    skip_formats(r);
    return r.finish();
}
std::error_code check_parse(bytes body) {
    field_reader r(body);
    r.cstr();
    r.cstr();
    std::int16_t n = r.i16();
    if (n < 0) r.fail(errc::bad_value);
    if (n > 0) r.raw(std::size_t(n) * 4);
    return r.finish();
}
std::error_code check_function_call(bytes body) {
    field_reader r(body);
    r.i32();
    skip_formats(r);
    skip_values(r);
    r.i16();
    return r.finish();
}

template <class M>
std::error_code check(bytes body) {
    M m;
    return decode(body, m);
}
std::error_code check_empty(bytes body) {
    return body.empty() ? std::error_code{} : make_error_code(errc::trailing_bytes);
}
}  // namespace

std::error_code validate(sender from, char tag, bytes body) {
    if (from == sender::frontend) {
        switch (tag) {
            case frontend::bind: return check_bind(body);
            case frontend::close: return check<close_msg>(body);
            case frontend::copy_data: return {};
            case frontend::copy_done: return check_empty(body);
            case frontend::copy_fail: return check<copy_fail_msg>(body);
            case frontend::describe: return check<describe_msg>(body);
            case frontend::execute: return check<execute_msg>(body);
            case frontend::flush: return check_empty(body);
            case frontend::function_call: return check_function_call(body);
            case frontend::password: return {};  // its shape depends on the auth exchange
            case frontend::parse: return check_parse(body);
            case frontend::query: return check<query_msg>(body);
            case frontend::sync: return check_empty(body);
            case frontend::terminate: return check_empty(body);
        }
        return errc::unknown_message_type;
    }
    switch (tag) {
        case backend::authentication: return check<authentication_msg>(body);
        case backend::backend_key_data: return check<backend_key_data_msg>(body);
        case backend::bind_complete:
        case backend::close_complete:
        case backend::copy_done:
        case backend::empty_query_response:
        case backend::no_data:
        case backend::parse_complete:
        case backend::portal_suspended: return check_empty(body);
        case backend::command_complete: return check<command_complete_msg>(body);
        case backend::copy_data: return {};
        case backend::copy_in_response:
        case backend::copy_out_response:
        case backend::copy_both_response: return check<copy_response_msg>(body);
        case backend::data_row: return check<data_row_msg>(body);
        case backend::error_response:
        case backend::notice_response: return check<field_msg>(body);
        case backend::function_call_response: return check<function_call_response_msg>(body);
        case backend::negotiate_protocol_version:
            return check<negotiate_protocol_version_msg>(body);
        case backend::notification_response: return check<notification_msg>(body);
        case backend::parameter_description: return check<parameter_description_msg>(body);
        case backend::parameter_status: return check<parameter_status_msg>(body);
        case backend::ready_for_query: return check<ready_for_query_msg>(body);
        case backend::row_description: return check<row_description_msg>(body);
    }
    return errc::unknown_message_type;
}

}  // namespace sqltap::protocol
