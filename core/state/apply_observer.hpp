#pragma once
// Something that follows the state machine as the store applies the log, such as the search
// index (index/node/node_index.hpp). It sees the same sequence every node applies, so it ends in the
// same state on every node.
//
// The store calls it on the store's thread, in log order, during recovery as well as while
// serving; an observer must not block there (it copies what it needs and returns).

#include "io/sys/file.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace kv {

class apply_observer {
 public:
  virtual ~apply_observer() = default;

  // The applied state was replaced by the snapshot in `file` (opened and checked; the mapping
  // stays readable after the file is deleted), taken at log index `index`, or (file null,
  // index 0) emptied at a start without a snapshot: discard everything seen so far and
  // continue from that image. `log_end` is the last index of the log the node holds now
  // (`index` after a snapshot was installed): every committed entry up to it is in that log,
  // and the entries after `index` that get applied are its.
  virtual void restart_from(std::shared_ptr<const io::mapped_file> file, std::uint64_t index,
                            std::uint64_t log_end) = 0;
  // Log entry `index` was applied. `command` is its encoded command (core/model/command.hpp), or empty
  // if it changed no key: a no-op, an open_session, a write refused by its session (a duplicate,
  // an expired session).
  virtual void applied(std::uint64_t index, std::string_view command) = 0;
  // The store begins a snapshot of the state at `index` (every entry up to it was handed over
  // already): a moment to persist whatever lets a restart from that snapshot skip work.
  virtual void checkpoint(std::uint64_t index) { (void)index; }
};

}  // namespace kv
