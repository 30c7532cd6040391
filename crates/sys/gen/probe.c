/* Prints the sizes, offsets and constants xen-sys relies on, for one set of
 * Xen public headers. Built and run by layouts.sh; its output is committed. */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/version.h>
#include <xen/memory.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>
#include <xen/sys/privcmd.h>
#include <xen/sys/evtchn.h>
#include <xen/physdev.h>

#define S(t) printf("    (\"size " #t "\", %zu),\n", sizeof(t))
#define O(t, f) printf("    (\"offset " #t "." #f "\", %zu),\n", offsetof(t, f))
#define C(c) printf("    (\"const " #c "\", %lu),\n", (unsigned long)(c))

int main(void) {
    C(XEN_DOMCTL_INTERFACE_VERSION);
    C(XEN_SYSCTL_INTERFACE_VERSION);
    C(IOCTL_PRIVCMD_HYPERCALL);
    C(IOCTL_PRIVCMD_MMAPBATCH_V2);
    C(IOCTL_PRIVCMD_MMAP_RESOURCE);
    C(IOCTL_EVTCHN_BIND_INTERDOMAIN);
    C(IOCTL_EVTCHN_BIND_UNBOUND_PORT);
    C(IOCTL_EVTCHN_UNBIND);
    C(IOCTL_EVTCHN_NOTIFY);
    C(__HYPERVISOR_xen_version);
    C(__HYPERVISOR_sysctl);
    C(__HYPERVISOR_domctl);
    C(__HYPERVISOR_sched_op);
    C(XEN_SYSCTL_physinfo);
    C(XEN_SYSCTL_getdomaininfolist);
    C(XEN_SYSCTL_sched_id);
    C(XEN_SYSCTL_readconsole);
    C(XEN_DOMCTL_pausedomain);
    C(XEN_DOMCTL_unpausedomain);
    C(XEN_DOMCTL_destroydomain);
    C(XEN_DOMCTL_getdomaininfo);
    C(XEN_DOMCTL_max_mem);
    C(XEN_DOMCTL_getvcpuinfo);
    C(XEN_DOMINF_dying);
    C(XEN_DOMINF_shutdown);
    C(XEN_DOMINF_paused);
    C(XEN_DOMINF_blocked);
    C(XEN_DOMINF_running);
    C(XEN_DOMINF_hvm_guest);
    C(XEN_DOMINF_shutdownshift);
    C(XENVER_version);
    C(XENVER_extraversion);
    C(XENVER_compile_info);
    C(XENVER_capabilities);
    C(XENVER_changeset);
    C(XENVER_platform_parameters);
    C(XENVER_pagesize);
    C(XENVER_commandline);
    C(XENVER_build_id);
    C(__HYPERVISOR_hvm_op);
    C(XEN_DOMCTL_getvcpuaffinity);
    C(XENMEM_set_pod_target);
    S(struct xen_pod_target);
    O(struct xen_pod_target, target_pages);
    O(struct xen_pod_target, domid);
    O(struct xen_domctl_max_mem, max_memkb);
    C(XEN_VCPUAFFINITY_HARD);
    C(XEN_VCPUAFFINITY_SOFT);
    C(XEN_INVALID_MAX_VCPU_ID);
    S(struct xen_domctl_getvcpuinfo);
    O(struct xen_domctl_getvcpuinfo, vcpu);
    O(struct xen_domctl_getvcpuinfo, online);
    O(struct xen_domctl_getvcpuinfo, blocked);
    O(struct xen_domctl_getvcpuinfo, running);
    O(struct xen_domctl_getvcpuinfo, cpu_time);
    O(struct xen_domctl_getvcpuinfo, cpu);
    S(struct xen_domctl_vcpuaffinity);
    O(struct xen_domctl_vcpuaffinity, vcpu);
    O(struct xen_domctl_vcpuaffinity, flags);
    O(struct xen_domctl_vcpuaffinity, cpumap_hard);
    O(struct xen_domctl_vcpuaffinity, cpumap_soft);
    C(HVMOP_get_param);
    C(HVM_PARAM_CALLBACK_IRQ);
    C(XEN_DOMCTL_sendtrigger);
    C(XEN_DOMCTL_SENDTRIGGER_NMI);
    C(XEN_DOMCTL_SENDTRIGGER_RESET);
    C(XEN_DOMCTL_SENDTRIGGER_INIT);
    C(XEN_DOMCTL_SENDTRIGGER_POWER);
    C(XEN_DOMCTL_SENDTRIGGER_SLEEP);
    S(struct xen_hvm_param);
    O(struct xen_hvm_param, domid);
    O(struct xen_hvm_param, index);
    O(struct xen_hvm_param, value);
    S(struct xen_domctl_sendtrigger);
    O(struct xen_domctl_sendtrigger, trigger);
    O(struct xen_domctl_sendtrigger, vcpu);
    C(__HYPERVISOR_memory_op);
    C(XENMEM_get_sharing_freed_pages);
    C(XENMEM_get_sharing_shared_pages);
    C(XEN_SYSCTL_cpupool_op);
    C(XEN_SYSCTL_CPUPOOL_OP_FREEINFO);
    C(XEN_SCHEDULER_CREDIT);
    C(XEN_SCHEDULER_CREDIT2);
    C(XEN_SCHEDULER_ARINC653);
    C(XEN_SCHEDULER_RTDS);
    C(XEN_SCHEDULER_NULL);
    S(xen_extraversion_t);
    S(xen_capabilities_info_t);
    S(xen_changeset_info_t);
    S(xen_commandline_t);
    S(struct xen_sysctl_cpupool_op);
    O(struct xen_sysctl_cpupool_op, op);
    O(struct xen_sysctl_cpupool_op, cpupool_id);
    O(struct xen_sysctl_cpupool_op, sched_id);
    O(struct xen_sysctl_cpupool_op, domid);
    O(struct xen_sysctl_cpupool_op, cpu);
    O(struct xen_sysctl_cpupool_op, n_dom);
    O(struct xen_sysctl_cpupool_op, cpumap);
    S(struct xenctl_bitmap);
    O(struct xenctl_bitmap, bitmap);
    O(struct xenctl_bitmap, nr_bits);
    S(privcmd_hypercall_t);
    S(privcmd_mmapbatch_v2_t);
    S(privcmd_mmap_resource_t);
    S(struct xen_domctl);
    S(struct xen_sysctl);
    S(struct xen_domctl_getdomaininfo);
    O(struct xen_domctl_getdomaininfo, domain);
    O(struct xen_domctl_getdomaininfo, flags);
    O(struct xen_domctl_getdomaininfo, tot_pages);
    O(struct xen_domctl_getdomaininfo, max_pages);
    O(struct xen_domctl_getdomaininfo, outstanding_pages);
    O(struct xen_domctl_getdomaininfo, shr_pages);
    O(struct xen_domctl_getdomaininfo, paged_pages);
    O(struct xen_domctl_getdomaininfo, shared_info_frame);
    O(struct xen_domctl_getdomaininfo, cpu_time);
    O(struct xen_domctl_getdomaininfo, nr_online_vcpus);
    O(struct xen_domctl_getdomaininfo, max_vcpu_id);
    O(struct xen_domctl_getdomaininfo, ssidref);
    O(struct xen_domctl_getdomaininfo, handle);
    O(struct xen_domctl_getdomaininfo, cpupool);
    O(struct xen_domctl_getdomaininfo, gpaddr_bits);
    O(struct xen_domctl_getdomaininfo, arch_config);
    S(struct xen_sysctl_getdomaininfolist);
    O(struct xen_sysctl_getdomaininfolist, first_domain);
    O(struct xen_sysctl_getdomaininfolist, max_domains);
    O(struct xen_sysctl_getdomaininfolist, buffer);
    O(struct xen_sysctl_getdomaininfolist, num_domains);
    S(struct xen_sysctl_physinfo);
    O(struct xen_sysctl_physinfo, threads_per_core);
    O(struct xen_sysctl_physinfo, cores_per_socket);
    O(struct xen_sysctl_physinfo, nr_cpus);
    O(struct xen_sysctl_physinfo, max_cpu_id);
    O(struct xen_sysctl_physinfo, nr_nodes);
    O(struct xen_sysctl_physinfo, max_node_id);
    O(struct xen_sysctl_physinfo, cpu_khz);
    O(struct xen_sysctl_physinfo, capabilities);
    O(struct xen_sysctl_physinfo, total_pages);
    O(struct xen_sysctl_physinfo, free_pages);
    O(struct xen_sysctl_physinfo, scrub_pages);
    O(struct xen_sysctl_physinfo, outstanding_pages);
    O(struct xen_sysctl_physinfo, max_mfn);
    O(struct xen_sysctl_physinfo, hw_cap);
    S(struct xen_sysctl_readconsole);
    O(struct xen_sysctl_readconsole, clear);
    O(struct xen_sysctl_readconsole, incremental);
    O(struct xen_sysctl_readconsole, index);
    O(struct xen_sysctl_readconsole, buffer);
    O(struct xen_sysctl_readconsole, count);
    S(struct xen_domctl_max_mem);
    S(xen_platform_parameters_t);
    S(xen_compile_info_t);
    /* issue 4 (wt4): topology, NUMA, affinity, schedulers */
    C(XEN_SYSCTL_cputopoinfo);
    C(XEN_SYSCTL_numainfo);
    C(XEN_SYSCTL_pcitopoinfo);
    C(XEN_SYSCTL_scheduler_op);
    C(XEN_SYSCTL_CPUPOOL_OP_INFO);
    C(XEN_SYSCTL_SCHEDOP_putinfo);
    C(XEN_SYSCTL_SCHEDOP_getinfo);
    C(XEN_DOMCTL_setvcpuaffinity);
    C(XEN_DOMCTL_scheduler_op);
    C(XEN_DOMCTL_getnodeaffinity);
    C(XEN_DOMCTL_SCHEDOP_putinfo);
    C(XEN_DOMCTL_SCHEDOP_getinfo);
    C(XEN_VCPUAFFINITY_FORCE);
    C(XEN_INVALID_CORE_ID);
    C(XEN_INVALID_SOCKET_ID);
    C(XEN_INVALID_NODE_ID);
    C(XEN_INVALID_DEV);
    C(XEN_INVALID_MEM_SZ);
    C(XEN_INVALID_NODE_DIST);
    S(struct xen_sysctl_cputopo);
    O(struct xen_sysctl_cputopo, core);
    O(struct xen_sysctl_cputopo, socket);
    O(struct xen_sysctl_cputopo, node);
    S(struct xen_sysctl_cputopoinfo);
    O(struct xen_sysctl_cputopoinfo, num_cpus);
    O(struct xen_sysctl_cputopoinfo, cputopo);
    S(struct xen_sysctl_meminfo);
    O(struct xen_sysctl_meminfo, memsize);
    O(struct xen_sysctl_meminfo, memfree);
    S(struct xen_sysctl_numainfo);
    O(struct xen_sysctl_numainfo, num_nodes);
    O(struct xen_sysctl_numainfo, meminfo);
    O(struct xen_sysctl_numainfo, distance);
    S(struct xen_sysctl_pcitopoinfo);
    O(struct xen_sysctl_pcitopoinfo, num_devs);
    O(struct xen_sysctl_pcitopoinfo, devs);
    O(struct xen_sysctl_pcitopoinfo, nodes);
    S(struct physdev_pci_device);
    O(struct physdev_pci_device, seg);
    O(struct physdev_pci_device, bus);
    O(struct physdev_pci_device, devfn);
    S(struct xen_sysctl_scheduler_op);
    O(struct xen_sysctl_scheduler_op, cpupool_id);
    O(struct xen_sysctl_scheduler_op, sched_id);
    O(struct xen_sysctl_scheduler_op, cmd);
    O(struct xen_sysctl_scheduler_op, u.sched_credit.tslice_ms);
    O(struct xen_sysctl_scheduler_op, u.sched_credit.ratelimit_us);
    O(struct xen_sysctl_scheduler_op, u.sched_credit.vcpu_migr_delay_us);
    O(struct xen_sysctl_scheduler_op, u.sched_credit2.ratelimit_us);
    S(struct xen_domctl_scheduler_op);
    O(struct xen_domctl_scheduler_op, sched_id);
    O(struct xen_domctl_scheduler_op, cmd);
    O(struct xen_domctl_scheduler_op, u.credit.weight);
    O(struct xen_domctl_scheduler_op, u.credit.cap);
    O(struct xen_domctl_scheduler_op, u.credit2.weight);
    O(struct xen_domctl_scheduler_op, u.credit2.cap);
    S(struct xen_domctl_nodeaffinity);
    O(struct xen_domctl_nodeaffinity, nodemap);
    return 0;
}
