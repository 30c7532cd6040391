# HVM test guest for save/restore: a boot sector (SeaBIOS loads it at 0x7c00, real mode)
# that writes "HVM-TICK NNNN" to COM1 about once a second, counting up for ever. A
# restored guest goes on from the count it was saved at, so its console shows whether it
# resumed (next number) or rebooted (0000 again).
    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
again:
    mov $msg, %si
    call puts
    # count up the four decimal digits in place
    mov $digits+3, %si
carry:
    incb (%si)
    cmpb $'9', (%si)
    jbe pause
    movb $'0', (%si)
    dec %si
    cmp $digits, %si
    jae carry
pause:
    # ~1 s: 18 ticks of the BIOS timer (word at 0:046c, bumped by IRQ0 at 18.2 Hz)
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
puts:
    lodsb
    test %al, %al
    jz done
    mov %al, %bl
    mov $0x3fd, %dx              # line status register
wait_thr:
    in %dx, %al
    test $0x20, %al              # transmitter holding register empty?
    jz wait_thr
    mov %bl, %al
    mov $0x3f8, %dx
    out %al, %dx
    jmp puts
done:
    ret
msg:
    .ascii "HVM-TICK "
digits:
    .asciz "0000\r\n"
    .org 510
    .word 0xaa55
