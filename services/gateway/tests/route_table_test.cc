#include "route_table.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>

#include "cloudillo/v1/access.pb.h"
#include "cloudillo/v1/action.pb.h"
#include "cloudillo/v1/blob.pb.h"
#include "cloudillo/v1/collab.pb.h"
#include "cloudillo/v1/identity.pb.h"

namespace cloudillo::gateway {
namespace {

const RouteTable& Table() { return RouteTable::Default(); }

// Descriptors register when their generated file is linked: touch each one.
void LinkDescriptors() {
  (void)cloudillo::v1::Tenant::descriptor();
  (void)cloudillo::v1::TokenSecrets::descriptor();
  (void)cloudillo::v1::ApiRequest::descriptor();
  // action.proto holds only a service: reference its file's descriptor table.
  static const void* volatile action_file = &descriptor_table_cloudillo_2fv1_2faction_2eproto;
  (void)action_file;
  // A volatile use keeps a file linked (collab.proto has no messages of its own).
  static const void* volatile blob_proto = &descriptor_table_cloudillo_2fv1_2fblob_2eproto;
  (void)blob_proto;
  static const void* volatile collab_proto = &descriptor_table_cloudillo_2fv1_2fcollab_2eproto;
  (void)collab_proto;
}

// "/cloudillo.v1.IdentityEdge/GetMe" -> "cloudillo.v1.IdentityEdge.GetMe"
std::string Dotted(const std::string& rpc) {
  std::string s = rpc.substr(1);
  s[s.find('/')] = '.';
  return s;
}

TEST(RouteTable, EveryRoutedRpcExistsWithTheTypesOfItsKindAndEveryEdgeRpcIsRouted) {
  LinkDescriptors();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::set<std::string> routed;
  for (const Route& r : Table().routes()) {
    const auto* m = pool->FindMethodByName(Dotted(r.rpc));
    ASSERT_NE(m, nullptr) << r.rpc;
    std::string in = m->input_type()->full_name(), out = m->output_type()->full_name();
    switch (r.kind) {
      case RouteKind::kUnary:
        EXPECT_EQ(in, "cloudillo.v1.ApiRequest") << r.rpc;
        EXPECT_EQ(out, "cloudillo.v1.ApiReply") << r.rpc;
        EXPECT_FALSE(m->client_streaming() || m->server_streaming()) << r.rpc;
        break;
      case RouteKind::kUpload:
        EXPECT_EQ(in, "cloudillo.v1.ApiUploadPart") << r.rpc;
        EXPECT_TRUE(m->client_streaming() && !m->server_streaming()) << r.rpc;
        break;
      case RouteKind::kDownload:
        EXPECT_EQ(out, "cloudillo.v1.ApiDownloadPart") << r.rpc;
        EXPECT_TRUE(!m->client_streaming() && m->server_streaming()) << r.rpc;
        break;
      case RouteKind::kWebSocket:
        EXPECT_EQ(in, "cloudillo.v1.SocketFrame") << r.rpc;
        EXPECT_TRUE(m->client_streaming() && m->server_streaming()) << r.rpc;
        break;
      case RouteKind::kMuxedSocket:
        EXPECT_EQ(in, "cloudillo.v1.MuxFrame") << r.rpc;
        EXPECT_EQ(out, "cloudillo.v1.MuxFrame") << r.rpc;
        EXPECT_TRUE(m->client_streaming() && m->server_streaming()) << r.rpc;
        break;
    }
    // Routes reach edge services only: internal ones are not for the public.
    EXPECT_NE(std::string(r.rpc).find("Edge/"), std::string::npos) << r.rpc;
    routed.insert(m->full_name());
  }
  for (const char* service : {"cloudillo.v1.IdentityEdge", "cloudillo.v1.AccessEdge",
                              "cloudillo.v1.ActionEdge", "cloudillo.v1.BlobEdge"}) {
    const auto* s = pool->FindServiceByName(service);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < s->method_count(); ++i) {
      EXPECT_TRUE(routed.count(s->method(i)->full_name())) << s->method(i)->full_name() << " has no route";
    }
  }
}

TEST(RouteTable, MatchesLiteralsBeforeParamsAndDecodes) {
  RouteMatch m = Table().Match("GET", "/api/me/full");
  ASSERT_NE(m.route, nullptr);
  EXPECT_STREQ(m.route->rpc, "/cloudillo.v1.IdentityEdge/GetMeFull");
  EXPECT_GE(m.index, 0);
  m = Table().Match("GET", "/api/settings/ui.theme");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params["name"], "ui.theme");
  m = Table().Match("GET", "/api/profiles/b%C3%BCcher.example");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params["idTag"],
            "b\xc3\xbc"
            "cher.example");
}

// PROTOCOL §5.2 and §6.5/§7: live documents ping every 15 s, the other sockets every 30 s
// (the server's default); messages up to 16 MiB, 1 MiB and 64 KiB.
TEST(RouteTable, SocketLimitsAndPings) {
  RouteMatch crdt = Table().Match("GET", "/ws/crdt/f1~abc");
  ASSERT_NE(crdt.route, nullptr);
  EXPECT_EQ(crdt.route->ping_seconds, 15);
  EXPECT_EQ(crdt.route->body_limit, size_t(16) << 20);
  RouteMatch rtdb = Table().Match("GET", "/ws/rtdb/f1");
  ASSERT_NE(rtdb.route, nullptr);
  EXPECT_EQ(rtdb.route->ping_seconds, 0);
  EXPECT_EQ(rtdb.route->body_limit, size_t(1) << 20);
  RouteMatch bus = Table().Match("GET", "/ws/bus");
  ASSERT_NE(bus.route, nullptr);
  EXPECT_EQ(bus.route->ping_seconds, 0);
}

TEST(RouteTable, WrongMethodUnknownPathAndBadEscapes) {
  RouteMatch m = Table().Match("DELETE", "/api/me");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  m = Table().Match("GET", "/api/nothing");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);
  m = Table().Match("GET", "/api/settings/%zz");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.bad_param);
  EXPECT_EQ(Table().Match("GET", "/api/settings/").route, nullptr);
  EXPECT_EQ(Table().Match("GET", "/" + std::string(100, 'a') + std::string(40, '/')).route, nullptr);
}

TEST(PercentDecode, HostileEscapes) {
  EXPECT_EQ(*PercentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("%4", false));
  EXPECT_FALSE(PercentDecode("%G0", false));
  EXPECT_EQ(*PercentDecode("%00", false), std::string("\0", 1));
}

}  // namespace
}  // namespace cloudillo::gateway
