# shellcheck shell=bash
# Image building for the lab (sourced by lab/lab). Every artefact under $IMG has a NAME.key
# file holding a hash of its inputs (source files, package versions); it is rebuilt only when
# that hash changes.
#   $IMG/xen-4.17        hypervisor, gunzipped (QEMU's multiboot loader cannot read .gz)
#   $IMG/vmlinuz         Debian kernel: dom0
#   $IMG/vmlinux         the same kernel as an ELF: PV domU (loads fast, no un-xz under TCG)
#   $IMG/domU.cpio.gz    PV domU initramfs: busybox + guest/pv-init.sh
#   $IMG/boot.img        HVM domU disk: boot sector from guest/boot.S
#   $IMG/tick.img        HVM domU disk for save/restore: boot sector from guest/tick.S
#   $IMG/pvh-tick.elf    PVH domU for save/restore: guest/pvh-tick.c
#   $IMG/boot.qcow2      the same disk as qcow2, with a blank installer.iso beside it
#   $IMG/pvh.elf         PVH domU kernel from guest/pvh.S
#   $IMG/dom0.cpio.gz    dom0 initramfs: busybox, bash, jq, the Xen 4.17 userland, the
#                        device model + firmware, xen kernel modules, the guest images above
# What changes often (dom0 init, suites, corpus, our xl) travels in a second cpio made per run.

# The dom0/domU kernel: the newest installed one. Decided when the images are built, since on
# a fresh machine the kernel package arrives with lab_install, after this file is sourced.
lab_kver() {
  [ -n "${KVER:-}" ] && return 0
  KVER=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
  [ -n "$KVER" ] || { echo "lab: no kernel in /lib/modules (is linux-image-amd64 installed?)" >&2; return 1; }
}

lab_pkgver() {  # versions of packages, one line each (missing ones included)
  dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null || true
}

lab_hash() {  # lab_hash ITEM...: an ITEM is a file (its bytes count) or a literal string
  local i
  for i in "$@"; do
    if [ -f "$i" ]; then echo "file $i"; sha256sum < "$i"; else echo "str $i"; fi
  done | sha256sum | cut -c1-32
}

lab_fresh() {  # lab_fresh NAME KEY: true if $IMG/NAME exists and was built from KEY
  [ -e "$IMG/$1" ] && [ -f "$IMG/$1.key" ] && [ "$(cat "$IMG/$1.key")" = "$2" ]
}

lab_done() {  # lab_done NAME KEY
  echo "$2" > "$IMG/$1.key"
  echo "lab: built $1 ($(du -h "$IMG/$1" | cut -f1))" >&2
}

