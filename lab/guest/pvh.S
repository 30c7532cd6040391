# PVH test guest: a 32-bit ELF whose only entry point is the PVH one (ELF note type 18,
# XEN_ELFNOTE_PHYS32_ENTRY). Xen starts it in 32-bit protected mode, paging off.
# Writes "PVH-HELLO" to I/O port 0xe9 (Xen's debug port: `xl dmesg` shows "(dN) PVH-HELLO"),
# then halts with interrupts off, which Xen turns into a poweroff of the domain.
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
    mov $msg, %esi
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, $0xe9
    jmp 1b
2:  hlt
    jmp 2b
msg:
    .asciz "PVH-HELLO\n"
