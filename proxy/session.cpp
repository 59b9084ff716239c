#include "proxy/session.hpp"

#include <algorithm>

#include "protocol/messages.hpp"
#include "proxy/auth_file.hpp"
#include "proxy/log.hpp"
#include "proxy/scram.hpp"
#include "proxy/tls.hpp"

namespace sqltap::proxy {

using protocol::byte_buffer;
using protocol::sender;
namespace sqlstate = protocol::sqlstate;

namespace {

// Messages up to this size are buffered whole; larger ones that no filter needs
// whole pass through in pieces, so memory per session stays bounded.
constexpr std::size_t stream_threshold = 256 * 1024;
// Authentication messages are small; PostgreSQL caps them at 64 kB as well.
constexpr std::size_t max_auth_message = 65536;
constexpr std::size_t read_chunk = 16 * 1024;

std::string endpoint_text(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

protocol::bytes view(const byte_buffer& b) { return {b.data(), b.size()}; }

awaitable<void> forward_cancel(cancel_target t, std::chrono::milliseconds timeout) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    boost::system::error_code ec;
    auto results = co_await resolver.async_resolve(t.host, std::to_string(t.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    tcp::socket sock(ex);
    deadline guard(ex);
    guard.arm(timeout, [&sock] {
        boost::system::error_code ignored;
        sock.close(ignored);
    });
    co_await asio::async_connect(sock, results, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    byte_buffer msg;
    protocol::encode_cancel(msg, {t.server_pid, t.server_key});
    co_await asio::async_write(sock, asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
    // The server closes the connection once it has read the request.
    char b;
    co_await sock.async_read_some(asio::buffer(&b, 1), asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

session::session(tcp::socket client, std::shared_ptr<shared_state> shared)
    : shared_(std::move(shared)),
      rt_(shared_->current()),
      ex_(client.get_executor()),
      client_(std::move(client)),
      crd_(rt_->settings.proxy.max_message_size),
      srd_(rt_->settings.proxy.max_message_size),
      started_(std::chrono::steady_clock::now()) {
    peer_ = endpoint_text(client_.lowest());
    view_ = std::make_shared<session_view>(peer_);
}

session::~session() {
    if (cancel_key_) shared_->cancels.remove(*cancel_key_);
    if (registry_id_) shared_->sessions.remove(registry_id_);
    if (counted_active_) shared_->stats.sessions_active.fetch_sub(1, std::memory_order_relaxed);
}

void session::start(tcp::socket client, std::shared_ptr<shared_state> shared) {
    auto s = std::make_shared<session>(std::move(client), std::move(shared));
    std::weak_ptr<session> weak = s;
    auto ex = s->ex_;
    s->registry_id_ = s->shared_->sessions.add([weak, ex] {
        asio::post(ex, [weak] {
            if (auto s = weak.lock()) s->close_now();
        });
    }, s->view_);
    asio::co_spawn(ex, s->run(), [s](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::error("session ", s->peer_, " ended by an internal error: ", ex.what());
        }
    });
}

void session::close_now() {
    if (closing_) return;
    closing_ = true;
    end_reason_ = "closed by sqltapd shutdown";
    client_.close();
    if (server_) server_->close();
}

awaitable<void> session::run() {
    auto self = shared_from_this();
    shared_->stats.sessions_total.fetch_add(1, std::memory_order_relaxed);
    shared_->stats.sessions_active.fetch_add(1, std::memory_order_relaxed);
    counted_active_ = true;

    deadline login(ex_);
    login.arm(rt_->settings.proxy.login_timeout, [this] {
        login_timed_out_ = true;
        end_reason_ = "login timeout";
        client_.close();
        if (server_) server_->close();
    });

    bool ok = co_await read_startup();
    const auto& admin = rt_->settings.admin;
    if (ok && startup_.database() == "sqltap" && !admin.users.empty() && shared_->console) {
        // The console: the publisher checks the password (against
        // auth_database), then sqltapd answers the statements itself.
        console_ = true;
        if (!admin.console_user(startup_.user())) {
            co_await fail(sqlstate::invalid_authorization,
                          "user \"" + std::string(startup_.user()) + "\" may not use the sqltap admin console",
                          "The console's users are listed in [admin] users.");
            ok = false;
        } else {
            bool replaced = false;
            for (auto& [k, v] : startup_.parameters)
                if (k == "database") v = admin.auth_database, replaced = true;
            if (!replaced) startup_.parameters.emplace_back("database", admin.auth_database);
        }
    }
    if (ok) ok = co_await connect_publisher();
    if (ok) ok = co_await authenticate();
    if (ok) ok = co_await finish_login();
    login.disarm();
    if (ok && !closing_ && console_) {
        logged_in_ = true;
        view_->logged_in(std::string(startup_.user()), "sqltap", "", client_.is_tls(), "console");
        co_await console();
    } else if (ok && !closing_) {
        logged_in_ = true;
        const std::string* app = startup_.find("application_name");
        view_->logged_in(std::string(startup_.user()), std::string(startup_.database()), app ? *app : std::string(),
                         client_.is_tls(), "active");
        if (shared_->filter_factory) {
            session_info info{ex_, std::string(startup_.database()), std::string(startup_.user()),
                              app ? *app : std::string()};
            filter_ = shared_->filter_factory(info);
        }
        co_await relay();
    }
    client_.close();
    if (server_) server_->close();
    if (login_timed_out_) end_reason_ = "login timeout";
    if (!startup_.parameters.empty() || logged_in_) log_end();
}

void session::log_end() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                    started_).count();
    log::info("session end: client=", peer_, " user=", startup_.user(),
              " database=", console_ ? std::string_view("sqltap (console)") : startup_.database(), " duration=", ms / 1000, ".",
              (ms % 1000) / 100, (ms % 100) / 10, ms % 10, "s bytes_in=", view_->bytes_in.load(),
              " bytes_out=", view_->bytes_out.load(), " reason=", end_reason_);
}

void session::count_bytes(sender dir, std::size_t n) {
    bool up = dir == sender::frontend;
    (up ? view_->bytes_in : view_->bytes_out).fetch_add(n, std::memory_order_relaxed);
    (up ? shared_->stats.bytes_from_clients : shared_->stats.bytes_from_publisher).fetch_add(n, std::memory_order_relaxed);
}

awaitable<bool> session::send(pg_stream& s, const byte_buffer& b) {
    boost::system::error_code ec;
    co_await s.write_all(asio::buffer(b), ec);
    co_return !ec;
}

awaitable<void> session::fail(std::string_view code, std::string message, std::string hint) {
    end_reason_ = message;
    byte_buffer out;
    protocol::build_error_response(out, {"FATAL", code, message, {}, hint});
    if (client_.is_open()) co_await send(client_, out);
}

awaitable<std::optional<byte_buffer>> session::read_frame(pg_stream& s, protocol::frame_reader& rd,
                                                           sender dir, char& tag) {
    for (;;) {
        std::error_code perr;
        auto f = rd.next(perr);
        if (perr) {
            shared_->stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            if (dir == sender::frontend) {
                co_await fail(sqlstate::protocol_violation, "invalid message from client: " + perr.message());
            } else {
                co_await fail(sqlstate::protocol_violation,
                              "sqltapd received an invalid message from the publisher: " + perr.message());
            }
            co_return std::nullopt;
        }
        if (f) {
            tag = f->tag;
            co_return byte_buffer(f->raw.begin(), f->raw.end());
        }
        boost::system::error_code ec;
        auto space = rd.prepare(read_chunk);
        std::size_t n = co_await s.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec) {
            if (dir == sender::backend) {
                co_await fail(sqlstate::connection_failure,
                              "sqltapd lost the connection to the publisher during login");
            } else {
                end_reason_ = "client disconnected during login";
            }
            co_return std::nullopt;
        }
        rd.commit(n);
        count_bytes(dir, n);
    }
}

awaitable<bool> session::read_startup() {
    bool tls_done = false;
    for (;;) {
        std::error_code perr;
        auto f = crd_.next_startup(perr);
        if (perr) {
            shared_->stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            end_reason_ = "invalid startup packet: " + perr.message();
            log::warning("client ", peer_, ": ", end_reason_);
            co_await fail(sqlstate::protocol_violation, "invalid startup packet layout: " + perr.message());
            co_return false;
        }
        if (!f) {
            boost::system::error_code ec;
            auto space = crd_.prepare(read_chunk);
            std::size_t n = co_await client_.read_some(asio::buffer(space.data(), space.size()), ec);
            if (ec) {
                end_reason_ = "client disconnected before startup";
                log::debug("client ", peer_, " disconnected before the startup packet: ", ec.message());
                co_return false;
            }
            crd_.commit(n);
            count_bytes(sender::frontend, n);
            continue;
        }
        switch (protocol::classify(*f)) {
            case protocol::startup_kind::ssl_request: {
                if (tls_done) {
                    co_await fail(sqlstate::protocol_violation, "SSLRequest received twice");
                    co_return false;
                }
                // Bytes sent behind an SSLRequest, before the handshake, would be
                // read as if they had come over TLS: refuse them.
                if (!crd_.buffered().empty()) {
                    co_await fail(sqlstate::protocol_violation,
                                  "received unencrypted data after SSL request");
                    co_return false;
                }
                byte_buffer answer{std::byte(rt_->server_tls ? 'S' : 'N')};
                if (!co_await send(client_, answer)) co_return false;
                if (rt_->server_tls) {
                    boost::system::error_code ec;
                    co_await client_.accept_tls(*rt_->server_tls, ec);
                    if (ec) {
                        end_reason_ = "TLS handshake with client failed: " + ec.message();
                        log::warning("client ", peer_, ": ", end_reason_);
                        co_return false;
                    }
                }
                tls_done = true;
                continue;
            }
            case protocol::startup_kind::gssenc_request: {
                if (!crd_.buffered().empty()) {
                    co_await fail(sqlstate::protocol_violation,
                                  "received unencrypted data after GSSAPI encryption request");
                    co_return false;
                }
                byte_buffer answer{std::byte('N')};
                if (!co_await send(client_, answer)) co_return false;
                continue;
            }
            case protocol::startup_kind::cancel_request: {
                protocol::cancel_request c;
                if (protocol::decode_cancel(*f, c)) {
                    end_reason_ = "malformed cancel request";
                    co_return false;
                }
                auto target = shared_->cancels.find({c.process_id, c.secret_key});
                if (target) {
                    shared_->stats.cancels_forwarded.fetch_add(1, std::memory_order_relaxed);
                    log::debug("cancel request from ", peer_, " for backend ", c.process_id);
                    co_await forward_cancel(*target, rt_->settings.publisher.connect_timeout);
                } else {
                    log::debug("cancel request from ", peer_, " matches no session; ignored");
                }
                co_return false;
            }
            case protocol::startup_kind::unsupported: {
                co_await fail(sqlstate::feature_not_supported,
                              "unsupported frontend protocol " + std::to_string(f->code >> 16) + "." +
                                  std::to_string(f->code & 0xffff) +
                                  ": server supports 3.0 to 3.0");
                co_return false;
            }
            case protocol::startup_kind::startup: {
                if (auto err = protocol::decode_startup(*f, startup_)) {
                    startup_.parameters.clear();
                    co_await fail(sqlstate::protocol_violation,
                                  "invalid startup packet layout: " + err.message());
                    co_return false;
                }
                if (startup_.user().empty()) {
                    co_await fail(sqlstate::invalid_authorization,
                                  "no PostgreSQL user name specified in startup packet");
                    co_return false;
                }
                if (startup_.find("replication") && *startup_.find("replication") != "false" &&
                    *startup_.find("replication") != "off" && *startup_.find("replication") != "0") {
                    co_await fail(sqlstate::feature_not_supported,
                                  "replication connections are not supported through sqltapd");
                    co_return false;
                }
                auto max = rt_->settings.proxy.max_client_connections;
                if (shared_->stats.sessions_active.load(std::memory_order_relaxed) > max) {
                    co_await fail("53300", "sorry, too many clients already");
                    co_return false;
                }
                // What follows the startup packet from the client now are
                // authentication messages, which are small.
                crd_.set_max_message_size(max_auth_message);
                co_return true;
            }
        }
    }
}

awaitable<bool> session::connect_publisher() {
    const auto& pub = rt_->settings.publisher;
    const std::string where = pub.host + ":" + std::to_string(pub.port);
    boost::system::error_code ec;
    tcp::resolver resolver(ex_);
    auto results = co_await resolver.async_resolve(pub.host, std::to_string(pub.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        log::error("cannot resolve the publisher ", where, ": ", ec.message());
        co_await fail(sqlstate::cannot_connect,
                      "sqltapd could not resolve the publisher " + where + ": " + ec.message());
        co_return false;
    }
    server_.emplace(tcp::socket(ex_));
    bool timed_out = false;
    deadline guard(ex_);
    guard.arm(pub.connect_timeout, [this, &timed_out] {
        timed_out = true;
        server_->close();
    });
    co_await asio::async_connect(server_->lowest(), results, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || timed_out || closing_) {
        std::string why = timed_out ? "timeout expired" : ec.message();
        guard.disarm();
        if (closing_ || login_timed_out_) co_return false;
        log::error("cannot connect to the publisher ", where, ": ", why);
        co_await fail(sqlstate::cannot_connect,
                      "sqltapd could not connect to the publisher " + where + ": " + why);
        co_return false;
    }
    boost::system::error_code ignored;
    server_->lowest().set_option(tcp::no_delay(true), ignored);

    using config::sslmode;
    if (pub.ssl != sslmode::disable && pub.ssl != sslmode::allow) {
        byte_buffer req;
        protocol::encode_ssl_request(req);
        if (!co_await send(*server_, req)) {
            co_await fail(sqlstate::connection_failure, "the publisher closed the connection");
            co_return false;
        }
        char answer = 0;
        std::size_t n = co_await server_->read_some(asio::buffer(&answer, 1), ec);
        if (ec || n != 1) {
            co_await fail(sqlstate::connection_failure, "the publisher closed the connection during SSL negotiation");
            co_return false;
        }
        if (answer == 'S') {
            co_await server_->connect_tls(
                *rt_->client_tls, [&](SSL* ssl) { prepare_client_tls(ssl, pub.host, pub.ssl); }, ec);
            if (ec) {
                std::string why = ec.category() == asio::error::get_ssl_category()
                                      ? std::string(ec.message())
                                      : ec.message();
                long verify = SSL_get_verify_result(server_->native_tls());
                if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
                log::error("TLS handshake with the publisher ", where, " failed: ", why);
                co_await fail(sqlstate::cannot_connect,
                              "sqltapd could not establish TLS with the publisher: " + why);
                co_return false;
            }
        } else if (answer == 'N') {
            if (pub.ssl != sslmode::prefer) {
                co_await fail(sqlstate::cannot_connect,
                              "the publisher does not support TLS, but [publisher] sslmode = " +
                                  std::string(config::to_string(pub.ssl)));
                co_return false;
            }
        } else {
            co_await fail(sqlstate::protocol_violation, "the publisher answered the SSL request with garbage");
            co_return false;
        }
    }
    guard.disarm();
    if (closing_) co_return false;
    byte_buffer startup;
    protocol::encode_startup(startup, startup_);
    if (!co_await send(*server_, startup)) {
        co_await fail(sqlstate::connection_failure, "the publisher closed the connection");
        co_return false;
    }
    co_return true;
}

awaitable<bool> session::authenticate() {
    for (;;) {
        char tag = 0;
        auto msg = co_await read_frame(*server_, srd_, sender::backend, tag);
        if (!msg) co_return false;
        protocol::bytes body = view(*msg).subspan(protocol::header_size);
        if (tag == protocol::backend::error_response || tag == protocol::backend::notice_response ||
            tag == protocol::backend::negotiate_protocol_version) {
            if (!co_await send(client_, *msg)) co_return false;
            if (tag == protocol::backend::error_response) {
                protocol::field_msg e;
                protocol::decode(body, e);
                end_reason_ = "login refused by the publisher: " + std::string(e.get('M'));
                co_return false;
            }
            continue;
        }
        if (tag != protocol::backend::authentication) {
            co_await fail(sqlstate::protocol_violation,
                          "sqltapd received an unexpected message during authentication");
            co_return false;
        }
        protocol::authentication_msg auth;
        if (protocol::decode(body, auth)) {
            co_await fail(sqlstate::protocol_violation, "invalid authentication request from the publisher");
            co_return false;
        }
        using protocol::auth_code;
        switch (auth.code) {
            case auth_code::ok:
                co_return co_await send(client_, *msg);
            case auth_code::sasl: {
                std::vector<std::string_view> mechs;
                protocol::decode_sasl_mechanisms(auth.data, mechs);
                std::vector<std::string> owned(mechs.begin(), mechs.end());
                bool both_tls = client_.is_tls() && server_->is_tls();
                bool has_scram = std::find(owned.begin(), owned.end(), "SCRAM-SHA-256") != owned.end();
                const auth_entry* user =
                    rt_->users ? rt_->users->find(std::string(startup_.user())) : nullptr;
                if (both_tls && has_scram && user) co_return co_await terminate_scram(*user);
                co_return co_await relay_sasl(std::move(owned));
            }
            case auth_code::sasl_continue:
            case auth_code::sasl_final:
                co_await fail(sqlstate::protocol_violation,
                              "the publisher sent a SASL message outside a SASL exchange");
                co_return false;
            default: {
                // cleartext, md5, GSS and others: one client answer per request.
                if (!co_await send(client_, *msg)) co_return false;
                char ctag = 0;
                auto answer = co_await read_frame(client_, crd_, sender::frontend, ctag);
                if (!answer) co_return false;
                if (ctag != protocol::frontend::password) {
                    co_await fail(sqlstate::protocol_violation,
                                  "expected a password response, got message type " + std::string(1, ctag));
                    co_return false;
                }
                if (!co_await send(*server_, *answer)) co_return false;
            }
        }
    }
}

awaitable<bool> session::relay_sasl(std::vector<std::string> mechanisms) {
    // Channel binding cannot pass through a proxy (the client would bind to
    // sqltapd's certificate), so the -PLUS mechanisms are not offered.
    bool server_offers_plus = false;
    std::vector<std::string_view> offer;
    for (const auto& m : mechanisms) {
        if (m.size() > 5 && m.compare(m.size() - 5, 5, "-PLUS") == 0) server_offers_plus = true;
        else offer.push_back(m);
    }
    if (offer.empty()) {
        co_await fail(sqlstate::feature_not_supported,
                      "the publisher offers only channel-bound SASL mechanisms, which cannot pass "
                      "through sqltapd");
        co_return false;
    }
    byte_buffer out;
    protocol::build_authentication_sasl(out, offer);
    if (!co_await send(client_, out)) co_return false;

    char tag = 0;
    auto first = co_await read_frame(client_, crd_, sender::frontend, tag);
    if (!first) co_return false;
    if (tag != protocol::frontend::password) {
        co_await fail(sqlstate::protocol_violation, "expected SASL response");
        co_return false;
    }
    protocol::sasl_initial_response_msg init;
    if (protocol::decode(view(*first).subspan(protocol::header_size), init)) {
        co_await fail(sqlstate::protocol_violation, "malformed SASLInitialResponse");
        co_return false;
    }
    // A client on TLS that was offered no channel binding answers with the 'y'
    // flag, which PostgreSQL rejects on a TLS connection as a downgrade.
    if (server_offers_plus && init.data && !init.data->empty() &&
        static_cast<char>((*init.data)[0]) == 'y') {
        co_await fail(sqlstate::invalid_authorization,
                      "sqltapd cannot relay SCRAM authentication for user \"" +
                          std::string(startup_.user()) +
                          "\" when both the client and the publisher connection use TLS",
                      "Add the user's SCRAM secret to the file named by [proxy] auth_file, "
                      "so that sqltapd can authenticate the client itself.");
        co_return false;
    }
    if (!co_await send(*server_, *first)) co_return false;

    for (;;) {
        auto msg = co_await read_frame(*server_, srd_, sender::backend, tag);
        if (!msg) co_return false;
        if (!co_await send(client_, *msg)) co_return false;
        if (tag == protocol::backend::error_response) {
            end_reason_ = "authentication failed";
            co_return false;
        }
        if (tag != protocol::backend::authentication) continue;  // notices
        protocol::authentication_msg auth;
        if (protocol::decode(view(*msg).subspan(protocol::header_size), auth)) co_return false;
        if (auth.code == protocol::auth_code::ok) co_return true;
        if (auth.code == protocol::auth_code::sasl_final) continue;
        if (auth.code != protocol::auth_code::sasl_continue) {
            co_await fail(sqlstate::protocol_violation, "unexpected message in the SASL exchange");
            co_return false;
        }
        auto answer = co_await read_frame(client_, crd_, sender::frontend, tag);
        if (!answer) co_return false;
        if (tag != protocol::frontend::password) {
            co_await fail(sqlstate::protocol_violation, "expected SASL response");
            co_return false;
        }
        if (!co_await send(*server_, *answer)) co_return false;
    }
}

awaitable<bool> session::terminate_scram(const auth_entry& user) {
    const std::string who = "\"" + std::string(startup_.user()) + "\"";
    // 1. Authenticate the client against the stored secret.
    scram::server_exchange server_side(user.secret);
    std::string_view mech = "SCRAM-SHA-256";
    byte_buffer out;
    protocol::build_authentication_sasl(out, std::span(&mech, 1));
    if (!co_await send(client_, out)) co_return false;

    char tag = 0;
    auto first = co_await read_frame(client_, crd_, sender::frontend, tag);
    if (!first) co_return false;
    protocol::sasl_initial_response_msg init;
    if (tag != protocol::frontend::password ||
        protocol::decode(view(*first).subspan(protocol::header_size), init) || !init.data ||
        init.mechanism != "SCRAM-SHA-256") {
        co_await fail(sqlstate::protocol_violation, "expected a SCRAM-SHA-256 SASLInitialResponse");
        co_return false;
    }
    std::string error;
    auto server_first = server_side.client_first(protocol::as_text(*init.data), error);
    if (!server_first) {
        co_await fail(sqlstate::protocol_violation, error);
        co_return false;
    }
    out.clear();
    protocol::build_authentication(out, protocol::auth_code::sasl_continue, protocol::as_bytes(*server_first));
    if (!co_await send(client_, out)) co_return false;

    auto final_msg = co_await read_frame(client_, crd_, sender::frontend, tag);
    if (!final_msg) co_return false;
    if (tag != protocol::frontend::password) {
        co_await fail(sqlstate::protocol_violation, "expected SASL response");
        co_return false;
    }
    auto server_final =
        server_side.client_final(protocol::as_text(view(*final_msg).subspan(protocol::header_size)), error);
    if (!server_final) {
        log::warning("client ", peer_, ": SCRAM authentication of user ", who, " failed: ", error);
        co_await fail(sqlstate::invalid_password, "password authentication failed for user " + who);
        co_return false;
    }

    // 2. Log in to the publisher with the recovered ClientKey (or the password).
    auto client_side = user.password ? scram::client_exchange::with_password(*user.password)
                                     : scram::client_exchange::with_client_key(server_side.client_key(),
                                                                               user.secret);
    std::string cf = client_side.client_first();
    out.clear();
    protocol::build_sasl_initial_response(out, "SCRAM-SHA-256", protocol::as_bytes(cf));
    if (!co_await send(*server_, out)) co_return false;

    for (int step = 0;; ++step) {
        auto msg = co_await read_frame(*server_, srd_, sender::backend, tag);
        if (!msg) co_return false;
        protocol::bytes body = view(*msg).subspan(protocol::header_size);
        if (tag == protocol::backend::error_response) {
            if (!co_await send(client_, *msg)) co_return false;
            end_reason_ = "the publisher refused the SCRAM login";
            co_return false;
        }
        if (tag != protocol::backend::authentication) {
            if (tag == protocol::backend::notice_response) co_await send(client_, *msg);
            continue;
        }
        protocol::authentication_msg auth;
        if (protocol::decode(body, auth)) co_return false;
        if (auth.code == protocol::auth_code::sasl_continue) {
            auto cfinal = client_side.server_first(protocol::as_text(auth.data), error);
            if (!cfinal) {
                co_await fail(sqlstate::invalid_authorization, error);
                co_return false;
            }
            out.clear();
            protocol::build_password(out, protocol::as_bytes(*cfinal));
            if (!co_await send(*server_, out)) co_return false;
        } else if (auth.code == protocol::auth_code::sasl_final) {
            if (!client_side.server_final(protocol::as_text(auth.data), error)) {
                co_await fail(sqlstate::invalid_authorization, error);
                co_return false;
            }
        } else if (auth.code == protocol::auth_code::ok) {
            out.clear();
            protocol::build_authentication(out, protocol::auth_code::sasl_final,
                                           protocol::as_bytes(*server_final));
            protocol::build_authentication(out, protocol::auth_code::ok);
            co_return co_await send(client_, out);
        } else {
            co_await fail(sqlstate::protocol_violation, "unexpected message in the SASL exchange");
            co_return false;
        }
    }
}

awaitable<bool> session::finish_login() {
    // ParameterStatus, BackendKeyData and NoticeResponse until ReadyForQuery.
    crd_.set_max_message_size(rt_->settings.proxy.max_message_size);
    byte_buffer out;
    for (;;) {
        char tag = 0;
        auto msg = co_await read_frame(*server_, srd_, sender::backend, tag);
        if (!msg) co_return false;
        if (tag == protocol::backend::backend_key_data) {
            protocol::backend_key_data_msg k;
            if (protocol::decode(view(*msg).subspan(protocol::header_size), k)) {
                co_await fail(sqlstate::protocol_violation, "invalid BackendKeyData from the publisher");
                co_return false;
            }
            const auto& pub = rt_->settings.publisher;
            cancel_key_ = shared_->cancels.add({k.process_id, k.secret_key, pub.host, pub.port});
            protocol::build_backend_key_data(out, cancel_key_->pid, cancel_key_->key);
            continue;
        }
        out.insert(out.end(), msg->begin(), msg->end());
        if (tag == protocol::backend::error_response) {
            co_await send(client_, out);
            end_reason_ = "login refused by the publisher";
            co_return false;
        }
        if (tag == protocol::backend::ready_for_query) co_return co_await send(client_, out);
    }
}

awaitable<void> session::relay() {
    auto self = shared_from_this();
    pump_result up, down;
    bool up_done = false;
    asio::steady_timer both_done(ex_, asio::steady_timer::time_point::max());

    asio::co_spawn(ex_, pump(*server_, client_, srd_, sender::backend, down),
                   [self, &up_done, &both_done](std::exception_ptr e) {
                       if (e) {
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               log::error("relay from the publisher failed: ", x.what());
                           }
                       }
                       self->down_done_ = true;
                       if (self->filter_) self->filter_->abort_wait();  // a held client side must not wait on
                       if (!up_done) self->client_.cancel();
                       both_done.cancel();
                   });
    co_await pump(client_, *server_, crd_, sender::frontend, up);
    up_done = true;
    if (!down_done_) {
        server_->close();
        client_.cancel();
        boost::system::error_code ec;
        while (!down_done_) co_await both_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    const pump_result* bad = up.protocol_error ? &up : down.protocol_error ? &down : nullptr;
    if (bad) {
        shared_->stats.protocol_errors.fetch_add(1, std::memory_order_relaxed);
        log::warning("session ", peer_, " user=", startup_.user(), ": ", bad->what);
        end_reason_ = bad->what;
        if (down.at_boundary && client_.is_open()) {
            deadline guard(ex_);
            guard.arm(std::chrono::seconds(5), [this] { client_.close(); });
            byte_buffer out;
            protocol::build_error_response(out, {"FATAL", sqlstate::protocol_violation, bad->what});
            co_await send(client_, out);
        }
    }
}

awaitable<void> session::pump(pg_stream& from, pg_stream& to, protocol::frame_reader& rd,
                              sender dir, pump_result& result) {
    const std::size_t max_body = rd.max_message_size();
    byte_buffer out, replacement;
    std::size_t streaming = 0;  // bytes of a passing-through message still to come
    std::size_t want = 0;       // bytes the next whole message still lacks
    boost::system::error_code ec;

    for (;;) {
        // Examine what is buffered: whole messages, or pieces of a streamed one.
        protocol::bytes buf = rd.buffered();
        std::size_t pos = 0, run_start = 0;
        bool rewritten = false, hold = false;
        out.clear();
        want = 0;
        while (pos < buf.size()) {
            if (streaming > 0) {
                std::size_t take = std::min(streaming, buf.size() - pos);
                pos += take;
                streaming -= take;
                continue;
            }
            if (buf.size() - pos < protocol::header_size) break;
            char tag = static_cast<char>(buf[pos]);
            std::uint32_t len = protocol::load_u32(buf.data() + pos + 1);
            if (len < 4 || len - 4 > max_body) {
                result.protocol_error = true;
                result.what = std::string(dir == sender::frontend ? "invalid message from client"
                                                                  : "invalid message from the publisher") +
                              (len < 4 ? ": message length below 4" : ": message too large (" +
                                                                          std::to_string(len) + " bytes)");
                break;
            }
            if (dir == sender::frontend && !protocol::message_name(sender::frontend, tag)) {
                result.protocol_error = true;
                result.what = "invalid frontend message type " + std::to_string(int(static_cast<unsigned char>(tag)));
                break;
            }
            std::size_t total = std::size_t(len) + 1;
            if (buf.size() - pos >= total) {
                protocol::frame f{tag, buf.subspan(pos + protocol::header_size, total - protocol::header_size),
                                  buf.subspan(pos, total)};
                if (dir == sender::frontend) {
                    if (tag == protocol::frontend::query || tag == protocol::frontend::execute) {
                        view_->queries.fetch_add(1, std::memory_order_relaxed);
                        shared_->stats.queries.fetch_add(1, std::memory_order_relaxed);
                    }
                    if (auto verr = protocol::validate(sender::frontend, tag, f.body)) {
                        result.protocol_error = true;
                        result.what = std::string("invalid ") + protocol::message_name(sender::frontend, tag) +
                                      " message from client: " + verr.message();
                        break;
                    }
                }
                if (filter_) {
                    replacement.clear();
                    verdict v = filter_->on_message(dir, f, replacement);
                    if (v == verdict::hold && dir == sender::backend) v = verdict::replace;  // never on this side
                    if (v != verdict::forward) {
                        out.insert(out.end(), buf.begin() + long(run_start), buf.begin() + long(pos));
                        out.insert(out.end(), replacement.begin(), replacement.end());
                        rewritten = true;
                        if (v == verdict::hold) {
                            // Send what came before (and what the filter added),
                            // keep this message buffered, wait, then offer it again.
                            run_start = pos;
                            hold = true;
                            break;
                        }
                        run_start = pos + total;
                    }
                }
                pos += total;
                continue;
            }
            if (total > stream_threshold && !(filter_ && filter_->needs_whole(dir, tag))) {
                if (filter_) filter_->on_streamed(dir, {tag, len - 4});
                streaming = total;
                continue;
            }
            want = total - (buf.size() - pos);
            break;
        }

        // Forward what was examined, straight from the read buffer unless rewritten.
        if (pos > 0 || rewritten) {
            asio::const_buffer b;
            if (rewritten) {
                if (!hold) out.insert(out.end(), buf.begin() + long(run_start), buf.begin() + long(pos));
                b = asio::buffer(out);
            } else {
                b = asio::buffer(buf.data(), pos);
            }
            if (b.size() > 0) {
                co_await to.write_all(b, ec);
                if (ec) {
                    result.at_boundary = false;
                    co_return;
                }
            }
            rd.consume(pos);
        }
        if (result.protocol_error) co_return;
        result.at_boundary = streaming == 0;
        if (hold) {
            co_await filter_->wait_ready();
            if (down_done_) co_return;
            continue;  // offer the held message again; it is still buffered
        }

        // After a large message, give the memory back once the buffer is empty:
        // idle sessions keep only the usual read size.
        if (rd.capacity() > 4 * read_chunk && rd.buffered().empty()) rd.shrink(read_chunk);
        auto space = rd.prepare(std::max(want, read_chunk));
        std::size_t n = co_await from.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec) co_return;
        rd.commit(n);
        count_bytes(dir, n);
    }
}

}  // namespace sqltap::proxy
