#pragma once
// Shared fixtures of the capture unit tests.
#include "capture/catalog.hpp"

namespace sqltap::capture::testing {

// public.t (id integer PRIMARY KEY, a text)
inline table_info table_t() {
    table_info t;
    t.schema = "public";
    t.name = "t";
    t.columns = {{"id", 23, "integer", false}, {"a", 25, "text", false}};
    t.key_columns = {0};
    return t;
}

}  // namespace sqltap::capture::testing
