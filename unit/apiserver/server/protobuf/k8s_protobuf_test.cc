#include "apiserver/server/protobuf/k8s_protobuf.h"

#include <gtest/gtest.h>

#include "core/json/codec.h"

namespace berth::apiserver::server {
namespace {

// A tiny protobuf writer for building bodies as kubectl's client does.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Bytes(int field, const std::string& data) { return Varint(field << 3 | 2) + Varint(data.size()) + data; }
std::string Int(int field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string Entry(const std::string& k, const std::string& v) { return Bytes(1, k) + Bytes(2, v); }
std::string Envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) + Bytes(2, raw) + Bytes(3, "") +
         Bytes(4, "");
}

TEST(K8sProtobufTest, DecodesAConfigMapAsKubectlSendsIt) {
  // Non-pointer fields come even when empty (generateName, namespace, ...): they are omitted.
  std::string meta = Bytes(1, "settings") + Bytes(2, "") + Bytes(3, "") + Int(7, 0) + Bytes(8, "") +
                     Bytes(11, Entry("app", "web"));
  std::string raw = Bytes(1, meta) + Bytes(2, Entry("color", "blue")) + Bytes(2, Entry("size", "3")) +
                    Bytes(3, Entry("blob", std::string("\x00\x01", 2)));
  auto v = DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", raw));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(json::Serialize(*v),
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"app":"web"}},)"
            R"("data":{"color":"blue","size":"3"},"binaryData":{"blob":"AAE="}})");
}

TEST(K8sProtobufTest, PointerFieldsKeepTheirZeroAndIntOrStringBothWays) {
  std::string rolling = Bytes(1, Int(1, 0) + Int(2, 0)) + Bytes(2, Int(1, 1) + Bytes(3, "25%"));
  std::string spec = Int(1, 0) + Bytes(4, Bytes(1, "RollingUpdate") + Bytes(2, rolling)) + Int(5, 0);
  auto v = DecodeKubernetesProtobuf(Envelope("apps/v1", "Deployment", Bytes(1, Bytes(1, "d")) + Bytes(2, spec)));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Get({"spec", "replicas"})->as_int(), 0) << "replicas: 0 is a request, not an absence";
  EXPECT_EQ(v->Find("spec")->Find("minReadySeconds"), nullptr);
  EXPECT_EQ(v->Get({"spec", "strategy", "rollingUpdate", "maxUnavailable"})->as_int(), 0);
  EXPECT_EQ(v->GetString({"spec", "strategy", "rollingUpdate", "maxSurge"}), "25%");
}

TEST(K8sProtobufTest, RefusesWhatItCannotDecodeNamingIt) {
  auto unknown_field = DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "x")) + Int(9, 1)));
  ASSERT_FALSE(unknown_field.ok());
  EXPECT_NE(unknown_field.status().message().find("protobuf field 9 of ConfigMap"), absl::string_view::npos);
  auto unknown_kind = DecodeKubernetesProtobuf(Envelope("v1", "Service", ""));
  ASSERT_FALSE(unknown_kind.ok());
  EXPECT_NE(unknown_kind.status().message().find("not v1 Service"), absl::string_view::npos);
  EXPECT_FALSE(DecodeKubernetesProtobuf("{\"kind\":\"ConfigMap\"}").ok()) << "no envelope";
  std::string truncated = Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "x")));
  truncated.resize(truncated.size() - 6);
  EXPECT_FALSE(DecodeKubernetesProtobuf(truncated).ok());
}

}  // namespace
}  // namespace berth::apiserver::server
