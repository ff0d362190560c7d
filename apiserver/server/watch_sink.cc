#include "apiserver/server/watch_sink.h"

#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {

std::string JsonLinesWatchSink::Encode(watch::EventType type, const std::string& object_json, uint64_t) const {
  std::string line;
  line.reserve(object_json.size() + 32);
  StrAppend(&line, "{\"type\":\"", watch::EventTypeName(type), "\",\"object\":", object_json, "}\n");
  return line;
}

bool JsonLinesWatchSink::Send(watch::EventType type, const std::string& object_json, uint64_t revision) {
  return stream_->Write(Encode(type, object_json, revision));
}

std::string StreamWatchSink::BookmarkObject(uint64_t revision) const {
  return StrCat("{\"kind\":\"", kind_, "\",\"apiVersion\":\"", api_version_, "\",\"metadata\":{\"resourceVersion\":\"",
                revision, "\"}}");
}

bool JsonLinesWatchSink::SendBookmark(uint64_t revision) {
  return stream_->Write(StrCat("{\"type\":\"BOOKMARK\",\"object\":", BookmarkObject(revision), "}\n"));
}

void JsonLinesWatchSink::Fail(const absl::Status& status) {
  api::HttpError e = api::ToHttp(status);
  stream_->Write(StrCat("{\"type\":\"ERROR\",\"object\":", json::Serialize(e.body), "}\n"));
  stream_->Close();
}

std::string SseWatchSink::Encode(watch::EventType type, const std::string& object_json, uint64_t revision) const {
  std::string event;
  event.reserve(object_json.size() + 48);
  StrAppend(&event, "event: ", watch::EventTypeName(type), "\n");
  if (revision > 0) StrAppend(&event, "id: ", revision, "\n");
  StrAppend(&event, "data: ", object_json, "\n\n");
  return event;
}

bool SseWatchSink::Send(watch::EventType type, const std::string& object_json, uint64_t revision) {
  return stream_->Write(Encode(type, object_json, revision));
}

bool SseWatchSink::SendBookmark(uint64_t revision) {
  return stream_->Write(StrCat("event: BOOKMARK\nid: ", revision, "\ndata: ", BookmarkObject(revision), "\n\n"));
}

void SseWatchSink::Fail(const absl::Status& status) {
  api::HttpError e = api::ToHttp(status);
  stream_->Write(StrCat("event: ERROR\ndata: ", json::Serialize(e.body), "\n\n"));
  stream_->Close();
}

}  // namespace berth::apiserver::server
