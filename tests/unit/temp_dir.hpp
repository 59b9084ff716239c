#pragma once
// A directory under /tmp for one test, removed with everything in it.
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace sqltap::test {

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char tmpl[] = "/tmp/sqltap-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string str() const { return path.string(); }
    std::string str(const char* sub) const { return (path / sub).string(); }
};

}  // namespace sqltap::test
