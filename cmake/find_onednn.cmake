# Finds Debian's oneDNN (libdnnl-dev) for the CPU only, as the imported target idphoto::dnnl.
# Why not find_package(dnnl CONFIG): Debian builds oneDNN with the OpenCL GPU runtime, so its
# dnnl-config.cmake calls find_package(OpenCL REQUIRED) and fails unless ocl-icd-opencl-dev (only a
# Recommends of libdnnl-dev) is installed. We use the CPU engine only and include only dnnl.hpp,
# which needs no OpenCL header; libdnnl.so itself links libOpenCL.so.1, which libdnnl2 Depends on,
# so the OpenCL development files are never needed. Fails at configure time, naming the package.
find_path(IDPHOTO_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(IDPHOTO_DNNL_LIBRARY NAMES dnnl)
if(NOT IDPHOTO_DNNL_INCLUDE_DIR OR NOT IDPHOTO_DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found (oneapi/dnnl/dnnl.hpp: ${IDPHOTO_DNNL_INCLUDE_DIR}, "
                      "libdnnl: ${IDPHOTO_DNNL_LIBRARY}); install Debian's libdnnl-dev (scripts/setup)")
endif()
file(STRINGS "${IDPHOTO_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _dnnl_major
     REGEX "^#define DNNL_VERSION_MAJOR ")
string(REGEX REPLACE "[^0-9]" "" _dnnl_major "${_dnnl_major}")
if(_dnnl_major LESS 2)
  message(FATAL_ERROR "oneDNN ${_dnnl_major}.x found; idphoto needs oneDNN 2.x or later")
endif()
add_library(idphoto::dnnl UNKNOWN IMPORTED)
set_target_properties(idphoto::dnnl PROPERTIES
  IMPORTED_LOCATION "${IDPHOTO_DNNL_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${IDPHOTO_DNNL_INCLUDE_DIR}")
message(STATUS "oneDNN (CPU engine): ${IDPHOTO_DNNL_LIBRARY}")
