# Third-party libraries, all from Debian packages (installed by cmake/install-deps.sh).
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(absl REQUIRED)
find_package(nlohmann_json 3 REQUIRED)  # kvctl -w json
find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
find_package(PkgConfig REQUIRED)
pkg_check_modules(liburing REQUIRED IMPORTED_TARGET liburing)

# Standalone Asio is header-only and ships no CMake package on Debian.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(asio INTERFACE Threads::Threads)

# jemalloc, for the kvnode binary: transparent huge pages for the heap make loading millions of
# keys at recovery several times faster on machines where page faults are dear (VMs).
pkg_check_modules(jemalloc REQUIRED IMPORTED_TARGET jemalloc)

# The search index (index/): ICU for Unicode character properties and case folding, Snowball's
# libstemmer for stemming. libstemmer ships no CMake or pkg-config file on Debian.
find_package(ICU REQUIRED COMPONENTS uc i18n)
find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
find_library(STEMMER_LIBRARY stemmer REQUIRED)
add_library(libstemmer UNKNOWN IMPORTED)
set_target_properties(libstemmer PROPERTIES IMPORTED_LOCATION ${STEMMER_LIBRARY}
                                            INTERFACE_INCLUDE_DIRECTORIES ${STEMMER_INCLUDE_DIR})
