#include "protocol/startup.hpp"

namespace sqltap::protocol {

startup_kind classify(const startup_frame& f) noexcept {
    switch (f.code) {
        case ssl_request_code: return startup_kind::ssl_request;
        case gssenc_request_code: return startup_kind::gssenc_request;
        case cancel_request_code: return startup_kind::cancel_request;
        default: break;
    }
    // Any 3.x minor version is passed on: the server answers a newer minor with
    // NegotiateProtocolVersion, and the client sees exactly that.
    if ((f.code >> 16) == 3) return startup_kind::startup;
    return startup_kind::unsupported;
}

const std::string* startup_message::find(std::string_view name) const noexcept {
    for (const auto& [k, v] : parameters)
        if (k == name) return &v;
    return nullptr;
}

std::string_view startup_message::user() const noexcept {
    const std::string* u = find("user");
    return u ? std::string_view(*u) : std::string_view{};
}

std::string_view startup_message::database() const noexcept {
    const std::string* d = find("database");
    if (d && !d->empty()) return *d;
    return user();
}

std::error_code decode_startup(const startup_frame& f, startup_message& out) {
    out.version = f.code;
    out.parameters.clear();
    field_reader r(f.body);
    for (;;) {
        std::string_view name = r.cstr();
        if (r.error()) return r.error();
        if (name.empty()) break;
        std::string_view value = r.cstr();
        if (r.error()) return r.error();
        out.parameters.emplace_back(name, value);
    }
    return r.finish();
}

void encode_startup(byte_buffer& out, const startup_message& m) {
    message_writer w(out);
    w.begin_untagged().i32(static_cast<std::int32_t>(m.version));
    for (const auto& [k, v] : m.parameters) w.cstr(k).cstr(v);
    w.u8(0).end();
}

std::error_code decode_cancel(const startup_frame& f, cancel_request& out) noexcept {
    field_reader r(f.body);
    out.process_id = r.i32();
    out.secret_key = r.i32();
    return r.finish();
}

void encode_cancel(byte_buffer& out, const cancel_request& c) {
    message_writer w(out);
    w.begin_untagged()
        .i32(static_cast<std::int32_t>(cancel_request_code))
        .i32(c.process_id)
        .i32(c.secret_key)
        .end();
}

void encode_ssl_request(byte_buffer& out) {
    message_writer w(out);
    w.begin_untagged().i32(static_cast<std::int32_t>(ssl_request_code)).end();
}

}  // namespace sqltap::protocol
