#pragma once
// One line per event on stderr, written with a single call so that lines from
// several threads never interleave. Never pass a password or row data here.
#include <atomic>
#include <sstream>
#include <string>
#include <string_view>

namespace sqltap::log {

enum class level { debug = 0, info = 1, warning = 2, error = 3 };

void set_level(level l) noexcept;
level current_level() noexcept;
bool parse_level(std::string_view s, level& out) noexcept;
void write(level l, std::string_view message);

template <class... Args>
std::string str(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

template <class... Args>
void debug(const Args&... args) {
    if (current_level() <= level::debug) write(level::debug, str(args...));
}
template <class... Args>
void info(const Args&... args) {
    if (current_level() <= level::info) write(level::info, str(args...));
}
template <class... Args>
void warning(const Args&... args) {
    if (current_level() <= level::warning) write(level::warning, str(args...));
}
template <class... Args>
void error(const Args&... args) {
    write(level::error, str(args...));
}

}  // namespace sqltap::log
