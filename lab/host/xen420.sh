# shellcheck shell=bash
# Xen 4.20 from Debian trixie, for `lab --xen 4.20` (sourced by lab/lab).
# The .debs come from a private apt state (lists, cache, sources) under $LAB_OUT/apt-trixie,
# so the host's own apt setup is untouched.
#   $IMG/xen-4.20                  the hypervisor (gunzipped)
#   $IMG/xen420-userland.cpio.gz   a trixie root at /opt/xen-4.20 in dom0: glibc 2.41, the
#                                  Xen 4.20 libraries and tools, busybox; dom0 runs the 4.20
#                                  daemons and xl chrooted into it (see dom0/init.sh), and
#                                  /usr/local/bin/xl is a wrapper that keeps the caller's cwd.

X420_SUITE=trixie
# what the chrooted tools need (checked below: every ELF's libraries must resolve)
X420_PKGS=(
  xen-hypervisor-4.20-amd64 xen-utils-4.20 xen-utils-common xenstore-utils bash
  libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
  libxenhypfs1 libxenmisc4.20 libxenstore4 libxentoolcore1 libxentoollog1
  libyajl2 libc6 libgcc-s1 libncurses6 libncursesw6 libtinfo6 libuuid1
  liblzma5 libbz2-1.0 libzstd1 zlib1g
  # HVM device model (qemu-xen) and firmware, with the libraries it loads
  qemu-system-xen qemu-system-data seabios ipxe-qemu
  libpixman-1-0 libjpeg62-turbo libusb-1.0-0 libfdt1 libspice-server1 libglib2.0-0t64 libudev1
  libssl3t64 libopus0 libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 liborc-0.4-0t64 liblz4-1
  libsasl2-2 libstdc++6 libpcre2-8-0 libffi8 libunwind8 libdw1t64 libelf1t64 libmount1 libblkid1
  libselinux1 libatomic1 libcap2 libxxhash0 libdrm2 libdb5.3t64 libcap-ng0
  # the hotplug scripts' lock and loop devices: flock, coreutils stat, losetup (busybox has no
  # flock and its stat lacks -L -c %D.%i: the block script fails or spins without them)
  util-linux mount coreutils libacl1 libattr1 libgmp10 libsmartcols1 libcrypt1 libsystemd0
  libcap2-bin liblastlog2-2 libpam0g libaudit1 libsqlite3-0 libtinfo6
)

