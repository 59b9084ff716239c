// Test helper: prints how capture rewrites SQL, with every table it writes
// looked up in the publisher's catalog (search_path public).
//   rewrite_probe CONNINFO DATABASE SQL
// Output: the rewritten SQL on one line, then "added=N" per rewritten
// statement; or "unsupported: …"; exit 1 on errors.
#include <cstdio>
#include <map>
#include <memory>

#include "capture/catalog.hpp"
#include "capture/rewriter.hpp"

using namespace sqltap::capture;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: rewrite_probe CONNINFO DATABASE SQL\n");
        return 2;
    }
    try {
        admin_connection c(argv[1], argv[2]);
        std::string sql = argv[3];
        auto a = analyze(sql);
        if (!a.ok) {
            std::printf("error: %s\n", a.error.c_str());
            return 1;
        }
        std::map<std::string, std::unique_ptr<table_info>> tables;
        auto out = rewrite(sql, a, [&](const statement& s) -> const table_info* {
            const auto& t = s.targets.front();
            auto key = t.schema + "." + t.name;
            if (!tables.count(key)) {
                auto info = load_table(c, t, {"public"});
                tables[key] = info ? std::make_unique<table_info>(*info) : nullptr;
            }
            return tables[key].get();
        });
        if (!out.unsupported.empty()) {
            std::printf("unsupported: %s\n", out.unsupported.c_str());
            return 0;
        }
        std::printf("%s\n", out.sql.c_str());
        for (const auto& p : out.plans)
            if (p) std::printf("added=%zu\n", p->added);
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    return 0;
}
