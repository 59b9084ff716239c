// sqltapd: the PostgreSQL wire-protocol proxy with change capture.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "proxy/config.hpp"
#include "proxy/log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/server.hpp"
#include "sqltap_version.hpp"

namespace {

const char* usage =
    "Usage: sqltapd --config FILE\n"
    "       sqltapd --check-config FILE\n"
    "\n"
    "A PostgreSQL wire-protocol proxy. Point applications at the addresses in\n"
    "[proxy] listen; sqltapd forwards every session to the [publisher].\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        run with this configuration file\n"
    "      --check-config FILE  report every problem in FILE (file:line: message)\n"
    "                           and exit non-zero if there is any error\n"
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

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
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
    try {
        sqltap::proxy::server srv(loaded.values);
        sqltap::log::info("sqltapd ", SQLTAP_VERSION, " starting; publisher ",
                          loaded.values.publisher.host, ":", loaded.values.publisher.port);
        return srv.run();
    } catch (const std::exception& e) {
        sqltap::log::error("sqltapd cannot start: ", e.what());
        return 1;
    }
}
