// Messages to and from the byte buffers of gRPC's generic stub, which the gateway
// uses so that a route is a method name rather than a typed stub call.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>

namespace cloudillo::gateway {

inline grpc::ByteBuffer ToBytes(const google::protobuf::Message& m) {
  std::string s = m.SerializeAsString();
  grpc::Slice slice(std::move(s));
  return grpc::ByteBuffer(&slice, 1);
}

inline bool FromBytes(const grpc::ByteBuffer& b, google::protobuf::Message* m) {
  grpc::ByteBuffer copy(b);  // the reader consumes; a copy shares the slices
  grpc::ProtoBufferReader reader(&copy);
  return m->ParseFromZeroCopyStream(&reader);
}

}  // namespace cloudillo::gateway
