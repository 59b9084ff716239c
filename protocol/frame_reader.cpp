#include "protocol/frame_reader.hpp"

#include <algorithm>
#include <cstring>

namespace sqltap::protocol {

frame_reader::frame_reader(std::size_t max_message_size, std::size_t initial_capacity)
    : buf_(initial_capacity), max_message_size_(max_message_size) {}

std::span<std::byte> frame_reader::prepare(std::size_t min_free) {
    if (buf_.size() - end_ < min_free) {
        if (begin_ > 0) {
            std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buf_.size() - end_ < min_free) {
            buf_.resize(std::max(buf_.size() * 2, end_ + min_free));
        }
    }
    return {buf_.data() + end_, buf_.size() - end_};
}

void frame_reader::consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
}

void frame_reader::shrink(std::size_t capacity) {
    std::size_t live = end_ - begin_;
    if (buf_.size() <= capacity || live > capacity) return;
    std::memmove(buf_.data(), buf_.data() + begin_, live);
    begin_ = 0;
    end_ = live;
    buf_.resize(capacity);
    buf_.shrink_to_fit();
}

std::optional<frame_header> frame_reader::peek_header(std::error_code& ec) const noexcept {
    ec.clear();
    if (end_ - begin_ < header_size) return std::nullopt;
    const std::byte* p = buf_.data() + begin_;
    std::uint32_t len = load_u32(p + 1);
    if (len < 4) {
        ec = errc::frame_too_short;
        return std::nullopt;
    }
    if (len - 4 > max_message_size_) {
        ec = errc::frame_too_large;
        return std::nullopt;
    }
    return frame_header{static_cast<char>(p[0]), len - 4};
}

std::optional<frame> frame_reader::next(std::error_code& ec) noexcept {
    auto h = peek_header(ec);
    if (!h) return std::nullopt;
    if (end_ - begin_ < h->total()) return std::nullopt;
    const std::byte* p = buf_.data() + begin_;
    frame f{h->tag, bytes{p + header_size, h->body_length}, bytes{p, h->total()}};
    begin_ += h->total();  // the views stay valid: nothing moves until prepare()
    if (begin_ == end_) begin_ = end_ = 0;
    return f;
}

std::optional<startup_frame> frame_reader::next_startup(std::error_code& ec) noexcept {
    ec.clear();
    if (end_ - begin_ < 4) return std::nullopt;
    const std::byte* p = buf_.data() + begin_;
    std::uint32_t len = load_u32(p);
    if (len < 8) {
        ec = errc::startup_too_short;
        return std::nullopt;
    }
    if (len > max_startup_packet_size) {
        ec = errc::startup_too_large;
        return std::nullopt;
    }
    if (end_ - begin_ < len) return std::nullopt;
    startup_frame f{load_u32(p + 4), bytes{p + 8, len - 8}, bytes{p, len}};
    begin_ += len;
    if (begin_ == end_) begin_ = end_ = 0;
    return f;
}

}  // namespace sqltap::protocol
