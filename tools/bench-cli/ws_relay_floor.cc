// The floor of `tools/bench collab`: the least a WebSocket server can do for the bench's
// load and still deliver it. One thread, one io_context, Beast's WebSocket stream (as
// the gateway), bare y-protocols v1 framing (as /ws/crdt). It answers a SyncStep1 with an
// empty SyncStep2 and relays every other message unchanged to the other sockets of the
// same path. No token, no Yjs decoding or validation, no document state, no storage, no
// second process: whatever a real server adds to a delivery comes on top of this.
//
//   ws_relay_floor [PORT]   prints "listening <port>" once it accepts connections
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

class Session;
// Path -> its open sockets. A socket removes itself when it ends.
using Rooms = std::unordered_map<std::string, std::vector<Session*>>;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, Rooms& rooms) : ws_(std::move(s)), rooms_(rooms) {}
  ~Session() { Leave(); }

  void Start() {
    auto self = shared_from_this();
    http::async_read(ws_.next_layer(), buf_, req_, [self](beast::error_code ec, size_t) {
      if (ec || !websocket::is_upgrade(self->req_)) return;
      std::string target(self->req_.target());
      self->room_ = target.substr(0, target.find('?'));
      self->ws_.binary(true);
      self->ws_.async_accept(self->req_, [self](beast::error_code ec) {
        if (ec) return;
        self->rooms_[self->room_].push_back(self.get());
        self->joined_ = true;
        self->Read();
      });
    });
  }

  void Send(std::shared_ptr<const std::string> frame) {
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1) Write();
  }

 private:
  void Read() {
    auto self = shared_from_this();
    ws_.async_read(rx_, [self](beast::error_code ec, size_t n) {
      if (ec) return self->Leave();
      const auto* p = static_cast<const unsigned char*>(self->rx_.data().data());
      if (n >= 2 && p[0] == 0 && p[1] == 0) {
        // SyncStep1: the empty document's SyncStep2.
        self->Send(std::make_shared<const std::string>("\x00\x01\x02\x00\x00", 5));
      } else {
        auto frame = std::make_shared<const std::string>(reinterpret_cast<const char*>(p), n);
        for (Session* other : self->rooms_[self->room_])
          if (other != self.get()) other->Send(frame);
      }
      self->rx_.consume(n);
      self->Read();
    });
  }

  void Write() {
    auto self = shared_from_this();
    ws_.async_write(asio::buffer(*queue_.front()), [self](beast::error_code ec, size_t) {
      if (ec) return self->Leave();
      self->queue_.pop_front();
      if (!self->queue_.empty()) self->Write();
    });
  }

  void Leave() {
    if (!joined_) return;
    joined_ = false;
    auto& members = rooms_[room_];
    std::erase(members, this);
    if (members.empty()) rooms_.erase(room_);
  }

  websocket::stream<tcp::socket> ws_;
  Rooms& rooms_;
  beast::flat_buffer buf_, rx_;
  http::request<http::string_body> req_;
  std::string room_;
  bool joined_ = false;
  std::deque<std::shared_ptr<const std::string>> queue_;
};

void Accept(tcp::acceptor& acceptor, Rooms& rooms) {
  acceptor.async_accept([&acceptor, &rooms](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s), rooms)->Start();
    }
    Accept(acceptor, rooms);
  });
}

}  // namespace

int main(int argc, char** argv) {
  asio::io_context ioc{1};
  const auto port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0);
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
  Rooms rooms;
  Accept(acceptor, rooms);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });
  std::printf("listening %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  ioc.run();
}
