// sqltapd: the PostgreSQL wire-protocol proxy with change capture.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

#include "admin/console.hpp"
#include "admin/http.hpp"
#include "capture/engine.hpp"
#include "capture/session_capture.hpp"
#include "replay/engine.hpp"
#include "replay/sync.hpp"
#include "proxy/config.hpp"
#include "proxy/log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/server.hpp"
#include "sqltap_version.hpp"

namespace {

const char* usage =
    "Usage: sqltapd --config FILE\n"
    "       sqltapd --check-config FILE\n"
    "       sqltapd --config FILE --sync NAME\n"
    "\n"
    "A PostgreSQL wire-protocol proxy. Point applications at the addresses in\n"
    "[proxy] listen; sqltapd forwards every session to the [publisher], captures\n"
    "committed row changes into the change log ([capture]) and replays that log\n"
    "to every [subscriber.NAME]. With [proxy] enabled = off it only replays.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        run with this configuration file\n"
    "      --check-config FILE  report every problem in FILE (file:line: message)\n"
    "                           and exit non-zero if there is any error\n"
    "      --sync NAME          initial sync of [subscriber.NAME]: copy its tables\n"
    "                           from the publisher (creating missing ones), consistent\n"
    "                           with a log position, while the workload goes on; its\n"
    "                           applier (in a running sqltapd too) continues from there\n"
    "      --config-reference   print the reference of every configuration key\n"
    "                           (Markdown; docs/configuration.md is this output)\n"
    "  -h, --help               show this help\n"
    "  -V, --version            show the version\n"
    "\n"
    "Signals: SIGTERM stops accepting and lets sessions finish (up to\n"
    "[proxy] shutdown_timeout); SIGINT closes every session now; SIGHUP reloads\n"
    "the configuration file.\n";

int report(const sqltap::config::load_result& r) {
    for (const auto& p : r.problems) {
        std::fprintf(stderr, "%s%s: %s%s\n", p.file.c_str(),
                     p.line ? (":" + std::to_string(p.line)).c_str() : "",
                     p.warning ? "warning: " : "error: ", p.message.c_str());
    }
    return r.ok() ? 0 : 1;
}

// The conninfo of sqltapd's own connections to the publisher.
std::string admin_conninfo(const sqltap::config::settings& s) {
    if (!s.publisher.admin_conninfo.empty()) return s.publisher.admin_conninfo;
    std::string c = "host=" + s.publisher.host + " port=" + std::to_string(s.publisher.port) +
                    " sslmode=" + std::string(sqltap::config::to_string(s.publisher.ssl));
    if (!s.publisher.sslrootcert.empty()) c += " sslrootcert=" + s.publisher.sslrootcert;
    c += " connect_timeout=" + std::to_string(std::max<long long>(1, s.publisher.connect_timeout.count() / 1000));
    return c;
}

std::shared_ptr<sqltap::capture::engine> start_capture(const sqltap::config::settings& s) {
    if (!s.capture.enabled) return nullptr;
    sqltap::capture::engine_options o;
    o.log_dir = s.capture.log_dir;
    o.log_map_size = s.capture.log_map_size;
    o.strict = s.capture.strict;
    o.reject_uncaptured = s.capture.reject_uncaptured;
    o.always_check_writes = s.capture.always_check_writes;
    o.tables = s.capture.tables;
    o.exclude = s.capture.exclude;
    o.before_images = s.capture.before_images;
    o.prepare_writes = s.capture.prepare_writes;
    for (const auto& r : s.capture.table_rules) o.table_rules.push_back({r.schema, r.table, r.filter, r.columns});
    o.admin_conninfo = admin_conninfo(s);
    o.warn = [](const std::string& m) { sqltap::log::warning("capture: ", m); };
    o.info = [](const std::string& m) { sqltap::log::info("capture: ", m); };
    return sqltap::capture::engine::start(o);
}

// The log the replay engine reads when capture in this process does not own it.
std::unique_ptr<sqltap::capture::change_log> open_log_for_replay(const sqltap::config::settings& s) {
    sqltap::capture::log_options lo;
    lo.dir = s.capture.log_dir;
    lo.map_size = s.capture.log_map_size;
    return sqltap::capture::change_log::open(lo);
}

sqltap::replay::subscriber_options subscriber_options_of(const sqltap::config::subscriber_settings& sub) {
    sqltap::replay::subscriber_options so;
    so.name = sub.name;
    so.conninfo = sub.conninfo;
    so.database = sub.database;
    so.tables = sub.tables;
    so.exclude = sub.exclude;
    so.conflict = *sqltap::replay::parse_policy(sub.conflict);
    for (const auto& [t, p] : sub.table_conflict) so.table_conflict.emplace_back(t, *sqltap::replay::parse_policy(p));
    so.replication_role = sub.replication_role;
    so.apply_ddl = sub.apply_ddl;
    so.retry_max = sub.retry_max;
    so.node = sub.node;
    return so;
}

std::unique_ptr<sqltap::replay::engine> start_replay(const sqltap::config::settings& s,
                                                    sqltap::capture::change_log& log) {
    if (s.replay.subscribers.empty()) return nullptr;
    sqltap::replay::replay_options o;
    o.node_name = s.replay.node_name;
    o.keep = s.replay.keep;
    o.max_log_size = s.capture.max_log_size;
    for (const auto& sub : s.replay.subscribers) o.subscribers.push_back(subscriber_options_of(sub));
    o.info = [](const std::string& m) { sqltap::log::info("replay: ", m); };
    o.warn = [](const std::string& m) { sqltap::log::warning("replay: ", m); };
    o.error = [](const std::string& m) { sqltap::log::error("replay: ", m); };
    return std::make_unique<sqltap::replay::engine>(log, std::move(o));
}

// sqltapd --config FILE --sync NAME
int run_sync(const sqltap::config::settings& s, const std::string& name) {
    const sqltap::config::subscriber_settings* sub = nullptr;
    for (const auto& x : s.replay.subscribers)
        if (x.name == name) sub = &x;
    if (!sub) {
        std::string known;
        for (const auto& x : s.replay.subscribers) known += (known.empty() ? "" : ", ") + x.name;
        std::fprintf(stderr, "sqltapd: --sync: no [subscriber.%s] in the configuration (it has: %s)\n", name.c_str(),
                     known.empty() ? "none" : known.c_str());
        return 2;
    }
    try {
        auto log = open_log_for_replay(s);
        sqltap::replay::sync_options o;
        o.subscriber = subscriber_options_of(*sub);
        o.publisher_conninfo = admin_conninfo(s);
        o.node_name = s.replay.node_name;
        o.capture_tables = s.capture.tables;
        o.capture_exclude = s.capture.exclude;
        for (const auto& r : s.capture.table_rules) o.rules.push_back({r.schema, r.table, r.filter, r.columns});
        o.say = [](const std::string& m) { std::printf("sqltapd --sync: %s\n", m.c_str()); std::fflush(stdout); };
        auto rep = sqltap::replay::initial_sync(o, *log);
        std::printf("sqltapd --sync: subscriber %s synced: %zu tables (%zu created), %llu rows in %.1f s; "
                    "replay continues from log position %llu\n",
                    name.c_str(), rep.tables, rep.created, static_cast<unsigned long long>(rep.rows), rep.seconds,
                    static_cast<unsigned long long>(rep.start_lsn));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sqltapd: --sync %s failed: %s\n", name.c_str(), e.what());
        return 1;
    }
}

// With [proxy] enabled = off: replay only, until SIGTERM or SIGINT.
int replay_only(const sqltap::config::settings& s) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
    auto log = open_log_for_replay(s);
    sqltap::log::info("sqltapd ", SQLTAP_VERSION, " replaying ", s.capture.log_dir, " to ", s.replay.subscribers.size(),
                      " subscriber(s); the proxy is off");
    auto replay = start_replay(s, *log);
    std::unique_ptr<sqltap::admin::http_server> http;
    if (!s.admin.listen.empty()) {
        sqltap::admin::sources src;
        src.log = log.get();
        src.replay = replay.get();
        src.startup_settings = s;
        http = std::make_unique<sqltap::admin::http_server>(s.admin.listen.front(), src);
    }
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGHUP) {
            sqltap::log::info("SIGHUP: the replay-only mode reads its configuration at start; restart to change it");
            continue;
        }
        sqltap::log::info("stopping (signal ", sig, ")");
        break;
    }
    http.reset();
    replay.reset();
    return 0;
}

}  // namespace

