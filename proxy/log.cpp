#include "proxy/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace sqltap::log {
namespace {
std::atomic<level> g_level{level::info};

const char* name(level l) {
    switch (l) {
        case level::debug: return "DEBUG";
        case level::info: return "INFO";
        case level::warning: return "WARNING";
        case level::error: return "ERROR";
    }
    return "?";
}
}  // namespace

void set_level(level l) noexcept { g_level.store(l, std::memory_order_relaxed); }
level current_level() noexcept { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view s, level& out) noexcept {
    if (s == "debug") out = level::debug;
    else if (s == "info") out = level::info;
    else if (s == "warning") out = level::warning;
    else if (s == "error") out = level::error;
    else return false;
    return true;
}

void write(level l, std::string_view message) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
    std::string line;
    line.reserve(message.size() + 64);
    line.append(stamp).append(" [").append(std::to_string(::getpid())).append("] ");
    line.append(name(l)).append(": ").append(message).push_back('\n');
    // One write(2) per line: atomic for pipes and files opened with O_APPEND.
    ssize_t off = 0;
    while (off < static_cast<ssize_t>(line.size())) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n <= 0) break;
        off += n;
    }
}

}  // namespace sqltap::log
