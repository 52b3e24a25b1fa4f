# SPDX-License-Identifier: Apache-2.0
# `cmake --install`: the public headers, the static libraries, the `overlay`
# command and a CMake package, so that a program outside this tree does
#   find_package(overlay CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE overlay::overlay)
# (docs/api.md; examples/ecg_live is such a program, built by InstalledPackage).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# overlay::overlay: everything an embedding needs (overlay::Client and below).
add_library(overlay_api INTERFACE)
set_target_properties(overlay_api PROPERTIES EXPORT_NAME overlay)
target_link_libraries(overlay_api INTERFACE overlay_client)
add_library(overlay::overlay ALIAS overlay_api)
if(OVERLAY_SANITIZE)
  # The libraries call the sanitizer's runtime: a program linking them must too.
  target_link_options(overlay_api INTERFACE -fsanitize=${OVERLAY_SANITIZE})
endif()

install(TARGETS overlay_base overlay_functions_core overlay_ecg overlay_functions overlay_schema
                overlay_transport overlay_storage overlay_core overlay_endpoint overlay_client
                overlay_api
  EXPORT overlayTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS overlay RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(module base core functions storage transport)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
# flatc's output, which overlay/transport/wire.h includes.
install(DIRECTORY ${PROJECT_BINARY_DIR}/transport/schema/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(overlay_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/overlay)
install(EXPORT overlayTargets NAMESPACE overlay:: DESTINATION ${overlay_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/overlayConfig.cmake.in
  ${PROJECT_BINARY_DIR}/overlayConfig.cmake INSTALL_DESTINATION ${overlay_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/overlayConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/overlayConfig.cmake ${PROJECT_BINARY_DIR}/overlayConfigVersion.cmake
  DESTINATION ${overlay_cmake_dir})
