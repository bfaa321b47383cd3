#pragma once
// The framing of a saved search index (search_index::save / load): a fixed header, then sections
// cut into checksummed chunks, then a footer. What each section holds is up to its owner
// (doc_table, text_index, ngram_index); this file knows only bytes, chunks and order.
//
//   header:  "KVSRCHIX" | u32 version | u32 ngram_size | u64 stop_words_digest
//            | u64 stemming_digest | u32 analysis_flags | u64 applied_index | u64 digest | u64 skipped_non_utf8
//            | u32 doc_ids | u32 term_ids | u32 gram_ids | u64 documents | u64 terms
//            | u64 postings | u64 ngrams | u64 ngram_postings | u32 crc32c of the preceding bytes
//   chunk*:  u32 crc32c of the rest | u32 section | u32 length (<= max_chunk_bytes) | body
//   footer:  a chunk of section `footer` whose body is u64 chunks before it | u64 their body bytes
//
// A section is the run of chunks that carry its number; sections come in the order of `section`,
// each with at least one chunk, and a chunk belongs to one section only, so every section
// boundary is a chunk boundary. Inside a section the body bytes form one stream of fields (which
// may straddle chunks): fixed-width little-endian integers, LEB128 varints and raw bytes.
// Nothing may follow the footer, so a file that ends anywhere before its last byte is refused.
//
// Errors: the reader throws format_error (offset and what is wrong) at the first thing that does
// not check out; search_index::load turns it into errc::corruption.

#include "index/posting_list.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kv::search::persist {

inline constexpr std::string_view magic = "KVSRCHIX";
// 3: the tokenizer no longer keeps "3.14" or "python3.11" whole, so a version-2 file's terms and
// grams are not what this build would index; it is refused and the index rebuilt.
// 4: analysis_flags (remove_diacritics, on by default: a version-3 file's terms keep their
// diacritics).
inline constexpr std::uint32_t format_version = 4;
inline constexpr std::size_t header_bytes = 8 + 4 + 4 + 8 * 2 + 4 + 8 * 3 + 4 * 3 + 8 * 5 + 4;
inline constexpr std::uint32_t flag_remove_diacritics = 1;
inline constexpr std::size_t chunk_header_bytes = 4 + 4 + 4;
// Large enough that framing costs nothing, small enough that a chunk is checksummed and parsed
// while it is still in cache, and that save buffers one chunk only.
inline constexpr std::size_t max_chunk_bytes = std::size_t{1} << 20;

enum class section : std::uint32_t {
  documents = 1,       // doc_table keys, then the documents' digest shares
  terms = 2,           // text_index dictionary and posting lists
  term_documents = 3,  // text_index lengths and forward records
  grams = 4,           // ngram_index dictionary and posting lists
  gram_documents = 5,  // ngram_index gram counts and forward records
  footer = 0xFFFFFFFF,
};
std::string_view name(section s);

struct header {
  std::uint32_t version = format_version;
  std::uint32_t ngram_size = 0;
  std::uint64_t stop_words_digest = 0;  // of the folded stop words, as a set
  std::uint64_t stemming_digest = 0;    // of the stemming language's name
  std::uint32_t analysis_flags = 0;     // flag_remove_diacritics
  std::uint64_t applied_index = 0;
  std::uint64_t digest = 0;  // search_index::digest()
  std::uint64_t skipped_non_utf8 = 0;
  std::uint32_t doc_ids = 0;   // doc_table::id_bound()
  std::uint32_t term_ids = 0;  // term ids in use or free
  std::uint32_t gram_ids = 0;  // gram ids in use or free
  std::uint64_t documents = 0;
  std::uint64_t terms = 0;
  std::uint64_t postings = 0;
  std::uint64_t ngrams = 0;
  std::uint64_t ngram_postings = 0;
};

// The file is not a whole, intact index file. what() says what is wrong; offset() is where.
class format_error : public std::runtime_error {
 public:
  format_error(std::uint64_t offset, const std::string& what) : std::runtime_error(what), offset_(offset) {}
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::uint64_t offset_;
};

// Encodes the header, then sections, into chunks passed to `sink` (each at most
// chunk_header_bytes + max_chunk_bytes). Call begin(s) ... end() per section, then finish().
class writer {
 public:
  using sink = std::function<void(std::string_view bytes)>;
  writer(sink out, const header& h);

  void begin(section s);
  void end();
  // Writes the footer; nothing may be written afterwards.
  void finish();

