#pragma once
// File: apiserver/registry/admission/queue_hierarchy.h
// Queues form a tree of at most four levels below the root: a create or update whose parent
// chain would loop, or would put this queue or any queue below it deeper than that, is refused
// (422 naming spec.parent) and nothing is stored. A parent that does not exist yet is allowed
// (the scheduler treats the queue as a child of the root until it does).

#include <memory>

#include "apiserver/registry/admission/admission_plugin.h"

namespace berth::apiserver::registry {

inline constexpr int kMaxQueueDepth = 4;

std::shared_ptr<const AdmissionPlugin> QueueHierarchyAdmission();

}  // namespace berth::apiserver::registry