lab_copy_elf() {  # lab_copy_elf ROOT FILE...: copy programs and the libraries they load
  local root="$1" f lib
  shift
  for f in "$@"; do
    rm -f "$root$f"
    install -D -m 0755 "$f" "$root$f"
    if file -L "$f" | grep -q 'dynamically linked'; then
      for lib in $(ldd "$f" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'); do
        [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
      done
    fi
  done
}

lab_skeleton() {  # lab_skeleton ROOT: empty merged-/usr tree with busybox applet links
  local root="$1" a
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,proc,sys,dev,tmp,run,var,root,mnt}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  install -m 0755 /bin/busybox "$root/usr/bin/busybox"
  for a in $(/bin/busybox --list-full); do
    [ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s /usr/bin/busybox "$root/$a"
  done
}

lab_cpio() {  # lab_cpio DIR OUTFILE
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 | gzip -1) > "$2.tmp"
  mv "$2.tmp" "$2"
}

lab_build_xen417() {
  local key
  key=$(lab_hash "$(stat -c '%s %Y' /boot/xen-4.17-amd64.gz)" "$(lab_pkgver xen-hypervisor-4.17-amd64)")
  lab_fresh xen-4.17 "$key" && return 0
  zcat /boot/xen-4.17-amd64.gz > "$IMG/xen-4.17"
  lab_done xen-4.17 "$key"
}

lab_build_kernel() {
  local key off
  key=$(lab_hash "$KVER" "$(stat -c '%s %Y' "/boot/vmlinuz-$KVER")")
  lab_fresh vmlinux "$key" && lab_fresh vmlinuz "$key" && return 0
  cp "/boot/vmlinuz-$KVER" "$IMG/vmlinuz"
  # the bzImage payload is xz: find its magic and unpack the ELF vmlinux behind it
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$IMG/vmlinuz" | head -n1 | cut -d: -f1)
  tail -c +$((off + 1)) "$IMG/vmlinuz" | xz -dc > "$IMG/vmlinux" 2>/dev/null || true
  if ! file "$IMG/vmlinux" | grep -q 'ELF 64-bit'; then
    echo "lab: could not extract vmlinux from /boot/vmlinuz-$KVER" >&2
    return 1
  fi
  lab_done vmlinuz "$key"; lab_done vmlinux "$key"
}

lab_build_domu() {
  local key r="$IMG/rootfs-domU"
  key=$(lab_hash "$LAB/guest/pv-init.sh" "$LAB/guest/pv-shutdown.sh" "$(lab_pkgver busybox-static)" "$KVER")
  lab_fresh domU.cpio.gz "$key" && return 0
  lab_skeleton "$r"
  install -m 0755 "$LAB/guest/pv-init.sh" "$r/init"
  # the PV disk and network frontends (modules in Debian's kernel), so the guest can show
  # the devices the toolstack gave it
  mkdir -p "$r/modules"
  cp "/lib/modules/$KVER/kernel/drivers/block/xen-blkfront.ko" \
     "/lib/modules/$KVER/kernel/drivers/net/xen-netfront.ko" "$r/modules/"
  # the kernel runs /sbin/poweroff or /sbin/reboot when the toolstack asks (control/shutdown)
  rm -f "$r/usr/sbin/poweroff" "$r/usr/sbin/reboot" "$r/sbin/poweroff" "$r/sbin/reboot"
  install -m 0755 "$LAB/guest/pv-shutdown.sh" "$r/usr/sbin/poweroff"
  install -m 0755 "$LAB/guest/pv-shutdown.sh" "$r/usr/sbin/reboot"
  lab_cpio "$r" "$IMG/domU.cpio.gz"
  rm -rf "$r"
  lab_done domU.cpio.gz "$key"
}

lab_build_tiny() {
  local key t
  key=$(lab_hash "$LAB/guest/boot.S" "$LAB/guest/tick.S" "$LAB/guest/pvh.S" "$LAB/guest/pvh-tick.c" \
    "$(lab_pkgver binutils)" "$(lab_pkgver qemu-utils)" "$(lab_pkgver gcc-12)")
  lab_fresh boot.img "$key" && lab_fresh tick.img "$key" && lab_fresh pvh.elf "$key" &&
    lab_fresh pvh-tick.elf "$key" && lab_fresh boot.qcow2 "$key" && return 0
  t=$(mktemp -d)
  local s
  for s in boot tick; do
    as --32 -o "$t/$s.o" "$LAB/guest/$s.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$t/$s.bin" "$t/$s.o"
    if [ "$(stat -c %s "$t/$s.bin")" -ne 512 ]; then
      echo "lab: boot sector $s is $(stat -c %s "$t/$s.bin") bytes, want 512" >&2; rm -rf "$t"; return 1
    fi
    rm -f "$IMG/$s.img"
    truncate -s 1M "$IMG/$s.img"
    dd if="$t/$s.bin" of="$IMG/$s.img" conv=notrunc status=none
  done
  # The NixOS wiki's HVM example: the disk as qcow2, an installer ISO as a cdrom (this one
  # is blank, so SeaBIOS goes on to the disk as boot="cd" says).
  rm -f "$IMG/boot.qcow2" "$IMG/installer.iso"
  qemu-img convert -q -f raw -O qcow2 "$IMG/boot.img" "$IMG/boot.qcow2"
  truncate -s 64K "$IMG/installer.iso"
  as --32 -o "$t/pvh.o" "$LAB/guest/pvh.S"
  # -N: one small RWX segment; the note section must sit inside the guest's RAM too
  ld -m elf_i386 -N --no-warn-rwx-segments -Ttext=0x100000 --section-start=.note.Xen=0x100800 -o "$IMG/pvh.elf" "$t/pvh.o"
  # freestanding, no SSE (the PVH entry state does not enable it), the note inside RAM
  gcc -m32 -ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
    -fno-asynchronous-unwind-tables -mgeneral-regs-only -O2 -Wall -c -o "$t/pvh-tick.o" "$LAB/guest/pvh-tick.c"
  ld -m elf_i386 -N --no-warn-rwx-segments --section-start=.note.Xen=0x100000 -Ttext=0x100100 -e _start \
    -o "$IMG/pvh-tick.elf" "$t/pvh-tick.o"
  rm -rf "$t"
  lab_done boot.img "$key"; lab_done tick.img "$key"; lab_done pvh.elf "$key"; lab_done pvh-tick.elf "$key"
  lab_done boot.qcow2 "$key"
}

lab_build_pvgrub() {  # a PvGrub2 image (Debian's grub-xen-bin) whose embedded config prints
  # markers on the PV console and halts: a non-Linux PV ELF for the domain builder
  local key t
  key=$(lab_hash "$LAB/guest/pvgrub.grub" "$(lab_pkgver grub-xen-bin grub-common)")
  lab_fresh pvgrub.elf "$key" && return 0
  t=$(mktemp -d)
  grep -v '^#' "$LAB/guest/pvgrub.grub" > "$t/embedded.cfg"
  grub-mkimage -O x86_64-xen -o "$IMG/pvgrub.elf" -c "$t/embedded.cfg" -p /boot/grub echo halt sleep
  rm -rf "$t"
  lab_done pvgrub.elf "$key"
}

lab_build_dom0() {
  local key r="$IMG/rootfs-dom0" xenlib=/usr/lib/xen-4.17 bins m t f
  key=$(lab_hash "$LAB/host/build.sh" "$KVER" \
        "$(cat "$IMG"/{vmlinux,domU.cpio.gz,boot.img,tick.img,pvh.elf,pvh-tick.elf,pvgrub.elf,boot.qcow2}.key)" \
        "$(lab_pkgver xen-utils-4.17 xen-utils-common xenstore-utils qemu-system-xen seabios busybox-static bash jq libc6 util-linux mount python3.11-minimal libpython3.11-stdlib e2fsprogs sysvinit-utils)")
  lab_fresh dom0.cpio.gz "$key" && return 0
  lab_skeleton "$r"
  # bash for the suites, jq for same_json, coreutils timeout (exit 124 on timeout; busybox's
  # reports the signal instead, 143); for the hotplug scripts, util-linux flock and losetup
  # and coreutils stat (busybox has no flock applet, so /etc/xen/scripts/block failed file-backed
  # vbds with "block failed; error detected"; its lock loop needs `stat -L -c %D.%i`)
  lab_copy_elf "$r" /usr/bin/bash /usr/bin/jq /usr/bin/timeout /usr/bin/flock /usr/sbin/losetup \
    /usr/bin/stat
  # Xen userland (all but the python tools) and the xenstore client
  bins=()
  for f in "$xenlib"/bin/*; do
    case "$f" in */pygrub|*/xenpvnetboot) ;; *) bins+=("$f");; esac
  done
  lab_copy_elf "$r" "${bins[@]}" /usr/bin/xenstore
  mkdir -p "$r$xenlib/boot"; cp -a "$xenlib"/boot/. "$r$xenlib/boot/"
  # pygrub: the script, python3 with the standard library it imports (no tests, tools or
  # GUI), Xen's python modules (xenfsimage, grub) and the file system plugins, and mke2fs
  # for the disk images the create suite makes
  install -D -m 0755 "$xenlib/bin/pygrub" "$r$xenlib/bin/pygrub"
  lab_copy_elf "$r" /usr/bin/python3.11 /usr/sbin/mke2fs
  ln -sf python3.11 "$r/usr/bin/python3"
  # the terminal descriptions curses needs (pygrub's menu runs on a vt100)
  mkdir -p "$r/usr/lib/terminfo"; cp -a /lib/terminfo/. "$r/usr/lib/terminfo/"
  mkdir -p "$r/usr/lib/python3.11"
  (cd /usr/lib/python3.11 && tar -c --exclude=__pycache__ --exclude=./test --exclude=./idlelib \
     --exclude=./tkinter --exclude=./ensurepip --exclude=./lib2to3 --exclude=./turtledemo \
     --exclude=./pydoc_data --exclude=./config-3.11-x86_64-linux-gnu --exclude=./site-packages \
     --exclude=./dist-packages .) | tar -x -C "$r/usr/lib/python3.11"
  mkdir -p "$r$xenlib/lib"
  cp -a "$xenlib/lib/python" "$xenlib/lib/x86_64-linux-gnu" "$r$xenlib/lib/"
  while IFS= read -r f; do lab_copy_elf "$r" "$f"; done < <(find /usr/lib/python3.11/lib-dynload \
    "$xenlib/lib/python" "$xenlib/lib/x86_64-linux-gnu" -name '*.so*' -type f)
  for t in read write ls list rm exists chmod watch; do ln -sf xenstore "$r/usr/bin/xenstore-$t"; done
  for t in xl xentop xenstored xenconsoled xen-init-dom0 xenstore-control; do
    ln -sf "$xenlib/bin/$t" "$r/usr/sbin/$t"
  done
  ln -sf "$xenlib/bin/xl" "$r/usr/sbin/xl-ref"
  # device model (HVM) with firmware and keymaps; skip the big UEFI images
  lab_copy_elf "$r" /usr/libexec/xen-qemu-system-i386
  mkdir -p "$r/usr/share/qemu"; cp -a /usr/share/seabios "$r/usr/share/"
  # the option ROMs of the NIC models the lab's HVM guests use (QEMU looks in ipxe's folder)
  mkdir -p "$r/usr/lib/ipxe/qemu"
  cp -a /usr/lib/ipxe/qemu/efi-rtl8139.rom /usr/lib/ipxe/qemu/efi-e1000.rom "$r/usr/lib/ipxe/qemu/"
  for f in /usr/share/qemu/*; do
    case "$f" in *edk2*|*OVMF*|*.fd|*/firmware) ;; *) cp -aLr "$f" "$r/usr/share/qemu/" 2>/dev/null || true;; esac
  done
  # /etc/xen as packaged (xl.conf, scripts); ld.so config
  cp -a /etc/xen "$r/etc/"
  if [ ! -f "$r/etc/xen/xl.conf" ]; then
    echo "lab: /etc/xen/xl.conf missing on the host (xen-utils-common)" >&2; return 1
  fi
  cp -a /etc/ld.so.conf "$r/etc/"; mkdir -p "$r/etc/ld.so.conf.d"; cp -a /etc/ld.so.conf.d/. "$r/etc/ld.so.conf.d/"
  ldconfig -r "$r" 2>/dev/null || true
  mkdir -p "$r/var/lib/xen" "$r/var/log/xen" "$r/etc/default"
  # Debian's xendomains init script and what it runs (its helpers, the LSB functions)
  mkdir -p "$r/etc/init.d" "$r/usr/lib/xen-common" "$r/lib/init" "$r/lib/lsb"
  cp -a /etc/init.d/xendomains "$r/etc/init.d/"
  cp -a /usr/lib/xen-common/bin "$r/usr/lib/xen-common/"
  cp -a /lib/init/vars.sh "$r/lib/init/"
  cp -a /lib/lsb/init-functions /lib/lsb/init-functions.d "$r/lib/lsb/"
  echo "root:x:0:0:root:/root:/bin/bash" > "$r/etc/passwd"; echo "root:x:0:" > "$r/etc/group"
  # kernel modules for Xen backends (busybox modprobe reads modules.dep)
  m=/lib/modules/$KVER
  for f in kernel/drivers/xen kernel/drivers/block/xen-blkback kernel/drivers/net/xen-netback \
           kernel/drivers/block/loop.ko kernel/net/bridge kernel/net/802/stp.ko kernel/net/llc/llc.ko \
           kernel/drivers/net/tun.ko kernel/drivers/pci/pci-stub.ko kernel/drivers/usb/common \
           kernel/drivers/usb/core kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/host/xhci-pci.ko; do
    [ -e "$m/$f" ] || continue
    mkdir -p "$r$m/$(dirname "$f")"; cp -a "$m/$f" "$r$m/$(dirname "$f")/"
  done
  cp -a "$m"/modules.order "$m"/modules.builtin* "$r$m/" 2>/dev/null || true
  depmod -b "$r" "$KVER"
  # guest images
  mkdir -p "$r/lab/guest"
  cp "$IMG"/{vmlinux,vmlinuz,domU.cpio.gz,boot.img,tick.img,boot.qcow2,installer.iso,pvh.elf,pvh-tick.elf,pvgrub.elf} "$r/lab/guest/"
  lab_cpio "$r" "$IMG/dom0.cpio.gz"
  rm -rf "$r"
  lab_done dom0.cpio.gz "$key"
}

lab_build_images() {
  mkdir -p "$IMG"
  lab_kver
  lab_build_xen417
  lab_build_kernel
  lab_build_domu
  lab_build_tiny
  lab_build_pvgrub
  lab_build_dom0
}
