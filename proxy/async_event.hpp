#pragma once
// A one-thread event a coroutine can wait for: wait() completes once set() has
// been called (at once if it already was). The waiter is resumed through a
// post to its executor, never from inside set(), so the code calling set()
// (one relay loop) does not find itself running the other relay loop.
#include <memory>

#include "proxy/asio.hpp"

namespace sqltap::proxy {

class async_event {
public:
    bool is_set() const noexcept { return set_; }
    void reset() noexcept { set_ = false; }
    void set() {
        set_ = true;
        if (waiter_) std::exchange(waiter_, nullptr)->resume();
    }
    awaitable<void> wait() {
        if (set_) co_return;
        // park{} holds a plain pointer: g++ 12 may destroy non-trivial
        // temporaries of a co_await expression twice.
        co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(park{this}, asio::use_awaitable);
    }

private:
    struct waiter {
        virtual ~waiter() = default;
        virtual void resume() = 0;
    };
    template <class Handler>
    struct waiter_impl final : waiter {
        explicit waiter_impl(Handler&& h) : handler(std::move(h)) {}
        void resume() override {
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, std::move(handler));
        }
        Handler handler;
    };
    struct park {
        async_event* ev;
        template <class Handler>
        void operator()(Handler h) const {
            if (ev->set_) {
                auto ex = asio::get_associated_executor(h);
                asio::post(ex, std::move(h));
                return;
            }
            ev->waiter_ = std::make_unique<waiter_impl<Handler>>(std::move(h));
        }
    };

    bool set_ = false;
    std::unique_ptr<waiter> waiter_;
};

}  // namespace sqltap::proxy
