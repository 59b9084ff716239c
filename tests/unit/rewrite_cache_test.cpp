#include <boost/test/unit_test.hpp>

#include <memory>

#include "capture/rewrite_cache.hpp"
#include "capture_fixtures.hpp"

using namespace sqltap::capture;
using sqltap::capture::testing::table_t;

namespace {

struct fixture {
    std::shared_ptr<const table_info> t;
    rewrite_cache cache;
    fixture(bool before_images = false) {
        auto x = table_t();
        x.before_images = before_images;
        t = std::make_shared<const table_info>(std::move(x));
    }
    rewrite_outcome via_cache(const std::string& sql, column_form form = column_form::native) {
        auto a = analyze(sql);
        BOOST_REQUIRE(a.ok);
        auto shape = shape_of(sql);
        return cache.get(sql, a, shape ? &*shape : nullptr,
                         [&](const statement& s) { return s.targets[0].name == t->name ? t : nullptr; }, form);
    }
    rewrite_outcome direct(const std::string& sql, column_form form = column_form::native) {
        auto a = analyze(sql);
        BOOST_REQUIRE(a.ok);
        return rewrite(sql, a, [&](const statement& s) { return s.targets[0].name == t->name ? t.get() : nullptr; },
                       form);
    }
};

// The same tokens (blanks may sit elsewhere) and the same plans.
void same(const rewrite_outcome& x, const rewrite_outcome& y) {
    auto sx = shape_of(x.sql), sy = shape_of(y.sql);
    BOOST_TEST(sx.has_value() == sy.has_value());
    if (sx && sy) BOOST_TEST(sx->key == sy->key, x.sql << " vs " << y.sql);
    else BOOST_TEST(x.sql == y.sql);
    BOOST_TEST(analyze(x.sql).ok, x.sql);
    BOOST_TEST(x.insertions.size() == y.insertions.size());
    BOOST_TEST(x.unsupported == y.unsupported);
    BOOST_REQUIRE(x.plans.size() == y.plans.size());
    for (std::size_t i = 0; i < x.plans.size(); ++i) {
        BOOST_TEST(x.plans[i].has_value() == y.plans[i].has_value());
        if (x.plans[i] && y.plans[i]) {
            BOOST_TEST(x.plans[i]->added == y.plans[i]->added);
            BOOST_TEST(x.plans[i]->old_image == y.plans[i]->old_image);
            BOOST_TEST(x.plans[i]->table == y.plans[i]->table);
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rewrite_cache_suite)

// A text of a shape seen before gets the same edits at the same tokens:
// exactly what rewrite() makes of it, whatever its literals, blanks and comments.
BOOST_AUTO_TEST_CASE(texts_of_one_shape_share_a_rewrite) {
    fixture f(true);
    const char* texts[] = {
        "UPDATE t SET a = upper(a) || 'x', id = id WHERE id = 1",
        "UPDATE t  SET a = upper(a) || 'it''s -- not a comment' ,id = id WHERE id = 123456 -- c",
        "/* lead */ UPDATE t SET a=upper(a)||'',id=id WHERE id=7",
        "UPDATE t SET a = upper(a) || 'y'\n, id = id WHERE id = 2.5e3",
    };
    for (const char* sql : texts) same(f.via_cache(sql), f.direct(sql));
    BOOST_TEST(f.cache.misses() == 1u);
    BOOST_TEST(f.cache.hits() == 3u);
    // The value that carries the before image touches the next word.
    fixture g(true);
    for (const char* sql : {"UPDATE t SET a = upper('q') WHERE id = 1", "UPDATE t SET a = upper('q')WHERE id = 1"})
        same(g.via_cache(sql), g.direct(sql));
    BOOST_TEST(g.cache.hits() == 1u);
    BOOST_TEST(analyze(g.via_cache("UPDATE t SET a = upper('q')WHERE id = 1").sql).ok);
    // INSERT, DELETE, a client's RETURNING, text form.
    fixture h;
    for (const char* sql : {"INSERT INTO t (id, a) VALUES (1, 'a') RETURNING id", "INSERT INTO t (id, a) VALUES (2, 'bb')  RETURNING id",
                            "DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id = 99 -- x"}) {
        same(h.via_cache(sql), h.direct(sql));
        same(h.via_cache(sql, column_form::text), h.direct(sql, column_form::text));
    }
    BOOST_TEST(h.cache.hits() == 4u);
}

// Long texts are not kept (an entry holds the text's shape).
BOOST_AUTO_TEST_CASE(long_texts_are_not_cached) {
    fixture f;
    std::string values = "(1, 'a')";
    while (values.size() <= rewrite_cache::max_text) values += ", (1, 'a')";
    for (int i = 0; i < 2; ++i) f.via_cache("INSERT INTO t (id, a) VALUES " + values);
    BOOST_TEST(f.cache.hits() == 0u);
}

// Another catalog entry for the table (a new generation, other rules): rewritten afresh.
BOOST_AUTO_TEST_CASE(another_catalog_entry_rewrites_afresh) {
    fixture f;
    auto r1 = f.via_cache("INSERT INTO t (id, a) VALUES (1, 'a')");
    auto x = *f.t;
    x.columns.push_back({"b", 23, "integer", false});
    f.t = std::make_shared<const table_info>(std::move(x));
    auto r2 = f.via_cache("INSERT INTO t (id, a) VALUES (2, 'b')");
    BOOST_TEST(f.cache.misses() == 2u);
    BOOST_TEST(r2.sql.find("\"a\", \"b\"") != std::string::npos, r2.sql);
    BOOST_TEST(r2.plans[0]->table == f.t.get());
    same(r2, f.direct("INSERT INTO t (id, a) VALUES (2, 'b')"));
}

// No shape (a dollar quote, a parameter): rewritten every time, nothing kept.
BOOST_AUTO_TEST_CASE(texts_without_a_shape_are_not_cached) {
    fixture f;
    for (int i = 0; i < 2; ++i) same(f.via_cache("INSERT INTO t (id, a) VALUES (1, $$a$$)"), f.direct("INSERT INTO t (id, a) VALUES (1, $$a$$)"));
    BOOST_TEST(f.cache.hits() == 0u);
}

// What the parser makes of a literal can differ between texts of one shape
// (EXPLAIN (ANALYZE 0) and (ANALYZE 1)): such texts are rewritten afresh.
BOOST_AUTO_TEST_CASE(statements_analysed_otherwise_rewrite_afresh) {
    fixture f;
    auto a = f.via_cache("EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id = 1");
    BOOST_TEST(a.unsupported.empty());
    auto b = f.via_cache("EXPLAIN (ANALYZE 1) DELETE FROM t WHERE id = 1");
    BOOST_TEST(!b.unsupported.empty());
    BOOST_TEST(f.cache.hits() == 0u);
    // Several statements in one message.
    for (const char* sql : {"SELECT 1; COPY t FROM STDIN", "SELECT 2;   COPY t FROM STDIN",
                            "BEGIN; INSERT INTO t (id, a) VALUES (1, 'x'); DELETE FROM t WHERE id = 2; COMMIT",
                            "BEGIN;INSERT INTO t (id, a) VALUES (3, 'y') ;DELETE FROM t WHERE id = 4;COMMIT"})
        same(f.via_cache(sql), f.direct(sql));
}

BOOST_AUTO_TEST_SUITE_END()
