#pragma once
// File: kubelet-like-agent/init/hardening.h
// What berth-container-init does to make a container what containerd and runc make it by
// default: a minimal /dev, runc's masked and read-only /proc and /sys paths, the capability
// set, no_new_privs, and the RuntimeDefault seccomp filter. Statically linked into the init
// (libseccomp's archive), so it runs before the workload with nothing to load.

#include <cstdint>
#include <string>
#include <vector>

namespace berth::agent::init {

// A tmpfs /dev under `root` with null, zero, full, random, urandom, tty, a private devpts with
// ptmx, shm, mqueue and the fd/stdin/stdout/stderr links. False with errno set on failure.
bool SetUpMinimalDev(const std::string& root, std::string* failed_step);

// runc's maskedPaths (files under /dev/null, directories under an empty read-only tmpfs) and
// readonlyPaths, under `root` (after /proc and /sys are mounted there). Paths that do not exist
// are skipped. `only_under` ("/proc", "/sys") limits it to the paths under one of them.
void MaskKernelPaths(const std::string& root, const std::string& only_under = "");

// Makes every mount under `path` read-only (mount_setattr, recursive).
bool MakeReadOnlyRecursive(const std::string& path);

// Drops every capability not in `keep` from the bounding set (call as root, before changing
// user). False with errno set.
bool DropBoundingCapabilities(const std::vector<int>& keep);
// Sets the effective, permitted and inheritable sets to `keep` (a no-op result for a non-root
// user, whose sets the kernel cleared at setuid).
bool SetCapabilities(const std::vector<int>& keep);

// The RuntimeDefault profile as a deny list: what Docker's and containerd's default profile
// refuses to a container (kernel modules, kexec, reboot, clock setting, swap, mount and
// namespace escapes, keyrings, bpf, perf, userfaultfd, ptrace of the host's processes...)
// answers EPERM; clone3 answers ENOSYS so libc falls back to clone, whose CLONE_NEWUSER is
// refused. False with errno set.
bool LoadRuntimeDefaultSeccomp();

// The same filter as a BPF program, built ahead (it allocates) for a process that may only
// make system calls afterwards (a fork of the multi-threaded agent: kubectl exec).
bool RuntimeDefaultSeccompProgram(std::vector<unsigned char>* program);
// Installs a program from RuntimeDefaultSeccompProgram: system calls only.
bool LoadSeccompProgram(const std::vector<unsigned char>& program);

// The capability numbers set in a /proc/<pid>/status mask ("CapBnd: 00000000a80425fb").
std::vector<int> CapabilitiesOfMask(uint64_t mask);

}  // namespace berth::agent::init
