# `cmake --install build [--prefix P]` (docs/operations.md, "Install"): the binaries, the systemd
# unit (its ExecStart rewritten to P/bin/sluice-node when installed), the sysusers.d entry for its
# user, the example configs, the scenarios and the sweep scripts.
#
#   P/bin/{sluice-node,sluice,sluice-sim,sluice-log}
#   P/lib/systemd/system/sluice-node.service     (SLUICE_SYSTEMD_UNIT_DIR)
#   P/lib/sysusers.d/sluice.conf                 (SLUICE_SYSUSERS_DIR)
#   P/share/sluice/{sluice-node.conf.example,node.toml,scenarios/,deploy/}
include(GNUInstallDirs)

set(SLUICE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "where the systemd unit goes, under the prefix")
set(SLUICE_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING "where the sysusers.d entry goes, under the prefix")
set(SLUICE_SHARE_DIR "${CMAKE_INSTALL_DATADIR}/sluice")

install(TARGETS sluice-node sluice sluice-sim sluice-log RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names the binary by its absolute path: the prefix is known only when installing.
install(CODE "
  set(unit_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${SLUICE_SYSTEMD_UNIT_DIR}\")
  file(READ \"${PROJECT_SOURCE_DIR}/deploy/systemd/sluice-node.service\" unit)
  string(REPLACE \"ExecStart=/usr/local/bin/sluice-node\" \"ExecStart=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/sluice-node\" unit \"\${unit}\")
  message(STATUS \"Installing: \${unit_dir}/sluice-node.service\")
  file(MAKE_DIRECTORY \"\${unit_dir}\")
  file(WRITE \"\${unit_dir}/sluice-node.service\" \"\${unit}\")
")
install(FILES deploy/systemd/sluice.sysusers DESTINATION ${SLUICE_SYSUSERS_DIR} RENAME sluice.conf)

install(FILES deploy/sluice-node.conf.example deploy/node.toml DESTINATION ${SLUICE_SHARE_DIR})
install(DIRECTORY scenarios/ DESTINATION ${SLUICE_SHARE_DIR}/scenarios FILES_MATCHING PATTERN "*.toml")
install(PROGRAMS deploy/sweep-shard.sh DESTINATION ${SLUICE_SHARE_DIR}/deploy)
install(PROGRAMS deploy/slurm/sweep.sbatch DESTINATION ${SLUICE_SHARE_DIR}/deploy/slurm)
install(FILES deploy/k8s/sweep-job.yaml deploy/k8s/sweep-merge-job.yaml DESTINATION ${SLUICE_SHARE_DIR}/deploy/k8s)
