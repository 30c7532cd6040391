/* PVH test guest for save/restore: a freestanding 32-bit program started at its PVH entry
 * (protected mode, paging off). It counts on Xen's debug port 0xe9 ("PVH-TICK N" about
 * once a second; `xl dmesg` shows "(dN) PVH-TICK N") and answers the toolstack's control
 * protocol as a guest's PV drivers do: every tick it reads control/shutdown over the
 * xenstore ring; on "suspend" it acknowledges and suspends (SCHEDOP_shutdown), then picks
 * up its new event channel after the restore and counts on; on "poweroff" it powers off.
 * A restored guest goes on from the count it was saved at, so the new domain's lines show
 * whether it resumed or started again. */

/* The PVH entry (ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY): a stack, then main32. */
__asm__(".section .note.Xen, \"a\"\n"
        ".align 4\n"
        ".long 4, 4, 18\n"
        ".asciz \"Xen\"\n"
        ".long _start\n"
        ".text\n"
        ".globl _start\n"
        "_start:\n"
        "  cli\n"
        "  mov $stack_top, %esp\n"
        "  call main32\n"
        "1: hlt\n"
        "  jmp 1b\n"
        ".bss\n"
        ".align 16\n"
        ".space 8192\n"
        "stack_top:\n"
        ".text\n");

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define HYPERVISOR_sched_op 29
#define HYPERVISOR_event_channel_op 32
#define HYPERVISOR_hvm_op 34
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_suspend 2
#define EVTCHNOP_send 4
#define HVMOP_get_param 1
#define HVM_PARAM_STORE_PFN 1
#define HVM_PARAM_STORE_EVTCHN 2
#define DOMID_SELF 0x7ff0
#define XS_READ 2
#define XS_WRITE 11
#define XS_ERROR 16
#define RING 1024

/* Xen fills this page with its hypercall stubs, 32 bytes each. */
static u8 hypercall_page[4096] __attribute__((aligned(4096)));

struct xs_ring {
    char req[RING];
    char rsp[RING];
    volatile u32 req_cons, req_prod, rsp_cons, rsp_prod;
};

struct xs_header {
    u32 type, req_id, tx_id, len;
};

static struct xs_ring *store;
static u32 store_port;

static void outb(u8 v, u16 port) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static void puts(const char *s)
{
    while (*s)
        outb((u8)*s++, 0xe9);
}

static void putdec(u32 n)
{
    char b[11];
    int i = 10;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    puts(b + i);
}

static void barrier(void) { __asm__ volatile("lock; addl $0, 0(%%esp)" : : : "memory"); }

static u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static long hypercall2(u32 nr, u32 a1, u32 a2)
{
    long r;
    __asm__ volatile("call *%[stub]"
                     : "=a"(r), "+b"(a1), "+c"(a2)
                     : [stub] "r"(hypercall_page + nr * 32)
                     : "memory", "edx", "esi", "edi");
    return r;
}

/* Xen's CPUID leaves say which MSR makes it write the hypercall page. */
static int setup_hypercalls(void)
{
    u32 base, a, b, c, d;
    for (base = 0x40000000; base < 0x40010000; base += 0x100) {
        cpuid(base, &a, &b, &c, &d);
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e) { /* "XenVMMXenVMM" */
            cpuid(base + 2, &a, &b, &c, &d);
            u32 page = (u32)hypercall_page;
            __asm__ volatile("wrmsr" : : "c"(b), "a"(page), "d"(0));
            return 0;
        }
    }
    return -1;
}

static u64 get_param(u32 index)
{
    struct {
        u16 domid, pad;
        u32 index;
        u64 value;
    } p = {DOMID_SELF, 0, index, 0};
    if (hypercall2(HYPERVISOR_hvm_op, HVMOP_get_param, (u32)&p) != 0)
        return 0;
    return p.value;
}

static void notify(void)
{
    u32 port = store_port;
    hypercall2(HYPERVISOR_event_channel_op, EVTCHNOP_send, (u32)&port);
}

static void ring_write(const void *data, u32 len)
{
    const char *s = data;
    while (len) {
        while (store->req_prod - store->req_cons >= RING)
            notify();
        barrier();
        store->req[store->req_prod % RING] = *s++;
        barrier();
        store->req_prod++;
        len--;
    }
}

static void ring_read(void *data, u32 len)
{
    char *d = data;
    while (len) {
        /* Say so (once) when xenstored is slow to answer, so a stuck guest explains itself. */
        u64 told = rdtsc() + (1ull << 33);
        while (store->rsp_prod == store->rsp_cons) {
            barrier();
            if (told && rdtsc() > told) {
                puts("PVH-TICK still waiting for xenstored\n");
                told = 0;
            }
        }
        barrier();
        *d++ = store->rsp[store->rsp_cons % RING];
        barrier();
        store->rsp_cons++;
        len--;
    }
    notify();
}

static u32 strlen0(const char *s)
{
    u32 n = 0;
    while (s[n])
        n++;
    return n;
}

/* One request (path, then value for a write); the reply's payload into `out` (NUL-ended,
 * empty on error). */
static void xs_request(u32 type, const char *path, const char *value, char *out, u32 room)
{
    static u32 req_id;
    u32 plen = strlen0(path) + 1, vlen = value ? strlen0(value) : 0;
    struct xs_header h = {type, ++req_id, 0, plen + vlen};
    ring_write(&h, sizeof h);
    ring_write(path, plen);
    if (vlen)
        ring_write(value, vlen);
    notify();
    ring_read(&h, sizeof h);
    u32 i;
    for (i = 0; i < h.len; i++) {
        char c;
        ring_read(&c, 1);
        if (i + 1 < room)
            out[i] = c;
    }
    out[i < room ? i : room - 1] = 0;
    if (h.type == XS_ERROR)
        out[0] = 0;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static void connect_store(void)
{
    store = (struct xs_ring *)(u32)(get_param(HVM_PARAM_STORE_PFN) << 12);
    store_port = (u32)get_param(HVM_PARAM_STORE_EVTCHN);
}

static void shutdown(u32 reason, u32 *rc)
{
    u32 r = reason;
    *rc = (u32)hypercall2(HYPERVISOR_sched_op, SCHEDOP_shutdown, (u32)&r);
}

void main32(void)
{
    u32 tick = 0, rc;
    char answer[32];
    puts("PVH-TICK-HELLO\n");
    if (setup_hypercalls()) {
        puts("PVH-TICK no Xen CPUID leaves\n");
        return;
    }
    connect_store();
    for (;;) {
        puts("PVH-TICK ");
        putdec(tick++);
        puts("\n");
        xs_request(XS_READ, "control/shutdown", 0, answer, sizeof answer);
        if (streq(answer, "suspend")) {
            xs_request(XS_WRITE, "control/shutdown", "", answer, sizeof answer);
            puts("PVH-TICK suspending\n");
            shutdown(SHUTDOWN_suspend, &rc);
            /* In a new domain (or the same, cancelled): the event channel may have
             * changed and the ring was emptied. */
            setup_hypercalls();
            connect_store();
            puts("PVH-TICK resumed ");
            putdec(rc);
            puts("\n");
        } else if (streq(answer, "poweroff") || streq(answer, "halt")) {
            xs_request(XS_WRITE, "control/shutdown", "", answer, sizeof answer);
            shutdown(SHUTDOWN_poweroff, &rc);
        }
        u64 until = rdtsc() + (1ull << 30);
        while (rdtsc() < until)
            __asm__ volatile("pause");
    }
}
