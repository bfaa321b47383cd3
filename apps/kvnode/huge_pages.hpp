#pragma once
// Transparent huge pages for kvnode's heap. jemalloc asks the kernel for them on every extent it
// maps (malloc_conf in main.cpp); the kernel grants them until the process turns them off with
// prctl(PR_SET_THP_DISABLE), which holds for the faults that follow: pages that are huge stay huge.
//
// Why a node turns them off ([node] huge-pages, docs/configuration.md): a huge page's first fault
// zeroes 2 MiB at once, and on a VM whose host backs guest memory only once it is touched (free
// page reporting, ballooning) that fault took 3.6-5.7 ms here, stalling the event loop and every
// request in flight. Recovery loads millions of keys in one go, where the fewer faults pay; serving
// grows the heap a little at a time, where one long fault is a latency spike. Redis turns them off
// for its whole life for the same reason (its disable-thp option).

#include <system_error>

namespace kv::heap {

// Whether page faults of this process may still be served with transparent huge pages
// (PR_GET_THP_DISABLE). The system-wide mode (/sys/kernel/mm/transparent_hugepage/enabled) may
// still refuse them.
bool huge_pages_allowed();

// Turns transparent huge pages off for the rest of this process's life, child processes included.
// An error (a kernel without the prctl, a seccomp filter) is returned, not thrown: the node works
// either way.
std::error_code disable_huge_pages();

}  // namespace kv::heap
