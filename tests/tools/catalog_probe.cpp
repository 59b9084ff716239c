// Test helper: prints what the catalog reader makes of a table.
//   catalog_probe CONNINFO DATABASE SEARCH_PATH [SCHEMA.]TABLE
// The client's user (for "$user" in the search path) is "alice".
// Output: one line "schema.table key=<source> keys=a,b cols=name:type[:generated],…",
// "missing", or "error: …" (exit 1).
#include <cstdio>
#include <string>

#include "capture/catalog.hpp"

using namespace sqltap::capture;

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: catalog_probe CONNINFO DATABASE SEARCH_PATH [SCHEMA.]TABLE\n");
        return 2;
    }
    try {
        admin_connection c(argv[1], argv[2]);
        std::string name = argv[4];
        table_name t;
        auto dot = name.find('.');
        if (dot == std::string::npos) t.name = name;
        else t = {name.substr(0, dot), name.substr(dot + 1)};
        auto info = load_table(c, t, parse_search_path(argv[3], "alice"));
        if (!info) {
            std::printf("missing\n");
            return 0;
        }
        std::string keys, cols;
        for (auto k : info->key_columns) keys += (keys.empty() ? "" : ",") + info->columns[k].name;
        for (const auto& col : info->columns)
            cols += (cols.empty() ? "" : ",") + col.name + ":" + col.type + (col.generated ? ":generated" : "");
        std::printf("%s.%s key=%s keys=%s cols=%s\n", info->schema.c_str(), info->name.c_str(),
                    to_string(info->key), keys.c_str(), cols.c_str());
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    return 0;
}
