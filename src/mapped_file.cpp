#include "mapped_file.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dptrain/error.hpp"

namespace dptrain::detail {

MappedFile::~MappedFile() {
  if (data != nullptr) ::munmap(const_cast<unsigned char*>(data), size);
  if (fd >= 0) ::close(fd);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, const std::string& kind) {
  auto m = std::make_shared<MappedFile>();
  m->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m->fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(m->fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Error("cannot read '" + path + "': not a regular file (" + kind + " is mapped)");
  if (st.st_size > 0) {
    void* p = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_PRIVATE, m->fd, 0);
    if (p == MAP_FAILED) throw Error("cannot map '" + path + "': " + std::strerror(errno));
    m->data = static_cast<const unsigned char*>(p);
    m->size = std::size_t(st.st_size);
  }
  return m;
}

}  // namespace dptrain::detail