  void u32(std::uint32_t v) { fixed(v); }
  void u64(std::uint64_t v) { fixed(v); }
  void varint(std::uint32_t v) {
    make_room(5);
    while (v >= 0x80) {
      buffer_[size_++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buffer_[size_++] = static_cast<char>(v);
  }
  void bytes(const void* data, std::size_t n);
  void bytes(std::string_view s) { bytes(s.data(), s.size()); }

 private:
  template <typename T>
  void fixed(T v) {
    make_room(sizeof v);
    std::memcpy(buffer_.data() + size_, &v, sizeof v);
    size_ += sizeof v;
  }
  // Small fields never straddle chunks (the reader copes if they do).
  void make_room(std::size_t n) {
    if (buffer_.size() - size_ < n) flush();
  }
  void flush();

  sink out_;
  std::vector<char> buffer_;  // one chunk: header, then body
  std::size_t size_ = chunk_header_bytes;
  section section_ = section::footer;  // the open section; footer: none
  bool flushed_in_section_ = false;
  std::uint64_t chunks_ = 0;
  std::uint64_t body_bytes_ = 0;
};

// Decodes what writer wrote, checking every chunk's checksum before its bytes are used. Every
// failure throws format_error. `source(out, n)` reads up to n bytes and returns how many (fewer
// only at the end of the file); `file_bytes` is the file's size, which bounds every length read.
class reader {
 public:
  using source = std::function<std::size_t(char* out, std::size_t n)>;
  reader(source in, std::uint64_t file_bytes);

  // Checks magic, checksum and version. Must come first.
  header read_header();
  void begin(section s);
  // The section must be read to its last byte.
  void end();
  // The footer must follow, agree with the chunks read, and end the file.
  void finish();

  std::uint32_t u32() { return fixed<std::uint32_t>(); }
  std::uint64_t u64() { return fixed<std::uint64_t>(); }
  std::uint32_t varint() {
    if (end_ - pos_ >= 5 && static_cast<unsigned char>(pos_[0]) < 0x80) {
      return static_cast<unsigned char>(*pos_++);
    }
    return varint_slow();
  }
  void bytes(void* out, std::size_t n);
  // Appends n bytes to `out` (a byte vector or a string) without filling it with zeros first.
  template <typename Bytes>
  void append(Bytes& out, std::size_t n) {
    out.reserve(out.size() + length(n));
    while (n > 0) {
      next_chunk_of_section();
      const std::size_t take = std::min(n, static_cast<std::size_t>(end_ - pos_));
      out.insert(out.end(), pos_, pos_ + take);
      pos_ += take;
      n -= take;
    }
  }
  // A count or byte length that is about to be allocated: fails unless the file could hold it.
  std::size_t length(std::uint64_t n);
  std::string string(std::size_t n);

  // Throws format_error at the current offset.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  template <typename T>
  T fixed() {
    T v;
    if (static_cast<std::size_t>(end_ - pos_) >= sizeof v) {
      std::memcpy(&v, pos_, sizeof v);
      pos_ += sizeof v;
    } else {
      bytes(&v, sizeof v);
    }
    return v;
  }
  std::uint32_t varint_slow();
  // Makes pos_ < end_ (the next chunk of the open section) or fails.
  void next_chunk_of_section();
  // Reads the next chunk into buffer_ and checks it.
  void read_chunk();
  void read_exactly(char* out, std::size_t n, const char* what);
  std::uint64_t offset() const { return chunk_offset_ + chunk_header_bytes + static_cast<std::uint64_t>(pos_ - buffer_.get()); }

  source in_;
  std::uint64_t file_bytes_;
  std::uint64_t read_bytes_ = 0;      // file bytes consumed from the source
  std::uint64_t chunk_offset_ = 0;    // where the chunk in buffer_ starts
  std::unique_ptr<char[]> buffer_;    // the current chunk's body (max_chunk_bytes)
  const char* pos_ = nullptr;
  const char* end_ = nullptr;
  section chunk_section_ = section::footer;
  bool chunk_pending_ = false;  // buffer_ holds a chunk that no begin() has opened yet
  section section_ = section::footer;
  std::uint64_t chunks_ = 0;
  std::uint64_t body_bytes_ = 0;
};

// A posting list as varint(byte count) | bytes | varint(last) | varint(live) | varint(dead).
template <bool WithCount>
void save(writer& w, const posting_list<WithCount>& list) {
  auto bytes = list.bytes();
  w.varint(static_cast<std::uint32_t>(bytes.size()));
  w.bytes(bytes.data(), bytes.size());
  w.varint(list.last());
  w.varint(list.live());
  w.varint(list.dead());
}

template <bool WithCount>
void load(reader& r, posting_list<WithCount>& list) {
  std::vector<std::uint8_t> bytes;
  r.append(bytes, r.varint());
  std::uint32_t last = r.varint();
  std::uint32_t live = r.varint();
  std::uint32_t dead = r.varint();
  if (!list.restore(std::move(bytes), last, live, dead)) r.fail("a posting list's entries do not match its counts");
}

// A forward record as varint(byte count) | bytes.
void save(writer& w, const byte_blob& record);
byte_blob load_blob(reader& r);

// Writes `path` whole or not at all: `fill` writes the bytes through the sink it is given into
// path + ".tmp", which is fdatasynced and renamed over `path`, then the directory is fsynced.
// Throws std::system_error naming the file on any I/O failure (the .tmp file is removed).
void write_file(const std::filesystem::path& path, const std::function<void(const writer::sink&)>& fill);

// Reads a file front to back in pieces (a reader's source). Throws std::system_error naming the
// file if it cannot be opened or read.
class file_source {
 public:
  explicit file_source(const std::filesystem::path& path);
  ~file_source();
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;

  std::uint64_t size() const { return size_; }
  std::size_t read(char* out, std::size_t n);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace kv::search::persist
