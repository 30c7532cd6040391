# shellcheck shell=bash
# Host packages for the lab (sourced by lab/lab). Idempotent and quick when all is present:
# dpkg-query decides whether apt-get has to run at all.

LAB_PKGS=(
  qemu-system-x86 qemu-system-xen seabios          # QEMU (TCG) + the Xen device model for HVM domUs
  xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
  linux-image-amd64 busybox-static bash jq          # dom0/domU kernel, dom0 userland
  cpio kmod file xz-utils gzip binutils coreutils   # image building
  qemu-utils ipxe-qemu                              # qcow2 test disk (qemu-img), NIC option ROMs
  grub-common grub-xen-bin                          # a PvGrub2 test kernel (grub-mkimage)
  python3.11-minimal libpython3.11-stdlib e2fsprogs # pygrub in dom0, ext2 images for it
)
LAB_QEMU_PKGS=(qemu-system-x86 qemu-system-xen seabios)

lab_missing_pkgs() {  # print the packages of "$@" that are not installed
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || echo "$p"
  done
}

lab_install() {
  local missing
  mapfile -t missing < <(lab_missing_pkgs "${LAB_PKGS[@]}")
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "lab: missing packages (${missing[*]}) and not root: install them or run as root" >&2
    return 1
  fi
  echo "lab: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A qemu-utils from bookworm-backports (10.x) breaks bookworm's qemu-system-common 7.2
  # ("Breaks: qemu-system-common (< 1:8.0...)"): then QEMU must come from backports too.
  local qemu_from=()
  if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      local mirror
      mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
      [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
      [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" > /etc/apt/sources.list.d/bookworm-backports.sources
    fi
    qemu_from=(-t bookworm-backports)
  fi
  apt-get update -q
  local q=() o=() p
  for p in "${missing[@]}"; do
    if printf '%s\n' "${LAB_QEMU_PKGS[@]}" | grep -qx "$p"; then q+=("$p"); else o+=("$p"); fi
  done
  if [ "${#q[@]}" -gt 0 ]; then
    apt-get install -y -q --no-install-recommends "${qemu_from[@]}" "${q[@]}"
  fi
  if [ "${#o[@]}" -gt 0 ]; then
    apt-get install -y -q --no-install-recommends "${o[@]}"
  fi
  mapfile -t missing < <(lab_missing_pkgs "${LAB_PKGS[@]}")
  if [ "${#missing[@]}" -ne 0 ]; then
    echo "lab: still missing after apt-get: ${missing[*]}" >&2
    return 1
  fi
}
