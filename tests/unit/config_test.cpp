#include <boost/test/unit_test.hpp>

#include "proxy/config.hpp"

using namespace sqltap::config;

namespace {
// Capture needs a log_dir; these tests are about other keys.
load_result load(std::string text) { return load_text(text + "[capture]\nenabled = off\n"); }
}  // namespace

BOOST_AUTO_TEST_SUITE(config_suite)

BOOST_AUTO_TEST_CASE(defaults_and_values) {
    auto r = load(
        "[proxy]\n"
        "listen = 127.0.0.1:7000, [::1]:7001   ; two addresses\n"
        "login_timeout = 5s\n"
        "max_message_size = 64MB\n"
        "[publisher]\n"
        "host = db.example\n"
        "port = 5433\n"
        "sslmode = verify-full\n");
    BOOST_TEST(r.ok());
    BOOST_TEST(r.values.proxy.listen.size() == 2u);
    BOOST_TEST(r.values.proxy.listen[1].host == "::1");
    BOOST_TEST(r.values.proxy.listen[1].port == 7001);
    BOOST_TEST(r.values.proxy.login_timeout.count() == 5000);
    BOOST_TEST(r.values.proxy.max_message_size == 64u * 1024 * 1024);
    BOOST_TEST(r.values.proxy.shutdown_timeout.count() == 30000);
    BOOST_TEST(r.values.publisher.host == "db.example");
    BOOST_TEST(r.values.publisher.port == 5433);
    BOOST_TEST((r.values.publisher.ssl == sslmode::verify_full));
}

BOOST_AUTO_TEST_CASE(unknown_key_names_line_and_suggests) {
    auto r = load("[proxy]\nlisten = 127.0.0.1:1\nlogin_timout = 5s\n");
    BOOST_TEST(!r.ok());
    BOOST_REQUIRE(r.problems.size() == 1u);
    BOOST_TEST(r.problems[0].line == 3);
    BOOST_TEST(r.problems[0].message.find("did you mean 'login_timeout'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_values_are_reported_with_their_line) {
    auto r = load("[publisher]\n\nsslmode = sometimes\nport = abc\n[proxy]\nlisten = nowhere\n");
    BOOST_TEST(!r.ok());
    std::vector<int> lines;
    for (auto& p : r.problems) lines.push_back(p.line);
    BOOST_TEST((std::find(lines.begin(), lines.end(), 3) != lines.end()));
    BOOST_TEST((std::find(lines.begin(), lines.end(), 4) != lines.end()));
    BOOST_TEST((std::find(lines.begin(), lines.end(), 6) != lines.end()));
}

BOOST_AUTO_TEST_CASE(unknown_section_and_stray_text) {
    auto r = load("[proxi]\nlisten = 1:1\n[proxy]\nthis line has no equals\n");
    BOOST_TEST(r.problems.size() == 2u);
    BOOST_TEST(r.problems[0].line == 1);
    BOOST_TEST(r.problems[1].line == 4);
}

BOOST_AUTO_TEST_CASE(tls_pairs) {
    auto r = load("[proxy]\ntls_cert_file = a.pem\n");
    BOOST_TEST(!r.ok());
    auto r2 = load("[proxy]\ntls_pfx_file = a.pfx\ntls_cert_file = a.pem\ntls_key_file = k.pem\n");
    BOOST_TEST(!r2.ok());
}

BOOST_AUTO_TEST_CASE(value_parsers) {
    std::chrono::milliseconds d;
    BOOST_TEST(parse_duration("250ms", d));
    BOOST_TEST(d.count() == 250);
    BOOST_TEST(parse_duration("2min", d));
    BOOST_TEST(d.count() == 120000);
    BOOST_TEST(parse_duration("10", d));
    BOOST_TEST(d.count() == 10000);
    BOOST_TEST(!parse_duration("soon", d));
    std::size_t n;
    BOOST_TEST(parse_size("1GB", n));
    BOOST_TEST(n == std::size_t{1} << 30);
    BOOST_TEST(!parse_size("lots", n));
    bool b;
    BOOST_TEST(parse_bool("on", b));
    BOOST_TEST(b);
    BOOST_TEST(!parse_bool("maybe", b));
}

BOOST_AUTO_TEST_CASE(every_key_has_a_valid_default_and_doc) {
    std::string text;
    for (const auto& k : schema()) {
        BOOST_TEST(!k.doc.empty(), k.key);
    }
    auto r = load("");
    BOOST_TEST(r.ok());
}

BOOST_AUTO_TEST_CASE(capture_keys) {
    auto off = load_text("[capture]\nenabled = off\n");
    BOOST_TEST(off.ok());
    BOOST_TEST(!off.values.capture.enabled);

    auto missing = load_text("[proxy]\nlisten = 127.0.0.1:1\n");
    BOOST_TEST(!missing.ok());
    BOOST_TEST(missing.problems[0].message.find("log_dir is required") != std::string::npos);

    auto on = load_text(
        "[capture]\nlog_dir = /tmp/x\ndurability = async\nuncaptured = log\n"
        "tables = public.*, sales.order*\nexclude = public.tmp_*\nlog_map_size = 1GB\n");
    BOOST_TEST(on.ok());
    BOOST_TEST(on.values.capture.enabled);
    BOOST_TEST(!on.values.capture.strict);
    BOOST_TEST(!on.values.capture.reject_uncaptured);
    BOOST_TEST(on.values.capture.tables == "public.*, sales.order*");
    BOOST_TEST(on.values.capture.log_map_size == std::size_t{1} << 30);

    auto bad = load_text("[capture]\nlog_dir = /tmp/x\ndurability = sometimes\ntables = a.b.c\n");
    BOOST_TEST(!bad.ok());
    BOOST_REQUIRE(bad.problems.size() == 2u);
    BOOST_TEST(bad.problems[0].line == 3);
    BOOST_TEST(bad.problems[1].line == 4);
}

BOOST_AUTO_TEST_CASE(table_sections) {
    auto r = load(
        "[table public.Orders]\n"
        "filter = \"region = 'EU' ; not a comment\"  ; a comment\n"
        "columns = region, total\n"
        "[table sales.items]\n"
        "columns = a\n");
    BOOST_TEST(r.ok());
    const auto& rules = r.values.capture.table_rules;
    BOOST_REQUIRE(rules.size() == 2u);
    BOOST_TEST(rules[0].schema == "public");
    BOOST_TEST(rules[0].table == "Orders");  // catalog names keep their case
    BOOST_TEST(rules[0].filter == "region = 'EU' ; not a comment");
    BOOST_TEST((rules[0].columns == std::vector<std::string>{"region", "total"}));
    BOOST_TEST(rules[1].filter.empty());

    auto bad = load(
        "[table orders]\n"
        "filter = true\n"
        "[table public.t]\n"
        "fliter = a > 1\n"
        "columns = a, b c\n"
        "[table public.t]\n");
    BOOST_TEST(!bad.ok());
    BOOST_REQUIRE(bad.problems.size() == 4u);
    BOOST_TEST(bad.problems[0].line == 1);
    BOOST_TEST(bad.problems[0].message.find("[table schema.table]") != std::string::npos);
    BOOST_TEST(bad.problems[1].line == 4);
    BOOST_TEST(bad.problems[1].message.find("did you mean 'filter'") != std::string::npos);
    BOOST_TEST(bad.problems[2].line == 5);
    BOOST_TEST(bad.problems[3].line == 6);
    BOOST_TEST(bad.problems[3].message.find("appears twice (first on line 3)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
