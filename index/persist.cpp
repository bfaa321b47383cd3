#include "index/persist.hpp"

#include "core/base/bytes.hpp"
#include "core/base/crc32c.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace kv::search::persist {

namespace {

constexpr std::size_t footer_body_bytes = 8 + 8;

std::string_view as_chars(const std::vector<char>& v, std::size_t from, std::size_t n) {
  return std::string_view(v.data() + from, n);
}

[[noreturn]] void throw_errno(int err, const std::string& what, const std::filesystem::path& path) {
  throw std::system_error(err, std::generic_category(), what + " " + path.string());
}

}  // namespace

std::string_view name(section s) {
  switch (s) {
    case section::documents: return "documents";
    case section::terms: return "terms";
    case section::term_documents: return "term documents";
    case section::grams: return "grams";
    case section::gram_documents: return "gram documents";
    case section::footer: return "footer";
  }
  return "unknown";
}

// ---- writer ----

writer::writer(sink out, const header& h) : out_(std::move(out)), buffer_(chunk_header_bytes + max_chunk_bytes) {
  std::string head(magic);
  append_fixed<std::uint32_t>(head, h.version);
  append_fixed<std::uint32_t>(head, h.ngram_size);
  append_fixed<std::uint64_t>(head, h.stop_words_digest);
  append_fixed<std::uint64_t>(head, h.stemming_digest);
  append_fixed<std::uint32_t>(head, h.analysis_flags);
  append_fixed<std::uint64_t>(head, h.applied_index);
  append_fixed<std::uint64_t>(head, h.digest);
  append_fixed<std::uint64_t>(head, h.skipped_non_utf8);
  append_fixed<std::uint32_t>(head, h.doc_ids);
  append_fixed<std::uint32_t>(head, h.term_ids);
  append_fixed<std::uint32_t>(head, h.gram_ids);
  append_fixed<std::uint64_t>(head, h.documents);
  append_fixed<std::uint64_t>(head, h.terms);
  append_fixed<std::uint64_t>(head, h.postings);
  append_fixed<std::uint64_t>(head, h.ngrams);
  append_fixed<std::uint64_t>(head, h.ngram_postings);
  append_fixed<std::uint32_t>(head, crc32c(head));
  out_(head);
}

void writer::begin(section s) {
  section_ = s;
  flushed_in_section_ = false;
}

void writer::end() {
  if (size_ > chunk_header_bytes || !flushed_in_section_) flush();
  section_ = section::footer;
}

void writer::finish() {
  const std::uint64_t chunks = chunks_;
  const std::uint64_t body_bytes = body_bytes_;
  begin(section::footer);
  u64(chunks);
  u64(body_bytes);
  end();
}

void writer::bytes(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    if (size_ == buffer_.size()) flush();
    std::size_t take = std::min(n, buffer_.size() - size_);
    std::memcpy(buffer_.data() + size_, p, take);
    size_ += take;
    p += take;
    n -= take;
  }
}

void writer::flush() {
  const auto length = static_cast<std::uint32_t>(size_ - chunk_header_bytes);
  put_fixed<std::uint32_t>(buffer_.data() + 4, static_cast<std::uint32_t>(section_));
  put_fixed<std::uint32_t>(buffer_.data() + 8, length);
  put_fixed<std::uint32_t>(buffer_.data(), crc32c(as_chars(buffer_, 4, size_ - 4)));
  out_(as_chars(buffer_, 0, size_));
  ++chunks_;
  body_bytes_ += length;
  size_ = chunk_header_bytes;
  flushed_in_section_ = true;
}

// ---- reader ----

reader::reader(source in, std::uint64_t file_bytes)
    : in_(std::move(in)), file_bytes_(file_bytes), buffer_(new char[max_chunk_bytes]) {}

void reader::fail(const std::string& what) const {
  throw format_error(pos_ == nullptr ? read_bytes_ : offset(), what);
}

void reader::read_exactly(char* out, std::size_t n, const char* what) {
  std::size_t got = 0;
  while (got < n) {
    std::size_t r = in_(out + got, n - got);
    if (r == 0) throw format_error(read_bytes_ + got, std::string("the file ends inside ") + what + " (truncated)");
    got += r;
  }
  read_bytes_ += n;
}

header reader::read_header() {
  char head[header_bytes];
  read_exactly(head, header_bytes, "the header");
  if (std::string_view(head, magic.size()) != magic) throw format_error(0, "not a kvnode search index file");
  // The version first: another version's header may have another length, so its checksum
  // would not be where this version's is.
  header h;
  h.version = get_fixed<std::uint32_t>(head + magic.size());
  if (h.version != format_version) {
    throw format_error(magic.size(), "unsupported version " + std::to_string(h.version) + " (this build reads " +
                                         std::to_string(format_version) + ")");
  }
  if (crc32c(std::string_view(head, header_bytes - 4)) != get_fixed<std::uint32_t>(head + header_bytes - 4)) {
    throw format_error(0, "header checksum mismatch");
  }
  byte_reader in(std::string_view(head + magic.size() + 4, header_bytes - magic.size() - 4 - 4));
  h.ngram_size = in.fixed<std::uint32_t>();
  h.stop_words_digest = in.fixed<std::uint64_t>();
  h.stemming_digest = in.fixed<std::uint64_t>();
  h.analysis_flags = in.fixed<std::uint32_t>();
  h.applied_index = in.fixed<std::uint64_t>();
  h.digest = in.fixed<std::uint64_t>();
  h.skipped_non_utf8 = in.fixed<std::uint64_t>();
  h.doc_ids = in.fixed<std::uint32_t>();
  h.term_ids = in.fixed<std::uint32_t>();
  h.gram_ids = in.fixed<std::uint32_t>();
  h.documents = in.fixed<std::uint64_t>();
  h.terms = in.fixed<std::uint64_t>();
  h.postings = in.fixed<std::uint64_t>();
  h.ngrams = in.fixed<std::uint64_t>();
  h.ngram_postings = in.fixed<std::uint64_t>();
  return h;
}

