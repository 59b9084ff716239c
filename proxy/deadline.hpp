#pragma once
// A timer that runs an action unless disarmed first. The action runs on the
// timer's executor; disarm() is synchronous, so on a single-threaded executor
// an action never runs after disarm() returned, even if the timer had already
// fired and its handler was queued.
#include <chrono>
#include <functional>
#include <memory>

#include "proxy/asio.hpp"

namespace sqltap::proxy {

class deadline {
public:
    template <class Executor>
    explicit deadline(const Executor& ex) : timer_(ex) {}
    ~deadline() { disarm(); }
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;

    void arm(std::chrono::milliseconds after, std::function<void()> action) {
        disarm();
        auto st = std::make_shared<state>();
        st->action = std::move(action);
        state_ = st;
        timer_.expires_after(after);
        timer_.async_wait([st](const boost::system::error_code& ec) {
            if (ec || !st->armed) return;
            st->armed = false;
            st->expired = true;
            st->action();
        });
    }
    void disarm() {
        if (state_) {
            state_->armed = false;
            state_->action = nullptr;
            state_.reset();
        }
        timer_.cancel();
    }
    bool expired() const noexcept { return state_ && state_->expired; }

private:
    struct state {
        bool armed = true;
        bool expired = false;
        std::function<void()> action;
    };
    asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

}  // namespace sqltap::proxy
