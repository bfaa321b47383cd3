# Warnings, sanitizers and the compile options every kvnode target shares (through kv_options).
option(KV_WERROR "Treat compiler warnings as errors" OFF)
option(KV_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(KV_TSAN "Build with ThreadSanitizer (make test-tsan)" OFF)

add_library(kv_options INTERFACE)
target_compile_options(kv_options INTERFACE -Wall -Wextra)
target_include_directories(kv_options INTERFACE ${PROJECT_SOURCE_DIR})
if(KV_WERROR)
  target_compile_options(kv_options INTERFACE -Werror)
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 reports a false mismatched new/delete on the coroutine frames Asio allocates.
  target_compile_options(kv_options INTERFACE -Wno-mismatched-new-delete)
  # g++ 12 reports false overlaps in std::string concatenation at -O3 (GCC bug 105329).
  target_compile_options(kv_options INTERFACE -Wno-restrict)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # Asio 1.22 does not detect clang's coroutine support on its own.
  target_compile_definitions(kv_options INTERFACE ASIO_HAS_CO_AWAIT=1)
endif()

if(KV_SANITIZE)
  set(kv_sanitize_flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_compile_options(kv_options INTERFACE ${kv_sanitize_flags})
  target_link_options(kv_options INTERFACE ${kv_sanitize_flags})
  target_compile_definitions(kv_options INTERFACE KV_SANITIZE=1)
endif()

if(KV_TSAN)
  if(KV_SANITIZE)
    message(FATAL_ERROR "KV_TSAN and KV_SANITIZE cannot be combined (ThreadSanitizer excludes AddressSanitizer)")
  endif()
  set(kv_tsan_flags -fsanitize=thread -fno-omit-frame-pointer)
  target_compile_options(kv_options INTERFACE ${kv_tsan_flags})
  target_link_options(kv_options INTERFACE ${kv_tsan_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's handler fences (std::atomic_thread_fence) are not modelled by ThreadSanitizer; g++
    # says so for every file that includes them.
    target_compile_options(kv_options INTERFACE -Wno-tsan)
  endif()
endif()
