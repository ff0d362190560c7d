#pragma once
// File: apiserver/server/watch_sink.h
// Writes watch events to an HTTP stream as Kubernetes does: one JSON object per line,
// {"type":"ADDED","object":{...}}, flushed per event.

#include <memory>
#include <string>

#include "core/http/http.h"
#include "apiserver/watch/watch_cache.h"

namespace berth::apiserver::server {

// What both encodings share: the HTTP stream, and the kind a bookmark names.
class StreamWatchSink : public watch::WatchSink {
 public:
  StreamWatchSink(std::shared_ptr<http::Stream> stream, std::string kind, std::string api_version)
      : stream_(std::move(stream)), kind_(std::move(kind)), api_version_(std::move(api_version)) {}
  void End() override { stream_->Close(); }
  size_t Backlog() const override { return stream_->Pending(); }
  bool Gone() const override { return stream_->Closed(); }

 protected:
  // {"kind":...,"apiVersion":...,"metadata":{"resourceVersion":"N"}}: a bookmark's object.
  std::string BookmarkObject(uint64_t revision) const;
  std::shared_ptr<http::Stream> stream_;
  std::string kind_;
  std::string api_version_;
};

class JsonLinesWatchSink final : public StreamWatchSink {
 public:
  using StreamWatchSink::StreamWatchSink;
  bool Send(watch::EventType type, const std::string& object_json, uint64_t revision) override;
  std::string_view SharedEncoding() const override { return "json-lines"; }
  std::string Encode(watch::EventType type, const std::string& object_json, uint64_t revision) const override;
  bool SendFrame(const std::string& frame) override { return stream_->Write(frame); }
  bool SendBookmark(uint64_t revision) override;
  void Fail(const absl::Status& status) override;
};

// The same events as Server-Sent Events (`Accept: text/event-stream`), for browsers and
// EventSource clients: "event: ADDED\ndata: {object}\n\n"; the revision is the event id, so a
// reconnecting EventSource resumes with Last-Event-ID.
class SseWatchSink final : public StreamWatchSink {
 public:
  using StreamWatchSink::StreamWatchSink;
  bool Send(watch::EventType type, const std::string& object_json, uint64_t revision) override;
  std::string_view SharedEncoding() const override { return "sse"; }
  std::string Encode(watch::EventType type, const std::string& object_json, uint64_t revision) const override;
  bool SendFrame(const std::string& frame) override { return stream_->Write(frame); }
  bool SendBookmark(uint64_t revision) override;
  void Fail(const absl::Status& status) override;
};

}  // namespace berth::apiserver::server