void reader::read_chunk() {
  const std::uint64_t at = read_bytes_;
  char head[chunk_header_bytes];
  read_exactly(head, chunk_header_bytes, "a chunk header");
  const auto s = static_cast<section>(get_fixed<std::uint32_t>(head + 4));
  const auto length = get_fixed<std::uint32_t>(head + 8);
  if (length > max_chunk_bytes) throw format_error(at, "chunk length " + std::to_string(length) + " exceeds the maximum");
  read_exactly(buffer_.get(), length, "a chunk");
  std::uint32_t crc = crc32c(std::string_view(head + 4, chunk_header_bytes - 4));
  if (crc32c(std::string_view(buffer_.get(), length), crc) != get_fixed<std::uint32_t>(head)) {
    throw format_error(at, "chunk checksum mismatch");
  }
  chunk_offset_ = at;
  chunk_section_ = s;
  pos_ = buffer_.get();
  end_ = pos_ + length;
  chunk_pending_ = true;
  ++chunks_;
  body_bytes_ += length;
}

void reader::begin(section s) {
  if (!chunk_pending_) read_chunk();
  if (chunk_section_ != s) {
    throw format_error(chunk_offset_, "expected section '" + std::string(name(s)) + "', found section number " +
                                          std::to_string(static_cast<std::uint32_t>(chunk_section_)));
  }
  chunk_pending_ = false;
  section_ = s;
}

void reader::next_chunk_of_section() {
  while (pos_ == end_) {
    read_chunk();
    if (chunk_section_ != section_) {
      throw format_error(chunk_offset_, "section '" + std::string(name(section_)) + "' ends early");
    }
    chunk_pending_ = false;
  }
}

void reader::end() {
  if (pos_ != end_) fail("section '" + std::string(name(section_)) + "' has bytes left over");
  read_chunk();  // the next section's first chunk, or the footer
  if (chunk_section_ == section_) {
    throw format_error(chunk_offset_, "section '" + std::string(name(section_)) + "' has bytes left over");
  }
}

void reader::finish() {
  const std::uint64_t chunks = chunks_ - 1;  // the footer's own chunk is read already
  const std::uint64_t body_bytes = body_bytes_ - static_cast<std::uint64_t>(end_ - buffer_.get());
  begin(section::footer);
  if (end_ - pos_ != static_cast<std::ptrdiff_t>(footer_body_bytes)) fail("malformed footer");
  const std::uint64_t footer_chunks = u64();
  const std::uint64_t footer_body_bytes = u64();
  if (footer_chunks != chunks || footer_body_bytes != body_bytes) {
    throw format_error(chunk_offset_, "the footer does not match the chunks read");
  }
  char extra;
  if (in_(&extra, 1) != 0) throw format_error(read_bytes_, "bytes after the footer");
}

void reader::bytes(void* out, std::size_t n) {
  char* p = static_cast<char*>(out);
  while (n > 0) {
    next_chunk_of_section();
    std::size_t take = std::min(n, static_cast<std::size_t>(end_ - pos_));
    std::memcpy(p, pos_, take);
    pos_ += take;
    p += take;
    n -= take;
  }
}

std::uint32_t reader::varint_slow() {
  std::uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    next_chunk_of_section();
    auto b = static_cast<unsigned char>(*pos_++);
    if (shift == 28 && b > 0x0f) fail("malformed varint");
    v |= static_cast<std::uint32_t>(b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
  fail("malformed varint");
}

std::size_t reader::length(std::uint64_t n) {
  if (n > file_bytes_) fail("a length of " + std::to_string(n) + " exceeds the file's size");
  return static_cast<std::size_t>(n);
}

std::string reader::string(std::size_t n) {
  std::string s;
  append(s, n);
  return s;
}

void save(writer& w, const byte_blob& record) {
  w.varint(record.size());
  w.bytes(record.begin(), record.size());
}

byte_blob load_blob(reader& r) {
  byte_blob record = byte_blob::with_size(static_cast<std::uint32_t>(r.length(r.varint())));
  r.bytes(record.data(), record.size());
  return record;
}

// ---- files ----

void write_file(const std::filesystem::path& path, const std::function<void(const writer::sink&)>& fill) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno(errno, "cannot create", tmp);
  try {
    fill([&](std::string_view bytes) {
      while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(errno, "cannot write", tmp);
        bytes.remove_prefix(static_cast<std::size_t>(n));
      }
    });
    if (::fdatasync(fd) != 0) throw_errno(errno, "cannot fdatasync", tmp);
    int closed = ::close(std::exchange(fd, -1));
    if (closed != 0) throw_errno(errno, "cannot close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno(errno, "cannot rename over " + path.string() + ":", tmp);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw_errno(errno, "cannot open directory", dir);
  int synced = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (synced != 0) throw_errno(err, "cannot fsync directory", dir);
}

file_source::file_source(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_errno(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw_errno(err, "cannot stat", path);
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

file_source::~file_source() { ::close(fd_); }

std::size_t file_source::read(char* out, std::size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_, out, n);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) throw_errno(errno, "cannot read", path_);
  }
}

}  // namespace kv::search::persist
