#pragma once
// Sans-io framing of a PostgreSQL v3 byte stream. The caller reads from its
// socket into prepare(), reports the count with commit(), and takes frames out
// with next(). Frames are views into the reader's buffer, valid until the next
// prepare() or consume(). Frames larger than what the caller wants to hold can
// be passed through in pieces (peek_header() + buffered() + consume()).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "protocol/bytes.hpp"

namespace sqltap::protocol {

inline constexpr std::size_t default_max_message_size = std::size_t{1} << 30;  // 1 GiB
inline constexpr std::size_t max_startup_packet_size = 10000;
inline constexpr std::size_t header_size = 5;  // tag + Int32 length

struct frame_header {
    char tag;
    std::uint32_t body_length;  // without the tag and the length field itself
    std::size_t total() const noexcept { return header_size + body_length; }
};

struct frame {
    char tag;
    bytes body;  // the message contents after the length field
    bytes raw;   // the whole message as it arrived, tag included
};

// An untagged packet from the start of a connection (StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest).
struct startup_frame {
    std::uint32_t code;  // protocol version or request code
    bytes body;          // the bytes after the code
    bytes raw;
};

class frame_reader {
public:
    explicit frame_reader(std::size_t max_message_size = default_max_message_size,
                          std::size_t initial_capacity = 16 * 1024);

    // Space to read into, at least `min_free` bytes (the buffer compacts first
    // and grows only when that is not enough).
    std::span<std::byte> prepare(std::size_t min_free = 4096);
    void commit(std::size_t n) noexcept { end_ += n; }

    // The next whole tagged frame, or nullopt when more bytes are needed (ec
    // clear) or the stream is malformed (ec set; the stream cannot continue).
    std::optional<frame> next(std::error_code& ec) noexcept;
    // The header of the next frame, without consuming anything.
    std::optional<frame_header> peek_header(std::error_code& ec) const noexcept;
    // The next untagged startup packet (length limits of the startup phase).
    std::optional<startup_frame> next_startup(std::error_code& ec) noexcept;

    bytes buffered() const noexcept { return {buf_.data() + begin_, end_ - begin_}; }
    void consume(std::size_t n) noexcept;
    std::size_t capacity() const noexcept { return buf_.size(); }
    std::size_t max_message_size() const noexcept { return max_message_size_; }
    void set_max_message_size(std::size_t n) noexcept { max_message_size_ = n; }
    // Gives back memory after a large frame, keeping unconsumed bytes.
    void shrink(std::size_t capacity);

private:
    byte_buffer buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t max_message_size_;
};

}  // namespace sqltap::protocol
