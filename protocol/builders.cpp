#include "protocol/builders.hpp"

namespace sqltap::protocol {
namespace {

void build_fields(byte_buffer& out, char tag, const error_fields& e) {
    message_writer w(out);
    w.begin(tag);
    w.u8('S').cstr(e.severity);
    w.u8('V').cstr(e.severity);  // the non-localized severity
    w.u8('C').cstr(e.sqlstate);
    w.u8('M').cstr(e.message);
    if (!e.detail.empty()) w.u8('D').cstr(e.detail);
    if (!e.hint.empty()) w.u8('H').cstr(e.hint);
    w.u8(0).end();
}

}  // namespace

void build_error_response(byte_buffer& out, const error_fields& e) { build_fields(out, 'E', e); }
void build_notice_response(byte_buffer& out, const error_fields& e) { build_fields(out, 'N', e); }

void build_field_message(byte_buffer& out, char tag, std::span<const field_msg::field> fields) {
    message_writer w(out);
    w.begin(tag);
    for (const auto& f : fields) w.u8(static_cast<std::uint8_t>(f.code)).cstr(f.value);
    w.u8(0).end();
}

void build_ready_for_query(byte_buffer& out, char status) {
    message_writer w(out);
    w.begin('Z').u8(static_cast<std::uint8_t>(status)).end();
}

void build_authentication(byte_buffer& out, auth_code code, bytes data) {
    message_writer w(out);
    w.begin('R').i32(static_cast<std::int32_t>(code)).raw(data).end();
}

void build_authentication_sasl(byte_buffer& out, std::span<const std::string_view> mechanisms) {
    message_writer w(out);
    w.begin('R').i32(static_cast<std::int32_t>(auth_code::sasl));
    for (auto m : mechanisms) w.cstr(m);
    w.u8(0).end();
}

void build_backend_key_data(byte_buffer& out, std::int32_t process_id, std::int32_t secret_key) {
    message_writer w(out);
    w.begin('K').i32(process_id).i32(secret_key).end();
}

void build_parameter_status(byte_buffer& out, std::string_view name, std::string_view value) {
    message_writer w(out);
    w.begin('S').cstr(name).cstr(value).end();
}

void build_row_description(byte_buffer& out, std::span<const row_description_msg::field> fields) {
    message_writer w(out);
    w.begin('T').i16(static_cast<std::int16_t>(fields.size()));
    for (const auto& f : fields) {
        w.cstr(f.name)
            .i32(static_cast<std::int32_t>(f.table_oid))
            .i16(f.column)
            .i32(static_cast<std::int32_t>(f.type_oid))
            .i16(f.type_size)
            .i32(f.type_modifier)
            .i16(f.format);
    }
    w.end();
}

void build_data_row(byte_buffer& out, std::span<const std::optional<bytes>> columns) {
    message_writer w(out);
    w.begin('D').i16(static_cast<std::int16_t>(columns.size()));
    for (const auto& c : columns) w.nullable_value(c);
    w.end();
}

void build_command_complete(byte_buffer& out, std::string_view tag) {
    message_writer w(out);
    w.begin('C').cstr(tag).end();
}

void build_empty(byte_buffer& out, char tag) {
    message_writer w(out);
    w.begin(tag).end();
}

void build_negotiate_protocol_version(byte_buffer& out, std::int32_t newest_minor,
                                      std::span<const std::string_view> unrecognized) {
    message_writer w(out);
    w.begin('v').i32(newest_minor).i32(static_cast<std::int32_t>(unrecognized.size()));
    for (auto o : unrecognized) w.cstr(o);
    w.end();
}

void build_query(byte_buffer& out, std::string_view sql) {
    message_writer w(out);
    w.begin('Q').cstr(sql).end();
}

void build_parse(byte_buffer& out, std::string_view statement, std::string_view sql,
                 std::span<const std::uint32_t> parameter_types) {
    message_writer w(out);
    w.begin('P').cstr(statement).cstr(sql).i16(static_cast<std::int16_t>(parameter_types.size()));
    for (auto t : parameter_types) w.i32(static_cast<std::int32_t>(t));
    w.end();
}

void build_bind(byte_buffer& out, const bind_msg& m) {
    message_writer w(out);
    w.begin('B').cstr(m.portal).cstr(m.statement);
    w.i16(static_cast<std::int16_t>(m.parameter_formats.size()));
    for (auto f : m.parameter_formats) w.i16(f);
    w.i16(static_cast<std::int16_t>(m.parameters.size()));
    for (const auto& p : m.parameters) w.nullable_value(p);
    w.i16(static_cast<std::int16_t>(m.result_formats.size()));
    for (auto f : m.result_formats) w.i16(f);
    w.end();
}

void build_describe(byte_buffer& out, char kind, std::string_view name) {
    message_writer w(out);
    w.begin('D').u8(static_cast<std::uint8_t>(kind)).cstr(name).end();
}

void build_close(byte_buffer& out, char kind, std::string_view name) {
    message_writer w(out);
    w.begin('C').u8(static_cast<std::uint8_t>(kind)).cstr(name).end();
}

void build_execute(byte_buffer& out, std::string_view portal, std::int32_t max_rows) {
    message_writer w(out);
    w.begin('E').cstr(portal).i32(max_rows).end();
}

void build_password(byte_buffer& out, bytes data) {
    message_writer w(out);
    w.begin('p').raw(data).end();
}

void build_sasl_initial_response(byte_buffer& out, std::string_view mechanism, bytes data) {
    message_writer w(out);
    w.begin('p').cstr(mechanism).i32(static_cast<std::int32_t>(data.size())).raw(data).end();
}

}  // namespace sqltap::protocol
