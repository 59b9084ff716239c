#pragma once
// Reading and writing the protocol's primitive fields: big-endian integers,
// NUL-terminated strings and length-prefixed byte strings.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/error.hpp"

namespace sqltap::protocol {

using bytes = std::span<const std::byte>;
using byte_buffer = std::vector<std::byte>;

inline std::string_view as_text(bytes b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline bytes as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::uint32_t load_u32(const std::byte* p) noexcept {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) |
           (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}
inline std::uint16_t load_u16(const std::byte* p) noexcept {
    return static_cast<std::uint16_t>((std::uint16_t(p[0]) << 8) | std::uint16_t(p[1]));
}

// A cursor over one message body. Every read checks bounds; the first failure
// sticks in `error()` and later reads return zero values, so a decoder can read
// all its fields and check once at the end.
class field_reader {
public:
    explicit field_reader(bytes body) noexcept : data_(body) {}

    std::int32_t i32() noexcept {
        if (!need(4)) return 0;
        auto v = static_cast<std::int32_t>(load_u32(data_.data() + pos_));
        pos_ += 4;
        return v;
    }
    std::int16_t i16() noexcept {
        if (!need(2)) return 0;
        auto v = static_cast<std::int16_t>(load_u16(data_.data() + pos_));
        pos_ += 2;
        return v;
    }
    std::uint8_t u8() noexcept {
        if (!need(1)) return 0;
        return static_cast<std::uint8_t>(data_[pos_++]);
    }
    std::string_view cstr() noexcept {
        if (ec_) return {};
        const void* end = std::memchr(data_.data() + pos_, 0, data_.size() - pos_);
        if (!end) {
            ec_ = errc::missing_terminator;
            return {};
        }
        auto len = static_cast<const std::byte*>(end) - (data_.data() + pos_);
        std::string_view s{reinterpret_cast<const char*>(data_.data() + pos_),
                           static_cast<std::size_t>(len)};
        pos_ += static_cast<std::size_t>(len) + 1;
        return s;
    }
    bytes raw(std::size_t n) noexcept {
        if (!need(n)) return {};
        bytes b = data_.subspan(pos_, n);
        pos_ += n;
        return b;
    }
    // A value with an Int32 length prefix where -1 means NULL.
    std::optional<bytes> nullable_value() noexcept {
        std::int32_t len = i32();
        if (ec_) return bytes{};
        if (len == -1) return std::nullopt;
        if (len < 0) {
            ec_ = errc::bad_value;
            return bytes{};
        }
        return raw(static_cast<std::size_t>(len));
    }
    bytes rest() noexcept {
        bytes b = data_.subspan(pos_);
        pos_ = data_.size();
        return b;
    }
    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    // Ends decoding: reports the first error, or trailing bytes.
    std::error_code finish() const noexcept {
        if (ec_) return ec_;
        if (pos_ != data_.size()) return errc::trailing_bytes;
        return {};
    }
    std::error_code error() const noexcept { return ec_; }
    void fail(errc e) noexcept {
        if (!ec_) ec_ = e;
    }

private:
    bool need(std::size_t n) noexcept {
        if (ec_) return false;
        if (data_.size() - pos_ < n) {
            ec_ = errc::truncated_message;
            return false;
        }
        return true;
    }
    bytes data_;
    std::size_t pos_ = 0;
    std::error_code ec_;
};

// Appends one message to a buffer; the length field is patched by end().
class message_writer {
public:
    explicit message_writer(byte_buffer& out) noexcept : out_(out) {}

    message_writer& begin(char tag) {
        out_.push_back(static_cast<std::byte>(tag));
        return begin_untagged();
    }
    message_writer& begin_untagged() {
        start_ = out_.size();
        i32(0);
        return *this;
    }
    message_writer& i32(std::int32_t v) {
        auto u = static_cast<std::uint32_t>(v);
        std::byte b[4] = {std::byte(u >> 24), std::byte(u >> 16), std::byte(u >> 8), std::byte(u)};
        out_.insert(out_.end(), b, b + 4);
        return *this;
    }
    message_writer& i16(std::int16_t v) {
        auto u = static_cast<std::uint16_t>(v);
        out_.push_back(std::byte(u >> 8));
        out_.push_back(std::byte(u));
        return *this;
    }
    message_writer& u8(std::uint8_t v) {
        out_.push_back(std::byte(v));
        return *this;
    }
    message_writer& cstr(std::string_view s) {
        raw(as_bytes(s));
        out_.push_back(std::byte{0});
        return *this;
    }
    message_writer& raw(bytes b) {
        out_.insert(out_.end(), b.begin(), b.end());
        return *this;
    }
    message_writer& nullable_value(const std::optional<bytes>& v) {
        if (!v) return i32(-1);
        i32(static_cast<std::int32_t>(v->size()));
        return raw(*v);
    }
    void end() {
        auto len = static_cast<std::uint32_t>(out_.size() - start_);
        out_[start_] = std::byte(len >> 24);
        out_[start_ + 1] = std::byte(len >> 16);
        out_[start_ + 2] = std::byte(len >> 8);
        out_[start_ + 3] = std::byte(len);
    }

private:
    byte_buffer& out_;
    std::size_t start_ = 0;
};

}  // namespace sqltap::protocol
