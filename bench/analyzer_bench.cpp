// Costs of the capture analysis path, per statement: parsing (libpg_query),
// a cache hit, the read-only pre-check, and the rewrite.
//   build/bin/analyzer_bench [iterations]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "capture/analyzer.hpp"
#include "capture/rewriter.hpp"

using namespace sqltap::capture;
using clock_type = std::chrono::steady_clock;

template <class F>
double per_op_us(int n, F f) {
    auto start = clock_type::now();
    for (int i = 0; i < n; ++i) f(i);
    return std::chrono::duration<double, std::micro>(clock_type::now() - start).count() / n;
}

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 20000;
    const std::string update = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2";
    const std::string select = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
    const std::string insert =
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)";
    table_info hist;
    hist.schema = "public";
    hist.name = "pgbench_history";
    for (const char* c : {"tid", "bid", "aid", "delta", "mtime", "filler"}) hist.columns.push_back({c, 23, "integer", false});
    for (std::uint32_t i = 0; i < 6; ++i) hist.key_columns.push_back(i);

    analysis_cache cache;
    volatile std::size_t sink = 0;
    double parse_update = per_op_us(n, [&](int) { sink = sink + analyze(update).statements.size(); });
    double parse_insert = per_op_us(n, [&](int) { sink = sink + analyze(insert).statements.size(); });
    cache.get(update);
    double hit = per_op_us(n, [&](int) { sink = sink + cache.get(update)->statements.size(); });
    double precheck = per_op_us(n, [&](int) { sink = sink + certainly_read_only(select); });
    auto a = analyze(insert);
    double rw = per_op_us(n, [&](int) { sink = sink + rewrite(insert, a, [&](const statement&) { return &hist; }).sql.size(); });

    std::printf("%-44s %10s\n", "operation (typical pgbench statements)", "us/op");
    std::printf("%-44s %10.2f\n", "analyze UPDATE (parse, cold)", parse_update);
    std::printf("%-44s %10.2f\n", "analyze INSERT (parse, cold)", parse_insert);
    std::printf("%-44s %10.3f\n", "analysis cache hit", hit);
    std::printf("%-44s %10.3f\n", "certainly_read_only(SELECT)", precheck);
    std::printf("%-44s %10.2f\n", "rewrite INSERT (6 columns)", rw);
    return sink == 42 ? 1 : 0;
}