lab_apt420() {  # apt-get/apt-cache against the private trixie state: lab_apt420 apt-get ARGS...
  local a="$LAB_OUT/apt-trixie" tool="$1"
  shift
  "$tool" -o Dir::State="$a" -o Dir::State::Lists="$a/lists" -o Dir::State::status="$a/status" \
    -o Dir::Cache="$a/cache" -o Dir::Etc::sourcelist="$a/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::Etc::preferencesparts="$a/preferences.d" -o Dir::Etc::parts="$a/apt.conf.d" \
    -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

lab_fetch420() {  # download X420_PKGS into $LAB_OUT/apt-trixie/debs (re-uses what is there)
  local a="$LAB_OUT/apt-trixie" mirror p missing=()
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/preferences.d" "$a/apt.conf.d" "$a/debs"
  [ -f "$a/status" ] || : > "$a/status"
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  cat > "$a/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $X420_SUITE main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/debian}/debian-security $X420_SUITE-security main
SRC
  for p in "${X420_PKGS[@]}"; do
    compgen -G "$a/debs/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "lab: fetching trixie packages: ${missing[*]}" >&2
  lab_apt420 apt-get -q update >&2
  (cd "$a/debs" && lab_apt420 apt-get -q download "${missing[@]}" >&2)
}

lab_build_xen420() {
  local a="$LAB_OUT/apt-trixie" key r f lib bad=0 ld libpath
  lab_fetch420
  key=$(lab_hash "$LAB/host/xen420.sh" "$(cd "$a/debs" && ls)")
  if lab_fresh xen-4.20 "$key" && lab_fresh xen420-userland.cpio.gz "$key"; then return 0; fi
  r="$IMG/rootfs-xen420"
  rm -rf "$r"; mkdir -p "$r/opt"
  local c="$r/opt/xen-4.20"
  mkdir -p "$c"
  for f in "$a"/debs/*.deb; do dpkg-deb -x "$f" "$c"; done
  f=$(find "$c/boot" -name 'xen-4.20*-amd64.gz' | sort | head -n 1)
  [ -n "$f" ] || { echo "lab: no xen-4.20*-amd64.gz in xen-hypervisor-4.20-amd64" >&2; return 1; }
  zcat "$f" > "$IMG/xen-4.20"
  rm -rf "${c:?}/boot" "$c/usr/share/doc" "$c/usr/share/man" "$c/usr/share/locale" "$c/usr/lib/debug"
  # firmware the device model does not need here (UEFI images are big)
  find "$c/usr/share/qemu" \( -name '*edk2*' -o -name '*OVMF*' -o -name '*.fd' \) -exec rm -rf {} + 2>/dev/null || true
  # of the NICs' option ROMs, those of the models the lab's HVM guests use (dom0's root is RAM)
  find "$c/usr/lib/ipxe" -type f ! -name 'efi-rtl8139.rom' ! -name 'efi-e1000.rom' -delete 2>/dev/null || true
  # trixie is merged-/usr: make sure the top-level links exist
  for f in bin sbin lib lib64; do
    [ -e "$c/$f" ] || [ -L "$c/$f" ] || { mkdir -p "$c/usr/$f"; ln -s "usr/$f" "$c/$f"; }
  done
  # a shell and tools for scripts run inside (busybox is static)
  install -m 0755 /bin/busybox "$c/usr/bin/busybox"
  for f in $(/bin/busybox --list-full); do
    [ -e "$c/$f" ] || [ -L "$c/$f" ] || ln -s /usr/bin/busybox "$c/$f"
  done
  # xl and friends under their plain names (Debian's /usr/sbin/xl is a version-picking wrapper)
  for f in xl xentop xenstored xenconsoled xen-init-dom0 xenstore-control; do
    rm -f "$c/usr/sbin/$f"; ln -s "/usr/lib/xen-4.20/bin/$f" "$c/usr/sbin/$f"
  done
  mkdir -p "$c"/{proc,sys,dev,run,tmp,root,lab,tests,out,extra,var/lib/xen,var/log/xen}
  rm -rf "$c/var/run" "$c/var/lock"; ln -s /run "$c/var/run"; ln -s /run/lock "$c/var/lock"
  echo "root:x:0:0:root:/root:/bin/sh" > "$c/etc/passwd"; echo "root:x:0:" > "$c/etc/group"
  [ -f "$c/etc/xen/xl.conf" ] || { echo "lab: trixie xen-utils-common has no /etc/xen/xl.conf" >&2; return 1; }
  # every ELF must find its libraries inside the root (checked with the root's own ld.so)
  ld="$c/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  libpath="$c/usr/lib/x86_64-linux-gnu:$c/usr/lib/xen-4.20/lib"
  for f in "$c"/usr/lib/xen-4.20/bin/* "$c"/usr/bin/xenstore "$c"/usr/libexec/xen-qemu-system-i386 \
           "$c"/usr/bin/flock "$c"/usr/bin/stat "$c"/usr/sbin/losetup; do
    file -L "$f" | grep -q 'ELF.*dynamically linked' || continue
    if "$ld" --library-path "$libpath" --list "$f" 2>&1 | grep -q 'not found'; then
      for lib in $("$ld" --library-path "$libpath" --list "$f" 2>&1 | awk '/not found/{print $1}'); do
        echo "lab: xen 4.20 root: ${f#"$c"} needs $lib (not in X420_PKGS)" >&2
      done
      case "$f" in */xl|*/xenstored|*/xenconsoled|*/xenconsole|*/xen-init-dom0|*/xentop|*/libxl-save-helper|*/xenstore|*/xen-qemu-system-i386|*/flock|*/stat|*/losetup) bad=1;; esac
    fi
  done
  [ "$bad" = 0 ] || return 1
  # the dom0 side: wrappers that run the 4.20 tools chrooted, from the caller's folder
  mkdir -p "$r/usr/local/bin"
  # (bash and coreutils' chroot, not busybox: its ash crashed now and then as this wrapper)
  mkdir -p "$r/usr/sbin"; install -m 0755 /usr/sbin/chroot "$r/usr/sbin/chroot"
  for f in xl xentop xenstore-control; do
    # shellcheck disable=SC2016  # $0, $@ and $PWD are for the wrapper, not for us
    printf '#!/usr/bin/bash\n# run the Xen 4.20 %s inside /opt/xen-4.20, keeping the working folder\nexec /usr/sbin/chroot /opt/xen-4.20 /usr/bin/bash -c '\''cd "$0" 2>/dev/null || cd /; exec %s "$@"'\'' "$PWD" "$@"\n' \
      "$f" "$f" > "$r/usr/local/bin/$f"
    chmod 0755 "$r/usr/local/bin/$f"
  done
  ln -s xl "$r/usr/local/bin/xl-ref"
  ln -s /usr/lib/xen-4.17/bin/xl "$r/usr/local/bin/xl-4.17"
  lab_cpio "$r" "$IMG/xen420-userland.cpio.gz"
  rm -rf "$r"
  lab_done xen-4.20 "$key"; lab_done xen420-userland.cpio.gz "$key"
}

lab_xen420_runconf() {  # lines for dom0's /lab/run.conf
  echo "LAB_CHROOT=/opt/xen-4.20"
  echo "LAB_XENLIB=/usr/lib/xen-4.20"
  echo "LAB_XENRUN=\"chroot /opt/xen-4.20\""
}
