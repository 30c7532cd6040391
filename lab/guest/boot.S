# HVM test guest: a boot sector (loaded by SeaBIOS at 0x7c00, real mode).
# Writes "HVM-HELLO" to COM1 five times, one second apart (so that an `xl console -t serial`
# attached a little late still sees it), then halts with interrupts off: Xen treats a
# halted vCPU with IF=0 as "vCPU down", and with no vCPU left the domain powers off.
    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    mov $5, %bp                  # repetitions
again:
    mov $msg, %si
next:
    lodsb
    test %al, %al
    jz sent
    mov %al, %bl
    mov $0x3fd, %dx              # line status register
wait_thr:
    in %dx, %al
    test $0x20, %al              # transmitter holding register empty?
    jz wait_thr
    mov %bl, %al
    mov $0x3f8, %dx
    out %al, %dx
    jmp next
sent:
    dec %bp
    jz off
    # wait ~1 s: 18 ticks of the BIOS timer (dword at 0:046c, bumped by IRQ0 at 18.2 Hz)
    mov $18, %cx
tick:
    mov 0x46c, %ax
    sti
idle:
    hlt
    cmp 0x46c, %ax
    je idle
    cli
    loop tick
    jmp again
off:
    cli
    hlt
    jmp off
msg:
    .asciz "HVM-HELLO\r\n"
    .org 510
    .word 0xaa55
