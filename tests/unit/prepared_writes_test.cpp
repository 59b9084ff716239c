#include <boost/test/unit_test.hpp>

#include "capture/prepared_writes.hpp"
#include "capture_fixtures.hpp"

using namespace sqltap::capture;
using sqltap::capture::testing::table_t;

namespace {

// The literals analyze() lets a prepared statement take as parameters, as text.
std::vector<std::string> literals(const std::string& sql) {
    auto a = analyze(sql);
    BOOST_REQUIRE(a.ok);
    BOOST_REQUIRE(a.statements.size() == 1u);
    std::vector<std::string> out;
    for (auto at : a.statements[0].value_literals) {
        auto lit = number_literal_at(sql, a.statements[0].location + at);
        BOOST_REQUIRE(lit.has_value());
        out.push_back(lit->value);
    }
    return out;
}

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(prepared_writes_suite)

BOOST_AUTO_TEST_CASE(number_literals_are_typed_as_the_parser_types_them) {
    struct c {
        const char* text;
        const char* value;
        const char* type;
        std::size_t length;
    };
    for (auto x : std::vector<c>{{"5", "5", "integer", 1},
                                 {"-5 ", "-5", "integer", 2},
                                 {"- 5", "-5", "integer", 3},
                                 {"2147483647", "2147483647", "integer", 10},
                                 {"2147483648", "2147483648", "bigint", 10},
                                 {"-2147483648", "-2147483648", "integer", 11},  // make_const: fits int32
                                 {"-2147483649", "-2147483649", "bigint", 11},
                                 {"9223372036854775807", "9223372036854775807", "bigint", 19},
                                 {"9223372036854775808", "9223372036854775808", "numeric", 19},
                                 {"-9223372036854775808", "-9223372036854775808", "bigint", 20},
                                 {"99999999999999999999999", "99999999999999999999999", "numeric", 23},
                                 {"1.50)", "1.50", "numeric", 4},
                                 {".5", ".5", "numeric", 2},
                                 {"5.", "5.", "numeric", 2},
                                 {"1e3,", "1e3", "numeric", 3},
                                 {"1E-3", "1E-3", "numeric", 4}}) {
        auto lit = number_literal_at(x.text, 0);
        BOOST_REQUIRE_MESSAGE(lit.has_value(), x.text);
        BOOST_TEST(lit->value == x.value, x.text);
        BOOST_TEST(lit->type == x.type, x.text);
        BOOST_TEST(lit->length == x.length, x.text);
    }
    for (const char* no : {"a", "-(5)", "- /* c */ 5", "5a", "1e", "'5'", "5.5.5", "--5", "-"})
        BOOST_TEST(!number_literal_at(no, 0).has_value(), no);
}

BOOST_AUTO_TEST_CASE(only_literals_a_parameter_can_stand_for) {
    BOOST_TEST((literals("UPDATE t SET n = n + -12 WHERE id = 345") == strings{"-12", "345"}));
    BOOST_TEST((literals("INSERT INTO t VALUES (1, 2.5, 'x', 3000000000, NULL, true)") ==
                strings{"1", "2.5", "3000000000"}));
    BOOST_TEST((literals("DELETE FROM t WHERE id IN (1, 2) AND a = 'x' RETURNING id + 0") ==
                strings{"1", "2", "0"}));
    // Positions in ORDER BY / GROUP BY / DISTINCT ON / windows, type
    // modifiers and ON CONFLICT (its index inference) stay as written.
    BOOST_TEST((literals("INSERT INTO t SELECT DISTINCT ON (1) id, 7 FROM u GROUP BY 1, 2 ORDER BY 1 LIMIT 3") ==
                strings{"7", "3"}));
    BOOST_TEST((literals("UPDATE t SET c = 5::numeric(10, 2), d = rank() OVER (ORDER BY 1) WHERE id = 8") ==
                strings{"5", "8"}));
    BOOST_TEST((literals("INSERT INTO t VALUES (4) ON CONFLICT (id) WHERE id > 0 DO UPDATE SET n = 9") ==
                strings{"4"}));
    BOOST_TEST((literals("UPDATE t SET n = (SELECT max(x) FROM u GROUP BY y ORDER BY 1 LIMIT 1) WHERE id = 2") ==
                strings{"1", "2"}));  // (LIMIT 1, then id = 2)
    // A minus the text does not hold before the number (-(5) folds too) is left.
    BOOST_TEST((literals("UPDATE t SET n = -(5), m = - 6 WHERE id = 1") == strings{"-6", "1"}));
    // Reads and other statements have none.
    auto a = analyze("SELECT 1 FROM t WHERE id = 2");
    BOOST_TEST(a.statements[0].value_literals.empty());
}

BOOST_AUTO_TEST_CASE(literals_move_with_the_shape) {
    analysis_cache cache;
    std::string first = "UPDATE t SET n = n + -1 WHERE id = 2";
    std::string second = "UPDATE t SET n = n + -12345 WHERE id = 678";
    cache.get(first);
    auto a = cache.get(second);
    BOOST_TEST(cache.shape_hits() == 1u);
    std::vector<std::string> got;
    for (auto at : a->statements[0].value_literals) got.push_back(number_literal_at(second, at)->value);
    BOOST_TEST((got == strings{"-12345", "678"}));
}

BOOST_AUTO_TEST_CASE(prepared_form_of_a_rewritten_update) {
    auto t = table_t();
    t.before_images = true;
    t.hidden_writers = false;
    t.columns.push_back({"n", 23, "integer", false});
    std::string sql = "UPDATE t SET n = n + -1234 WHERE id = 5 -- c";
    auto a = analyze(sql);
    auto r = rewrite(sql, a, [&](const statement&) { return &t; }, column_form::native);
    auto f = make_prepared_form(sql, a.statements[0], r);
    BOOST_REQUIRE(f.has_value());
    BOOST_TEST(f->key.find("ELSE n + $1 END  WHERE id = $2 RETURNING") != std::string::npos, f->key);
    BOOST_TEST(f->key.find("-- c") == std::string::npos, f->key);  // ends at the last token
    BOOST_TEST(f->body.find("ELSE n + $1    END  WHERE id = $2 RETURNING") != std::string::npos, f->body);
    BOOST_TEST(f->types == "integer, integer");
    BOOST_TEST(f->values == "-1234, 5");
    // "$2" is a byte longer than "5": an error after it points one byte back.
    BOOST_REQUIRE(f->growth.size() == 1u);
    BOOST_TEST(f->growth[0].first == sql.find("5 --"));
    BOOST_TEST(f->growth[0].second == 1u);
    BOOST_TEST(f->key.size() == f->body.size() - 3);
    BOOST_TEST(analyze("PREPARE p(" + f->types + ") AS " + f->body).ok);
    // The statement's end taken from its shape's tokens: the same.
    auto shape = shape_of(sql);
    BOOST_REQUIRE(shape.has_value());
    auto g = make_prepared_form(sql, a.statements[0], r, &*shape);
    BOOST_REQUIRE(g.has_value());
    BOOST_TEST(g->key == f->key);
    BOOST_TEST(g->body == f->body);
    std::string semi = "UPDATE t SET n = n + 1 WHERE id = 5; -- c";
    auto as = analyze(semi);
    auto rs = rewrite(semi, as, [&](const statement&) { return &t; }, column_form::native);
    auto ss = shape_of(semi);
    BOOST_TEST(make_prepared_form(semi, as.statements[0], rs, &*ss)->key == make_prepared_form(semi, as.statements[0], rs)->key);
    // Without literals: prepared as it is.
    auto a2 = analyze("DELETE FROM t WHERE a = 'x'");
    auto r2 = rewrite("DELETE FROM t WHERE a = 'x'", a2, [&](const statement&) { return &t; }, column_form::native);
    auto f2 = make_prepared_form("DELETE FROM t WHERE a = 'x'", a2.statements[0], r2);
    BOOST_REQUIRE(f2.has_value());
    BOOST_TEST(f2->types.empty());
    BOOST_TEST(f2->key == r2.sql);
}

BOOST_AUTO_TEST_CASE(prepared_the_second_time_and_forgotten_on_request) {
    prepared_writes w(2);
    BOOST_TEST(!w.get("a", nullptr).has_value());  // the first time: as text
    auto u = w.get("a", nullptr);
    BOOST_REQUIRE(u.has_value());
    BOOST_TEST(u->prepare);
    BOOST_TEST(u->name == "sqltap_w1");
    auto again = w.get("a", nullptr);  // its PREPARE did not complete: again
    BOOST_TEST(again->prepare);
    BOOST_TEST(again->name == "sqltap_w1");
    w.prepared("a");
    BOOST_TEST(!w.get("a", nullptr)->prepare);
    // Full: the least recently used one goes, deallocated when it was prepared.
    w.get("b", nullptr);
    auto b = w.get("b", nullptr);
    BOOST_TEST(b->name == "sqltap_w2");
    BOOST_TEST(!b->deallocate.has_value());
    w.get("a", nullptr);  // a is the most recent now
    w.get("c", nullptr);
    auto c = w.get("c", nullptr);
    BOOST_TEST(!c->deallocate.has_value());  // b was never prepared
    w.prepared("c");
    w.get("d", nullptr);
    auto d = w.get("d", nullptr);
    BOOST_REQUIRE(d->deallocate.has_value());
    BOOST_TEST(*d->deallocate == "sqltap_w1");
    // Ready: only once its PREPARE completed.
    BOOST_TEST(w.ready("c") != nullptr);
    BOOST_TEST(*w.ready("c") == "sqltap_w3");
    BOOST_TEST(w.ready("d") == nullptr);
    // Forgotten: new names.
    w.forget();
    BOOST_TEST(w.ready("c") == nullptr);
    auto c2 = w.get("c", nullptr);
    BOOST_TEST(c2->prepare);
    BOOST_TEST(c2->name == "sqltap_w5");
    BOOST_TEST(!c2->deallocate.has_value());
}

BOOST_AUTO_TEST_CASE(texts_of_a_known_shape_match_its_pattern_when_only_parameters_differ) {
    auto t = table_t();
    t.columns.push_back({"n", 23, "integer", false});
    t.columns.push_back({"a", 25, "text", false});
    std::string sql = "UPDATE t SET n = n + - 12, a = 'x' WHERE id = 5; -- c";
    auto a = analyze(sql);
    auto r = rewrite(sql, a, [&](const statement&) { return &t; }, column_form::native);
    auto shape = shape_of(sql);
    BOOST_REQUIRE(shape.has_value());
    auto form = make_prepared_form(sql, a.statements[0], r, &*shape);
    BOOST_REQUIRE(form.has_value());
    auto p = make_write_pattern(sql, a.statements[0], *shape, *form);
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST((p->around == strings{"UPDATE t SET n = n + ", ", a = 'x' WHERE id = ", "; -- c"}));
    BOOST_TEST(p->types == "integer, integer");
    auto match = [&](const std::string& text) -> std::optional<std::string> {
        if (pattern_key(text) != pattern_key(sql)) return std::nullopt;  // (looked up by the key)
        return match_write_pattern(*p, text);
    };
    BOOST_TEST(pattern_key(sql) == "UPDATE t SET n = n + - , a = 'x' WHERE id = ; -- c");
    BOOST_TEST(match(sql).value_or("none") == "-12, 5");
    BOOST_TEST(match("UPDATE t SET n = n + - 7, a = 'x' WHERE id = 123456; -- c").value_or("none") == "-7, 123456");
    BOOST_TEST(match("UPDATE t SET n = n + - 0, a = 'x' WHERE id = 0; -- c").value_or("none") == "-0, 0");
    BOOST_TEST(!match("UPDATE t SET n = n + 7, a = 'x' WHERE id = 1; -- c").has_value());  // another key
    BOOST_TEST(!match("UPDATE t SET n = n + -7, a = 'x' WHERE id = 1; -- c").has_value());
    // Not the pattern's text: another string, other blanks or comments,
    // numbers of other types.
    for (const char* other : {"UPDATE t SET n = n + - 7, a = 'y' WHERE id = 1; -- c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1; -- d",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1; -- c\n",
                              "UPDATE t SET n = n + - 7, a = 'x'  WHERE id = 1; -- c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1;",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1 ; -- c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 3000000000; -- c",
                              "UPDATE t SET n = n + - 7.5, a = 'x' WHERE id = 1; -- c",
                              "UPDATE t SET n = n + - 1e3, a = 'x' WHERE id = 1; -- c"})
        BOOST_TEST(!match(other).has_value(), other);
    // The same key, digits elsewhere: in a string, a comment, a name.
    for (const char* other : {"UPDATE t SET n = n + - 7, a = 'x1' WHERE id = 1; -- c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1; -- c1",
                              "UPDATE t1 SET n = n + - 7, a = 'x' WHERE id = 1; -- c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1; -- 2c",
                              "UPDATE t SET n = n + - 7, a = 'x' WHERE id = 1;2 -- c"}) {
        BOOST_TEST(pattern_key(other) == pattern_key(sql), other);
        BOOST_TEST(!match_write_pattern(*p, other).has_value(), other);
    }
    // A literal that is not a token of its own has no pattern.
    std::string merged = "UPDATE t SET n = n +-12 WHERE id = 5";
    auto am = analyze(merged);
    auto rm = rewrite(merged, am, [&](const statement&) { return &t; }, column_form::native);
    auto sm = shape_of(merged);
    auto fm = make_prepared_form(merged, am.statements[0], rm, &*sm);
    if (fm) BOOST_TEST(!make_write_pattern(merged, am.statements[0], *sm, *fm).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
