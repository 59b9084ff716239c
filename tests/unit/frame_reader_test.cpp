#include <boost/test/unit_test.hpp>

#include <cstring>
#include <random>

#include "protocol/builders.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/startup.hpp"

using namespace sqltap::protocol;

namespace {

byte_buffer sample_stream() {
    byte_buffer b;
    build_query(b, "SELECT 1");
    build_parse(b, "s1", "SELECT $1::int", std::vector<std::uint32_t>{23});
    bind_msg bm;
    bm.statement = "s1";
    std::string v = "42";
    bm.parameters.push_back(as_bytes(v));
    build_bind(b, bm);
    build_execute(b, "");
    build_empty(b, 'S');
    return b;
}

struct seen {
    char tag;
    byte_buffer raw;
    bool operator==(const seen&) const = default;
};

std::vector<seen> feed(const byte_buffer& stream, std::size_t chunk) {
    frame_reader rd(1 << 20, 8);
    std::vector<seen> out;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        auto space = rd.prepare(chunk);
        std::size_t n = std::min({chunk, space.size(), stream.size() - pos});
        std::memcpy(space.data(), stream.data() + pos, n);
        rd.commit(n);
        pos += n;
        std::error_code ec;
        while (auto f = rd.next(ec)) out.push_back({f->tag, byte_buffer(f->raw.begin(), f->raw.end())});
        BOOST_REQUIRE(!ec);
    }
    BOOST_CHECK(rd.buffered().empty());
    return out;
}

void put_u32(byte_buffer& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::byte(v >> s));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(frame_reader_suite)

BOOST_AUTO_TEST_CASE(byte_at_a_time_equals_whole) {
    auto stream = sample_stream();
    auto whole = feed(stream, stream.size());
    BOOST_TEST(whole.size() == 5u);
    for (std::size_t chunk : {1, 2, 3, 5, 7, 64}) BOOST_TEST((feed(stream, chunk) == whole));
    BOOST_TEST(whole[0].tag == 'Q');
    BOOST_TEST(whole[4].tag == 'S');
}

BOOST_AUTO_TEST_CASE(length_below_four_is_an_error) {
    frame_reader rd;
    byte_buffer b{std::byte('Q')};
    put_u32(b, 3);
    auto s = rd.prepare(b.size());
    std::memcpy(s.data(), b.data(), b.size());
    rd.commit(b.size());
    std::error_code ec;
    BOOST_TEST(!rd.next(ec).has_value());
    BOOST_TEST((ec == errc::frame_too_short));
}

BOOST_AUTO_TEST_CASE(oversize_length_is_an_error_before_buffering) {
    frame_reader rd(1024);
    byte_buffer b{std::byte('Q')};
    put_u32(b, 1024 + 5);
    auto s = rd.prepare(b.size());
    std::memcpy(s.data(), b.data(), b.size());
    rd.commit(b.size());
    std::error_code ec;
    BOOST_TEST(!rd.peek_header(ec).has_value());
    BOOST_TEST((ec == errc::frame_too_large));
}

BOOST_AUTO_TEST_CASE(startup_limits) {
    for (std::uint32_t len : {4u, 7u, 10001u, 0xffffffffu}) {
        frame_reader rd;
        byte_buffer b;
        put_u32(b, len);
        put_u32(b, protocol_v3);
        auto s = rd.prepare(b.size());
        std::memcpy(s.data(), b.data(), b.size());
        rd.commit(b.size());
        std::error_code ec;
        BOOST_TEST(!rd.next_startup(ec).has_value());
        BOOST_TEST(bool(ec), "length " << len << " must be refused");
    }
}

BOOST_AUTO_TEST_CASE(startup_round_trip) {
    startup_message m;
    m.parameters = {{"user", "alice"}, {"database", "app"}, {"application_name", "x"}};
    byte_buffer b;
    encode_startup(b, m);
    frame_reader rd;
    auto s = rd.prepare(b.size());
    std::memcpy(s.data(), b.data(), b.size());
    rd.commit(b.size());
    std::error_code ec;
    auto f = rd.next_startup(ec);
    BOOST_REQUIRE(f.has_value());
    BOOST_TEST((classify(*f) == startup_kind::startup));
    startup_message d;
    BOOST_TEST(!decode_startup(*f, d));
    BOOST_TEST(d.user() == "alice");
    BOOST_TEST(d.database() == "app");
    BOOST_TEST(d.parameters.size() == 3u);
}

BOOST_AUTO_TEST_CASE(ssl_and_cancel_requests_classify) {
    byte_buffer b;
    encode_ssl_request(b);
    encode_cancel(b, {1234, -5});
    frame_reader rd;
    auto s = rd.prepare(b.size());
    std::memcpy(s.data(), b.data(), b.size());
    rd.commit(b.size());
    std::error_code ec;
    auto f1 = rd.next_startup(ec);
    BOOST_REQUIRE(f1);
    BOOST_TEST((classify(*f1) == startup_kind::ssl_request));
    auto f2 = rd.next_startup(ec);
    BOOST_REQUIRE(f2);
    BOOST_TEST((classify(*f2) == startup_kind::cancel_request));
    cancel_request c;
    BOOST_TEST(!decode_cancel(*f2, c));
    BOOST_TEST(c.process_id == 1234);
    BOOST_TEST(c.secret_key == -5);
}

BOOST_AUTO_TEST_CASE(shrink_gives_memory_back_and_keeps_bytes) {
    frame_reader rd(1 << 20, 1024);
    byte_buffer big;
    build_query(big, std::string(200000, 'x'));
    build_query(big, "SELECT 1");
    auto s = rd.prepare(big.size());
    std::memcpy(s.data(), big.data(), big.size());
    rd.commit(big.size());
    std::error_code ec;
    auto f = rd.next(ec);
    BOOST_REQUIRE(f);
    BOOST_TEST(f->body.size() == 200001u);
    rd.shrink(4096);  // one small frame is still buffered: it must survive
    BOOST_TEST(rd.capacity() == 4096u);
    auto g = rd.next(ec);
    BOOST_REQUIRE(g);
    BOOST_TEST(as_text(g->body) == std::string_view("SELECT 1\0", 9));
    BOOST_TEST(rd.buffered().empty());
}

BOOST_AUTO_TEST_CASE(random_bytes_never_crash) {
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        frame_reader rd(4096);
        byte_buffer b(rng() % 64);
        for (auto& x : b) x = std::byte(rng());
        auto s = rd.prepare(b.size() + 1);
        if (!b.empty()) std::memcpy(s.data(), b.data(), b.size());  // no memcpy from null
        rd.commit(b.size());
        std::error_code ec;
        while (auto f = rd.next(ec)) {
            (void)validate(sender::frontend, f->tag, f->body);
            (void)validate(sender::backend, f->tag, f->body);
        }
        rd.next_startup(ec);
    }
}

BOOST_AUTO_TEST_SUITE_END()
