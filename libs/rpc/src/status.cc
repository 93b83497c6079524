#include "cloudillo/rpc/status.h"

#include "absl/strings/cord.h"
#include "cloudillo/core/absl_compat.h"

namespace cloudillo::rpc {
namespace {
constexpr char kPayloadUrl[] = "type.googleapis.com/cloudillo.v1.ErrorInfo";
}

absl::Status ApiError(absl::StatusCode code, std::string_view wire_code, std::string_view message,
                      std::string_view details_json, int http_status) {
  absl::Status s(code, AV(message));
  cloudillo::v1::ErrorInfo info;
  info.set_code(std::string(wire_code));
  info.set_details_json(std::string(details_json));
  info.set_http_status(http_status);
  s.SetPayload(kPayloadUrl, absl::Cord(info.SerializeAsString()));
  return s;
}

absl::Status WithAnswerDelay(absl::Status status, absl::Duration delay) {
  cloudillo::v1::ErrorInfo info = ErrorInfoOf(status);
  info.set_answer_delay_ms(int32_t(absl::ToInt64Milliseconds(delay)));
  status.SetPayload(kPayloadUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

cloudillo::v1::ErrorInfo ErrorInfoOf(const absl::Status& status) {
  cloudillo::v1::ErrorInfo info;
  if (auto payload = status.GetPayload(kPayloadUrl)) info.ParseFromString(std::string(*payload));
  return info;
}

cloudillo::v1::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  cloudillo::v1::ErrorInfo info;
  if (!status.error_details().empty()) info.ParseFromString(status.error_details());
  return info;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string details;
  if (auto payload = status.GetPayload(kPayloadUrl)) details = std::string(*payload);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()), details);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) s.SetPayload(kPayloadUrl, absl::Cord(status.error_details()));
  return s;
}

}  // namespace cloudillo::rpc
