#pragma once
// File: kubelet-like-agent/images/image_cli.h
// `berth image pull|import|ls|rm` (and `berth-agent image ...`): the node's image store from
// the command line, the same store (and locks) the agent uses.

#include <string>
#include <vector>

namespace berth::agent::images {

// args: the words after "image". The process exit code.
int RunImageCommand(const std::vector<std::string>& args);

}  // namespace berth::agent::images
