// The admin console's wire side: after a console user logged in (the
// publisher checked the password), sqltapd drops the publisher connection
// and answers simple Query messages itself with what shared_state::console
// returns. The extended protocol gets an error (psql uses simple queries).
#include <string>
#include <vector>

#include "protocol/builders.hpp"
#include "protocol/messages.hpp"
#include "proxy/log.hpp"
#include "proxy/session.hpp"

namespace sqltap::proxy {
namespace {

using protocol::byte_buffer;

// The statements of one Query message: split at ';' (console commands hold
// no quoted text), blank ones dropped.
std::vector<std::string> statements_of(std::string_view sql) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= sql.size(); ++i) {
        if (i < sql.size() && sql[i] != ';') continue;
        std::string_view s = sql.substr(start, i - start);
        auto b = s.find_first_not_of(" \t\r\n");
        if (b != std::string_view::npos) {
            auto e = s.find_last_not_of(" \t\r\n");
            out.emplace_back(s.substr(b, e - b + 1));
        }
        start = i + 1;
    }
    return out;
}

void encode_answer(byte_buffer& out, const console_answer& a) {
    if (!a.error.empty()) {
        protocol::build_error_response(out, {"ERROR", a.error_code.empty() ? "42601" : a.error_code, a.error});
        return;
    }
    if (!a.columns.empty()) {
        std::vector<protocol::row_description_msg::field> fields;
        for (const auto& c : a.columns) {
            protocol::row_description_msg::field f;
            f.name = c;
            f.type_oid = 25;  // text
            f.type_size = -1;
            f.type_modifier = -1;
            fields.push_back(f);
        }
        protocol::build_row_description(out, fields);
        std::vector<std::optional<protocol::bytes>> cols;
        for (const auto& r : a.rows) {
            cols.clear();
            for (const auto& v : r) {
                if (v) cols.emplace_back(protocol::as_bytes(*v));
                else cols.emplace_back(std::nullopt);
            }
            protocol::build_data_row(out, cols);
        }
    }
    protocol::build_command_complete(out, a.tag);
}

}  // namespace

awaitable<void> session::console() {
    // The publisher connection only checked the password.
    if (cancel_key_) {
        shared_->cancels.remove(*cancel_key_);
        cancel_key_.reset();
    }
    server_->close();
    log::info("console: user ", startup_.user(), " from ", peer_);
    bool skipping = false;  // after an extended-protocol message, until Sync
    for (;;) {
        char tag = 0;
        auto msg = co_await read_frame(client_, crd_, protocol::sender::frontend, tag);
        if (!msg || closing_) co_return;
        byte_buffer out;
        switch (tag) {
            case protocol::frontend::terminate: end_reason_ = "client disconnected"; co_return;
            case protocol::frontend::query: {
                view_->queries.fetch_add(1, std::memory_order_relaxed);
                protocol::query_msg q;
                if (protocol::decode(protocol::bytes(*msg).subspan(protocol::header_size), q)) {
                    co_await fail(protocol::sqlstate::protocol_violation, "invalid Query message");
                    co_return;
                }
                auto stmts = statements_of(q.sql);
                if (stmts.empty()) protocol::build_empty(out, protocol::backend::empty_query_response);
                for (const auto& sql : stmts) {
                    console_answer a = shared_->console(sql);
                    log::info("console: ", startup_.user(), ": ", sql, a.error.empty() ? "" : " -> " + a.error);
                    encode_answer(out, a);
                    if (!a.error.empty()) break;
                }
                protocol::build_ready_for_query(out, 'I');
                break;
            }
            case protocol::frontend::sync:
                skipping = false;
                protocol::build_ready_for_query(out, 'I');
                break;
            case protocol::frontend::flush: break;
            default:
                if (!skipping) {
                    protocol::build_error_response(out, {"ERROR", protocol::sqlstate::feature_not_supported,
                                                         "the sqltap console answers simple queries only"});
                    skipping = true;
                }
                break;
        }
        if (!out.empty() && !co_await send(client_, out)) co_return;
    }
}

}  // namespace sqltap::proxy
