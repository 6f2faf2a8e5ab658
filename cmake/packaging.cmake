# The Debian package: `cpack -G DEB` (or `cmake --build build --target package`) after a build
# makes build/fwgate_VERSION_ARCH.deb from the install rules (binary stripped, man pages, bash
# completion). Depends are computed from the binary's shared libraries (dpkg-shlibdeps) plus the
# programs fwgate itself runs.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "fwgate")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "fwgate maintainers <fwgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "pre-flight gate and lab: do open TCP connections survive an nftables reload?")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "fwgate loads a proposed firewall ruleset through the kernel in a throwaway network\n\
namespace, shows what the change does as a plan, probes nodes (kernel, conntrack\n\
settings, live ruleset) over ssh without installing anything on them, and replays\n\
Ceph-shaped TCP traffic across the reload in network namespaces, emulating how\n\
kernel 4.4, 4.15 or the running kernel treat conntrack.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Programs fwgate runs (not found by dpkg-shlibdeps):
# - iptables: iptables-nft-restore / ip6tables-nft-restore load iptables-restore inputs, and its
#   xtables extensions translate iptables-nft rules (libxtables loads them at run time);
# - openssh-client: the fleet probe (probe/check --inventory); git: check --base. Without them
#   those commands say so and exit 3, so they are recommended, not required;
# - ansible-core: --ansible-inventory, suggested.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "iptables")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssh-client, git")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "ansible-core")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Only the program's own files (not test helpers or libraries, which are static).
set(CPACK_PACKAGE_INSTALL_DIRECTORY "fwgate")
include(CPack)