// Each client session holds two sockets (client and publisher): the soft
// limit on open files goes up to the hard one, and a limit that still cannot
// hold max_client_connections sessions is said at start, not found out at the
// thousandth connection.
static void raise_fd_limit(std::size_t max_sessions) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    const rlim_t need = rlim_t(max_sessions) * 2 + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        sqltap::log::warning("open files limit ", std::to_string(rl.rlim_cur), " holds about ",
                             std::to_string((rl.rlim_cur - std::min<rlim_t>(rl.rlim_cur, 64)) / 2),
                             " sessions, fewer than [proxy] max_client_connections (", std::to_string(max_sessions),
                             "); raise it (ulimit -n, systemd LimitNOFILE)");
}

int main(int argc, char** argv) {
    std::string config_path, sync_name;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (a == "--config-reference") {
            std::fputs(sqltap::config::reference_markdown().c_str(), stdout);
            return 0;
        }
        if (a == "-V" || a == "--version") {
            std::printf("sqltapd %s\n", SQLTAP_VERSION);
            return 0;
        }
        if ((a == "-c" || a == "--config" || a == "--check-config") && i + 1 < argc) {
            check_only = a == "--check-config";
            config_path = argv[++i];
            continue;
        }
        if (a == "--sync" && i + 1 < argc) {
            sync_name = argv[++i];
            continue;
        }
        if (a.rfind("--sync=", 0) == 0) {
            sync_name = a.substr(7);
            continue;
        }
        if (a.rfind("--config=", 0) == 0) {
            config_path = a.substr(9);
            continue;
        }
        if (a.rfind("--check-config=", 0) == 0) {
            check_only = true;
            config_path = a.substr(15);
            continue;
        }
        std::fprintf(stderr, "sqltapd: unknown argument '%s'\n\n%s", a.c_str(), usage);
        return 2;
    }
    if (config_path.empty()) {
        std::fprintf(stderr, "sqltapd: --config FILE is required\n\n%s", usage);
        return 2;
    }

    auto loaded = sqltap::config::load_file(config_path);
    int status = report(loaded);
    if (check_only) {
        if (status == 0) {
            // The files it names (TLS, auth_file) may live on another machine than
            // the one checking, so trouble with them is a warning here and an
            // error at startup.
            try {
                sqltap::proxy::runtime::build(loaded.values);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: warning: %s\n", config_path.c_str(), e.what());
            }
            std::printf("%s: configuration OK\n", config_path.c_str());
        }
        return status;
    }
    if (status != 0) {
        std::fprintf(stderr, "sqltapd: not started: the configuration has errors\n");
        return 1;
    }
    // A client that disconnects mid-write must not kill the process.
    ::signal(SIGPIPE, SIG_IGN);
    if (!sync_name.empty()) return run_sync(loaded.values, sync_name);
    try {
        if (!loaded.values.proxy.enabled) return replay_only(loaded.values);
        auto capture = start_capture(loaded.values);
        std::unique_ptr<sqltap::capture::change_log> replay_log;  // when capture is off
        sqltap::capture::change_log* log = capture ? &capture->log() : nullptr;
        if (!log && !loaded.values.replay.subscribers.empty()) {
            replay_log = open_log_for_replay(loaded.values);
            log = replay_log.get();
        }
        auto replay = log ? start_replay(loaded.values, *log) : nullptr;
        sqltap::proxy::server srv(loaded.values);
        sqltap::admin::sources src;
        src.proxy = srv.shared();
        src.capture = capture;
        src.log = log;
        src.replay = replay.get();
        src.startup_settings = loaded.values;
        src.reload = [&srv] { return srv.reload(); };
        // The console lives in shared_state: it holds that weakly (no cycle).
        auto console_src = src;
        console_src.proxy.reset();
        srv.shared()->console = [console_src, weak = std::weak_ptr(srv.shared())](const std::string& sql) {
            auto here = console_src;
            here.proxy = weak.lock();
            return sqltap::admin::answer(here, sql);
        };
        std::unique_ptr<sqltap::admin::http_server> http;
        if (!loaded.values.admin.listen.empty())
            http = std::make_unique<sqltap::admin::http_server>(loaded.values.admin.listen.front(), src);
        if (capture) {
            srv.shared()->filter_factory = [capture](const sqltap::proxy::session_info& s)
                -> std::unique_ptr<sqltap::proxy::traffic_filter> {
                return std::make_unique<sqltap::capture::session_capture>(
                    capture, s.executor,
                    sqltap::capture::session_context{s.database, s.user, s.application_name});
            };
        }
        sqltap::log::info("sqltapd ", SQLTAP_VERSION, " starting; publisher ", loaded.values.publisher.host, ":",
                          loaded.values.publisher.port, "; capture ",
                          capture ? "on, log " + loaded.values.capture.log_dir +
                                        (loaded.values.capture.strict ? " (strict)" : " (async)")
                                  : std::string("off"));
        raise_fd_limit(loaded.values.proxy.max_client_connections);
        int status = srv.run();
        return status;
    } catch (const std::exception& e) {
        sqltap::log::error("sqltapd cannot start: ", e.what());
        return 1;
    }
}
