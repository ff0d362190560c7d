#pragma once
// File: core/object/template_hash.h
// The hash Kubernetes' workload controllers put in labels (pod-template-hash,
// controller-revision-hash): FNV-1a over the template (and a collision count), written with the
// consonant alphabet so it never spells a word. Stable across builds and toolchains, unlike
// std::hash: a changed value would roll every workload.

#include <cstdint>
#include <string>

#include "core/json/value.h"

namespace berth::object {

std::string TemplateHash(const json::Value& pod_template, int64_t collision_count = 0);

}  // namespace berth::object
