#pragma once
// The Boost.Asio include, in the order Boost 1.74 with g++ 12 needs.
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace sqltap {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
template <class T>
using awaitable = boost::asio::awaitable<T>;
}  // namespace sqltap
