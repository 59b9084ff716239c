#include "proxy/auth_file.hpp"

#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sqltap::proxy {
namespace {

// A double-quoted field where "" stands for one quote.
bool quoted(const std::string& line, std::size_t& pos, std::string& out) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos >= line.size() || line[pos] != '"') return false;
    ++pos;
    out.clear();
    while (pos < line.size()) {
        if (line[pos] == '"') {
            if (pos + 1 < line.size() && line[pos + 1] == '"') {
                out.push_back('"');
                pos += 2;
                continue;
            }
            ++pos;
            return true;
        }
        out.push_back(line[pos++]);
    }
    return false;
}

}  // namespace

std::shared_ptr<const auth_file> auth_file::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open auth_file " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    return parse(buf.str(), path);
}

std::shared_ptr<const auth_file> auth_file::parse(const std::string& text, const std::string& name) {
    auto f = std::make_shared<auth_file>();
    std::stringstream ss(text);
    std::string line;
    int line_no = 0;
    while (std::getline(ss, line)) {
        ++line_no;
        std::size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] != '"') continue;  // comments, blanks
        std::size_t pos = 0;
        std::string user, value;
        if (!quoted(line, pos, user) || !quoted(line, pos, value))
            throw std::runtime_error(name + ":" + std::to_string(line_no) +
                                     ": expected \"user\" \"secret\"");
        auth_entry e;
        if (value.rfind("SCRAM-SHA-256$", 0) == 0) {
            auto s = scram::parse_secret(value);
            if (!s)
                throw std::runtime_error(name + ":" + std::to_string(line_no) +
                                         ": malformed SCRAM secret for user " + user);
            e.secret = *s;
        } else if (value.size() == 35 && value.rfind("md5", 0) == 0) {
            continue;
        } else {
            unsigned char salt[16];
            RAND_bytes(salt, sizeof salt);
            e.secret = scram::make_secret(value, {reinterpret_cast<char*>(salt), sizeof salt}, 4096);
            e.password = value;
        }
        f->users_[user] = std::move(e);
    }
    return f;
}

const auth_entry* auth_file::find(const std::string& user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : &it->second;
}

}  // namespace sqltap::proxy
