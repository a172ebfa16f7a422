# Installing the library as a user links it: libustack.a, the public headers
# (include/ustack/*.h), the `ustack` command, a pkg-config file (ustack.pc)
# and a CMake package (find_package(ustack) -> ustack::ustack). Both are
# relocatable: `cmake --install b --prefix P` works for any P.
include(CMakePackageConfigHelpers)

install(TARGETS ustack EXPORT ustackTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/ustack DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS ustack-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(USTACK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ustack)
install(EXPORT ustackTargets NAMESPACE ustack:: DESTINATION ${USTACK_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ustackConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/ustackConfig.cmake
                              INSTALL_DESTINATION ${USTACK_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ustackConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ustackConfig.cmake ${CMAKE_BINARY_DIR}/ustackConfigVersion.cmake
        DESTINATION ${USTACK_CMAKE_DIR})

# ustack.pc finds the prefix from its own place (${pcfiledir}), so the path
# from <libdir>/pkgconfig back up to the prefix: "../.." for lib/pkgconfig.
set(USTACK_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH USTACK_PC_TO_PREFIX /prefix/${USTACK_PC_DIR} /prefix)
string(REGEX REPLACE "/$" "" USTACK_PC_TO_PREFIX "${USTACK_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/ustack.pc.in ${CMAKE_BINARY_DIR}/ustack.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ustack.pc DESTINATION ${USTACK_PC_DIR})
