#include "core/api/errors.h"

#include "core/json/codec.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

TEST(ErrorsTest, NotFoundRendersKubernetesStatus) {
  HttpError e = ToHttp(NotFound({"apps", "deployments", "web", ""}));
  EXPECT_EQ(e.code, 404);
  EXPECT_EQ(e.body.GetString({"reason"}), "NotFound");
  EXPECT_EQ(e.body.GetString({"message"}), "deployments.apps \"web\" not found");
  EXPECT_EQ(e.body.GetString({"details", "name"}), "web");
  EXPECT_EQ(e.body.GetString({"details", "group"}), "apps");
  EXPECT_EQ(e.body.GetString({"kind"}), "Status");
  EXPECT_EQ(e.body.GetString({"status"}), "Failure");
}

TEST(ErrorsTest, InvalidCarriesCausesAnd422) {
  absl::Status s = Invalid({"", "pods", "x", "Pod"},
                           {{"FieldValueRequired", "Required value", "spec.containers"}});
  HttpError e = ToHttp(s);
  EXPECT_EQ(e.code, 422);
  EXPECT_EQ(e.body.GetString({"reason"}), "Invalid");
  EXPECT_EQ(e.body.GetString({"message"}), "Pod \"x\" is invalid: spec.containers: Required value");
  const json::Value* causes = e.body.Get({"details", "causes"});
  ASSERT_NE(causes, nullptr);
  ASSERT_EQ(causes->size(), 1u);
  EXPECT_EQ(causes->as_array()[0].GetString({"field"}), "spec.containers");
}

TEST(ErrorsTest, TableCoversEveryCode) {
  EXPECT_EQ(ToHttp(Conflict({"", "pods", "x", ""}, "stale")).code, 409);
  EXPECT_EQ(ToHttp(AlreadyExists({"", "pods", "x", ""})).body.GetString({"reason"}), "AlreadyExists");
  EXPECT_EQ(ToHttp(Expired("old")).code, 410);
  EXPECT_EQ(ToHttp(UnsupportedMediaType("no")).code, 415);
  EXPECT_EQ(ToHttp(RequestEntityTooLarge("big")).code, 413);
  EXPECT_EQ(ToHttp(BadRequest("bad")).code, 400);
  EXPECT_EQ(ToHttp(Forbidden("no")).code, 403);
  EXPECT_EQ(ToHttp(absl::UnavailableError("x")).code, 503);
  EXPECT_EQ(ToHttp(absl::ResourceExhaustedError("x")).code, 429);
  EXPECT_EQ(ToHttp(absl::InternalError("x")).code, 500);
  EXPECT_EQ(ToHttp(MethodNotAllowed("x")).code, 405);
}

TEST(ErrorsTest, RoundTripThroughHttp) {
  absl::Status original = Invalid({"", "pods", "x", "Pod"}, {{"FieldValueInvalid", "bad", "metadata.name"}});
  HttpError e = ToHttp(original);
  absl::Status back = FromHttp(e.code, json::Serialize(e.body));
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReasonOf(back), "Invalid");
  ASSERT_EQ(CausesOf(back).size(), 1u);
  EXPECT_EQ(CausesOf(back)[0].field, "metadata.name");
  absl::Status conflict = FromHttp(409, json::Serialize(ToHttp(Conflict({"", "pods", "x", ""}, "y")).body));
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted);
  absl::Status exists = FromHttp(409, json::Serialize(ToHttp(AlreadyExists({"", "pods", "x", ""})).body));
  EXPECT_EQ(exists.code(), absl::StatusCode::kAlreadyExists);
  // A failed precondition keeps its code through HTTP instead of becoming a Conflict.
  HttpError fp = ToHttp(absl::FailedPreconditionError("namespace is terminating"));
  EXPECT_EQ(fp.code, 409);
  EXPECT_EQ(fp.body.GetString({"reason"}), "FailedPrecondition");
  EXPECT_EQ(FromHttp(fp.code, json::Serialize(fp.body)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FromHttp(502, "<html>").code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace berth::api
