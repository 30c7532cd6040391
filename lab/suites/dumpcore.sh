#!/usr/bin/bash
# dump-core: ours dumps the PVH tick guest (created paused by the real xl, so its pages do
# not change between dumps) as libxc's core file; a reader checks the file's structure and
# that the guest's loaded program is in its pages at its load addresses. With
# /extra/dumpcore-real (lab/lab --extra DIR, DIR holding that file) the real xl dumps the
# same domain too and both files are compared byte for byte (on a difference: sections,
# notes, vCPU contexts, shared info, pfn table and pages are told apart). The real xl
# takes minutes there under TCG (it maps each pfn up to the guest's highest on its own),
# so CI runs without it. A booted, then paused PV guest is dumped by both tools every
# time and the files compared. Failures (unknown domain, unwritable file, missing
# operand) answer as the real xl's.
set -uo pipefail
. /lab/suites/lib.sh

G=/lab/guest
D=/tmp/dumpcore
mkdir -p "$D"
PY="$D/corecheck.py"
cat >"$PY" <<'PY'
import hashlib, struct, sys

def sections(b):
    assert b[:4] == b"\x7fELF" and b[4] == 2 and b[5] == 1, "not a little-endian ELF64"
    (e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
     e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", b, 16)
    head = dict(ident=b[:16].hex(), type=e_type, machine=e_machine, version=e_version,
                entry=e_entry, phoff=e_phoff, shoff=e_shoff, flags=e_flags, ehsize=e_ehsize,
                phentsize=e_phentsize, phnum=e_phnum, shentsize=e_shentsize, shnum=e_shnum,
                shstrndx=e_shstrndx)
    shs = [struct.unpack_from("<IIQQQQIIQQ", b, e_shoff + i * 64) for i in range(e_shnum)]
    strtab = shs[e_shstrndx]
    names = b[strtab[4]:strtab[4] + strtab[5]]
    out = {}
    order = []
    for sh in shs:
        name = names[sh[0]:names.index(b"\0", sh[0])].decode()
        out[name] = sh
        order.append(name)
    return head, order, out

def data(b, sh):
    return b[sh[4]:sh[4] + sh[5]]

def notes(blob):
    i, res = 0, []
    while i < len(blob):
        namesz, descsz, ntype = struct.unpack_from("<III", blob, i)
        name = blob[i + 12:i + 12 + namesz]
        i += 12 + ((namesz + 3) & ~3)
        res.append((name, ntype, blob[i:i + descsz]))
        i += (descsz + 3) & ~3
    return res

def table(b, secs):
    if ".xen_p2m" in secs:
        t = data(b, secs[".xen_p2m"])
        return [struct.unpack_from("<QQ", t, k * 16) for k in range(len(t) // 16)]
    t = data(b, secs[".xen_pfn"])
    return [(struct.unpack_from("<Q", t, k * 8)[0], None) for k in range(len(t) // 8)]

def pages(b, secs):
    p = secs[".xen_pages"]
    return {pfn: b[p[4] + k * 4096:p[4] + (k + 1) * 4096]
            for k, (pfn, _) in enumerate(table(b, secs)) if pfn != (1 << 64) - 1}

def summary(path):
    b = open(path, "rb").read()
    head, order, secs = sections(b)
    lines = ["header " + " ".join(f"{k}={v}" for k, v in head.items()),
             "sections " + " ".join(order)]
    for n in order:
        sh = secs[n]
        lines.append(f"section {n!r} type={sh[1]} flags={sh[2]} addr={sh[3]} offset={sh[4]} "
                     f"size={sh[5]} link={sh[6]} info={sh[7]} align={sh[8]} entsize={sh[9]}")
    for name, ntype, desc in notes(data(b, secs[".note.Xen"])):
        lines.append(f"note {name!r} {ntype:#x} {len(desc)} {desc.hex()}")
    for n in (".xen_prstatus", ".xen_shared_info"):
        if n in secs:
            lines.append(f"{n} sha256={hashlib.sha256(data(b, secs[n])).hexdigest()}")
    t = table(b, secs)
    lines.append(f"table {len(t)} entries sha256="
                 + hashlib.sha256(repr(t).encode()).hexdigest())
    lines.append(f"pages sha256={hashlib.sha256(data(b, secs['.xen_pages'])).hexdigest()}")
    lines.append(f"strtab {data(b, secs['.shstrtab'])!r} filesize={len(b)}")
    lines.append(f"file sha256={hashlib.sha256(b).hexdigest()}")
    return b, secs, lines

def structure(path, kind):
    """libxc's layout: sections in its order, notes, sizes that add up."""
    b, secs, lines = summary(path)
    print("\n".join(lines))
    head, order, _ = sections(b)
    pv = kind == "pv"
    ok = True
    def need(cond, what):
        nonlocal ok
        if not cond:
            print("BAD:", what); ok = False
    need(head["type"] == 4 and head["machine"] == 62, "ET_CORE, EM_X86_64")
    need(order[:4] == ["", ".shstrtab", ".note.Xen", ".xen_prstatus"], "first sections")
    need((".xen_shared_info" in secs) == pv, "shared info for a PV guest only")
    need(order[-2:] == [".xen_pages", ".xen_p2m" if pv else ".xen_pfn"], "pages and table last")
    ns = notes(data(b, secs[".note.Xen"]))
    need([n[1] for n in ns] == [0x2000000, 0x2000001, 0x2000002, 0x2000003], "four notes")
    magic, nvcpus, npages, psize = struct.unpack("<QQQQ", ns[1][2])
    need(magic == (0xF00FEBED if pv else 0xF00FEBEE) and psize == 4096, "magic, 4 KiB pages")
    need(secs[".xen_prstatus"][5] == nvcpus * 5168, "one context per vCPU")
    need(secs[".xen_pages"][5] == npages * 4096 and secs[".xen_pages"][4] % 4096 == 0, "pages")
    pf = [p for p, _ in table(b, secs)]
    valid = [p for p in pf if p != (1 << 64) - 1]
    need(valid == sorted(valid) and len(set(valid)) == len(valid), "pfns ascending, once each")
    if not pv:
        need(not any(0xa0 <= p < 0xc0 or 0xF0000 <= p < 0x100000 for p in valid), "no holes")
    print(f"{len(valid)} pages with pfns of {npages}")
    return ok

def loaded(path, elf):
    """The PVH program's loadable segments are in the dump at their physical addresses."""
    b, secs, _ = summary(path)
    pg = pages(b, secs)
    e = open(elf, "rb").read()
    assert e[4] == 1, "the tick guest is ELF32"
    phoff, = struct.unpack_from("<I", e, 28)
    phentsize, phnum = struct.unpack_from("<HH", e, 42)
    ok, checked = True, 0
    for i in range(phnum):
        p_type, off, vaddr, paddr, filesz, memsz = struct.unpack_from("<IIIIII", e, phoff + i * phentsize)
        if p_type != 1:
            continue
        want = e[off:off + filesz] + bytes(memsz - filesz)
        got = b"".join(pg.get(pfn, b"?" * 4096) for pfn in range(paddr >> 12, (paddr + memsz + 4095) >> 12))
        got = got[paddr & 4095:(paddr & 4095) + memsz]
        print(f"segment paddr={paddr:#x} memsz={memsz:#x}: {'same' if got == want else 'DIFFERENT'}")
        ok &= got == want
        checked += 1
    return ok and checked > 0

def compare(real, ours):
    rb, rsecs, rl = summary(real)
    ob, osecs, ol = summary(ours)
    if rb == ob:
        print(f"identical files, {len(rb)} bytes")
        return True
    ok = rl == ol
    for a, c in zip(rl, ol):
        if a != c:
            print("real:", a[:300]); print("ours:", c[:300])
    if len(rl) != len(ol):
        print(f"{len(rl)} summary lines against {len(ol)}")
    rp, op = pages(rb, rsecs), pages(ob, osecs)
    differ = [p for p in rp if p in op and rp[p] != op[p]]
    print(f"pfns: real {len(rp)}, ours {len(op)}, only real {len(set(rp) - set(op))}, "
          f"only ours {len(set(op) - set(rp))}, different contents {len(differ)} {differ[:10]}")
    return False

def summarise(path):
    print("\n".join(summary(path)[2]))
    return True

mode = sys.argv[1]
sys.exit(0 if {"summary": lambda: summarise(sys.argv[2]),"structure": lambda: structure(sys.argv[2], sys.argv[3]),
               "loaded": lambda: loaded(sys.argv[2], sys.argv[3]),
               "compare": lambda: compare(sys.argv[2], sys.argv[3])}[mode]() else 1)
PY

# The libxl line's source location moves between releases; ours prints none.
drop_libxl_location() {
  sed -E 's/^(libxl: error: )[a-z_]+\.c:[0-9]+:[a-z_]+: /\1/'
}

note "the PVH tick guest, created paused by the real xl"
if check create-paused create_retry -p "$G/pvh-tick.cfg"; then
  t0=$(date +%s)
  check ours-dump timeout 300 "$XL_OURS" dump-core lab-pvhtick "$D/ours.core"
  note "ours dumped in $(( $(date +%s) - t0 )) s ($(stat -c %s "$D/ours.core" 2>/dev/null) bytes)"
  check ours-stays-paused bash -c "$XL list lab-pvhtick | grep -q -- '--p---'"
  check ours-structure python3 "$PY" structure "$D/ours.core" pvh
  check ours-program-in-pages python3 "$PY" loaded "$D/ours.core" "$G/pvh-tick.elf"
  check ours-file-mode bash -c "[ \"\$(stat -c %a '$D/ours.core')\" = 600 ]"
  if [ -e /extra/dumpcore-real ]; then
    t0=$(date +%s)
    check real-dump timeout -k 5 1500 xl dump-core lab-pvhtick "$D/real.core"
    note "the real xl dumped in $(( $(date +%s) - t0 )) s"
    check same-core-file python3 "$PY" compare "$D/real.core" "$D/ours.core"
  fi
  rm -f "$D"/*.core

  check unknown-domain same_output -- dump-core nosuchdomain "$D/x.core"
  check unknown-domain-no-file bash -c "[ ! -e '$D/x.core' ]"
  check unwritable-file same_output -e drop_libxl_location -- dump-core lab-pvhtick /nonexistent/dir/x.core
  check no-filename same_output -- dump-core lab-pvhtick
  "$XL" destroy lab-pvhtick >/dev/null 2>&1
fi

# A PV guest's p2m and shared info exist once its kernel ran: the PV guest boots, then is
# paused for the dumps. The files live in dom0's memory (with 4.20's root beside it, two
# of them do not fit): each is summarised (every section's header, the notes, hashes of
# the contents, of the pfn table and of the whole file) and removed before the next.
# On 4.20 dom0's RAM-backed root, shared with the trixie userland, cannot hold even one
# PV core file (96 MiB): the PV comparison runs on 4.17 only.
note "the PV guest, booted by the real xl, then paused"
if [ -d "$X420/usr/lib/xen-4.20" ]; then
  note "4.20: the PV dump left out (no room for its file in dom0)"
elif check pv-create create_retry "$G/pv.cfg" memory=96; then
  console_capture lab-pv "$D/pv-console.log" &
  if check pv-booted wait_for "$D/pv-console.log" GUEST-HELLO 120 &&
    check pv-paused "$XL" pause lab-pv; then
    note "dom0 memory: $(free -m | awk '/^Mem:/ {print $4 " MiB free"}')"
    t0=$(date +%s)
    check pv-ours-dump timeout 300 "$XL_OURS" dump-core lab-pv "$D/pv-ours.core"
    note "ours dumped the PV guest in $(( $(date +%s) - t0 )) s"
    check pv-ours-structure python3 "$PY" structure "$D/pv-ours.core" pv
    python3 "$PY" summary "$D/pv-ours.core" >"$OUT/pv-ours.summary" 2>&1
    rm -f "$D/pv-ours.core"
    # The real xl maps only the p2m's pages here: seconds, so CI compares every time.
    t0=$(date +%s)
    check pv-real-dump timeout -k 5 300 xl dump-core lab-pv "$D/pv-real.core"
    note "the real xl dumped the PV guest in $(( $(date +%s) - t0 )) s"
    python3 "$PY" summary "$D/pv-real.core" >"$OUT/pv-real.summary" 2>&1
    rm -f "$D/pv-real.core"
    # Two failed summaries would be equal too: a summary must have been made.
    check pv-same-core-file bash -c "grep -q '^file sha256=' '$OUT/pv-ours.summary' &&
      diff '$OUT/pv-real.summary' '$OUT/pv-ours.summary'"
    rm -f "$D"/*.core
  fi
  "$XL" destroy lab-pv >/dev/null 2>&1
fi
wait
rm -rf "$D"
lab_summary
