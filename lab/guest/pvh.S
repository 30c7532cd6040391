# PVH test guest: a 32-bit ELF whose only entry point is the PVH one (ELF note type 18,
# XEN_ELFNOTE_PHYS32_ENTRY). Xen starts it in 32-bit protected mode, paging off, with the
# address of its hvm_start_info in %ebx.
# Writes to I/O port 0xe9 (Xen's debug port: `xl dmesg` shows each line as "(dN) ..."):
#   PVH-HELLO
#   PVH-SI magic=M modules=N memmap=N       hvm_start_info's fields
#   PVH-CMDLINE text                        when it has a command line
#   PVH-MOD paddr size                      each module (64-bit values as hi:lo)
#   PVH-MAP addr size type                  each memory map entry
#   PVH-RSDP sig xsdt=A                     the RSDP the start info points at
#   PVH-MADT lapics=N enabled=N             Local APIC entries of the MADT the XSDT lists
# then halts with interrupts off, which Xen turns into a poweroff of the domain. A guest
# built by ours and one built by the real xl print the same lines for the same config.
    .section .note.Xen, "a"
    .align 4
    .long 4                      # name size ("Xen\0")
    .long 4                      # descriptor size
    .long 18                     # type: PHYS32_ENTRY
    .asciz "Xen"
    .long _start
    .text
    .code32
    .globl _start
_start:
    cli
    mov %ebx, %ebp               # hvm_start_info
    mov $stack_top, %esp
    mov $m_hello, %esi
    call puts
    mov $m_si, %esi
    call puts
    mov 0(%ebp), %eax            # magic
    call puthex
    mov $m_mods, %esi
    call puts
    mov 12(%ebp), %eax           # nr_modules
    call puthex
    mov $m_map, %esi
    call puts
    mov 48(%ebp), %eax           # memmap_entries
    call puthex
    call newline

    mov 24(%ebp), %edi           # cmdline_paddr
    test %edi, %edi
    jz 1f
    mov $m_cmd, %esi
    call puts
    mov %edi, %esi
    call puts
    call newline
1:
    mov 16(%ebp), %edi           # modlist_paddr
    mov 12(%ebp), %ecx
2:  test %ecx, %ecx
    jz 3f
    mov $m_mod, %esi
    call puts
    mov %edi, %eax
    call put64                   # paddr
    call space
    lea 8(%edi), %eax
    call put64                   # size
    call newline
    add $32, %edi
    dec %ecx
    jmp 2b
3:
    mov 40(%ebp), %edi           # memmap_paddr
    mov 48(%ebp), %ecx
4:  test %ecx, %ecx
    jz 5f
    mov $m_entry, %esi
    call puts
    mov %edi, %eax
    call put64                   # addr
    call space
    lea 8(%edi), %eax
    call put64                   # size
    call space
    mov 16(%edi), %eax           # type
    call puthex
    call newline
    add $24, %edi
    dec %ecx
    jmp 4b
5:
    mov 32(%ebp), %edi           # rsdp_paddr
    test %edi, %edi
    jz done
    mov $m_rsdp, %esi
    call puts
    mov $8, %ecx
6:  movb (%edi), %al
    call putc
    inc %edi
    loop 6b
    sub $8, %edi
    mov $m_xsdt, %esi
    call puts
    mov 24(%edi), %eax           # XsdtAddress (low half)
    call puthex
    call newline

    mov 24(%edi), %esi           # XSDT
    mov 4(%esi), %ecx            # its length
    sub $36, %ecx
    shr $3, %ecx                 # entries
    lea 36(%esi), %ebx
7:  test %ecx, %ecx
    jz done
    mov (%ebx), %edx             # a table
    cmpl $0x43495041, (%edx)     # "APIC"
    je madt
    add $8, %ebx
    dec %ecx
    jmp 7b
madt:
    mov 4(%edx), %ecx            # MADT length
    lea (%edx,%ecx), %ecx        # its end
    lea 44(%edx), %esi           # first entry
    xor %edi, %edi               # Local APIC entries
    xor %ebx, %ebx               # enabled ones
8:  cmp %ecx, %esi
    jae 9f
    cmpb $0, (%esi)              # type 0: processor Local APIC
    jne 10f
    inc %edi
    testb $1, 4(%esi)            # flags: enabled
    jz 10f
    inc %ebx
10: movzbl 1(%esi), %eax         # entry length
    test %eax, %eax
    jz 9f
    add %eax, %esi
    jmp 8b
9:  mov $m_madt, %esi
    call puts
    mov %edi, %eax
    call puthex
    mov $m_enabled, %esi
    call puts
    mov %ebx, %eax
    call puthex
    call newline
done:
    hlt
    jmp done

# putc: %al to port 0xe9.
putc:
    outb %al, $0xe9
    ret
# puts: the NUL-terminated string at %esi.
puts:
    push %esi
    push %eax
11: lodsb
    test %al, %al
    jz 12f
    outb %al, $0xe9
    jmp 11b
12: pop %eax
    pop %esi
    ret
newline:
    push %eax
    mov $'\n', %al
    outb %al, $0xe9
    pop %eax
    ret
space:
    push %eax
    mov $' ', %al
    outb %al, $0xe9
    pop %eax
    ret
# puthex: %eax as 8 hex digits.
puthex:
    pusha
    mov %eax, %edx
    mov $8, %ecx
13: rol $4, %edx
    mov %edx, %eax
    and $0xf, %eax
    movb hexdigits(%eax), %al
    outb %al, $0xe9
    loop 13b
    popa
    ret
# put64: the u64 at address %eax as hi:lo.
put64:
    push %esi
    mov %eax, %esi
    mov 4(%esi), %eax
    call puthex
    push %eax
    mov $':', %al
    outb %al, $0xe9
    pop %eax
    mov (%esi), %eax
    call puthex
    pop %esi
    ret

hexdigits: .ascii "0123456789abcdef"
m_hello:   .asciz "PVH-HELLO\n"
m_si:      .asciz "PVH-SI magic="
m_mods:    .asciz " modules="
m_map:     .asciz " memmap="
m_cmd:     .asciz "PVH-CMDLINE "
m_mod:     .asciz "PVH-MOD "
m_entry:   .asciz "PVH-MAP "
m_rsdp:    .asciz "PVH-RSDP "
m_xsdt:    .asciz " xsdt="
m_madt:    .asciz "PVH-MADT lapics="
m_enabled: .asciz " enabled="
    .bss
    .align 16
    .space 1024
stack_top:
