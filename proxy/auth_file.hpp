#pragma once
// Users sqltapd may authenticate itself, read from a file in pgbouncer's
// userlist format: one `"user" "secret"` pair per line, where the secret is a
// SCRAM secret as stored in pg_authid, or a plain password. md5 hashes are
// accepted and ignored (md5 authentication is relayed, never terminated).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/scram.hpp"

namespace sqltap::proxy {

struct auth_entry {
    scram::secret secret;                 // to check the client's proof
    std::optional<std::string> password;  // when the file holds a plain password
};

class auth_file {
public:
    // Throws std::runtime_error naming the file and line of a malformed entry.
    static std::shared_ptr<const auth_file> load(const std::string& path);
    static std::shared_ptr<const auth_file> parse(const std::string& text, const std::string& name);

    const auth_entry* find(const std::string& user) const;
    std::size_t size() const noexcept { return users_.size(); }

private:
    std::map<std::string, auth_entry> users_;
};

}  // namespace sqltap::proxy
