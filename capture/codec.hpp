#pragma once
// The byte codec of sqltap's LMDB values (the change log's records, the replay
// engine's states and conflicts): LEB128 varints, length-prefixed strings,
// 8-byte little-endian fixed integers, and value lists with NULL distinct from
// the empty string.
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "capture/record.hpp"

namespace sqltap::capture::codec {

class writer {
public:
    void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
    void varint(std::uint64_t v) {
        if (v < 0x80) {  // (most are: lengths of values, counts)
            out.push_back(static_cast<char>(v));
            return;
        }
        char b[10];
        std::size_t n = 0;
        while (v >= 0x80) {
            b[n++] = static_cast<char>((v & 0x7f) | 0x80);
            v >>= 7;
        }
        b[n++] = static_cast<char>(v);
        out.append(b, n);
    }
    void fixed64(std::int64_t v) {
        auto u = static_cast<std::uint64_t>(v);
        char b[8];
        for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> (8 * i));
        out.append(b, 8);
    }
    void str(std::string_view s) {
        varint(s.size());
        out.append(s);
    }
    void values(const std::vector<value>& vs) {
        varint(vs.size());
        for (const auto& v : vs) {
            if (!v) {
                varint(0);
            } else {
                varint(v->size() + 1);
                out.append(*v);
            }
        }
    }
    std::string out;
};

class reader {
public:
    explicit reader(std::string_view d) : data(d) {}
    std::uint8_t u8() {
        if (!need(1)) return 0;
        return static_cast<std::uint8_t>(data[pos++]);
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (!need(1)) return 0;
            auto b = static_cast<std::uint8_t>(data[pos++]);
            v |= std::uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail(record_errc::bad_value);
        return 0;
    }
    std::int64_t fixed64() {
        if (!need(8)) return 0;
        std::uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u |= std::uint64_t(static_cast<std::uint8_t>(data[pos + i])) << (8 * i);
        pos += 8;
        return static_cast<std::int64_t>(u);
    }
    std::string str() {
        std::uint64_t n = varint();
        if (!need(n)) return {};
        std::string s(data.substr(pos, n));
        pos += n;
        return s;
    }
    // A count of items that each take at least one byte: bounded by what is left.
    std::uint64_t count() {
        std::uint64_t n = varint();
        if (n > data.size() - pos) fail(record_errc::bad_value);
        return ec ? 0 : n;
    }
    std::vector<value> values() {
        std::vector<value> vs;
        std::uint64_t n = count();
        vs.reserve(n);
        for (std::uint64_t i = 0; i < n && !ec; ++i) {
            std::uint64_t len = varint();
            if (len == 0) {
                vs.emplace_back(std::nullopt);
                continue;
            }
            if (!need(len - 1)) break;
            vs.emplace_back(std::string(data.substr(pos, len - 1)));
            pos += len - 1;
        }
        return vs;
    }
    bool need(std::uint64_t n) {
        if (ec) return false;
        if (data.size() - pos < n) {
            ec = record_errc::truncated;
            return false;
        }
        return true;
    }
    void fail(record_errc e) {
        if (!ec) ec = e;
    }
    std::string_view data;
    std::size_t pos = 0;
    std::error_code ec;
};

}  // namespace sqltap::capture::codec
