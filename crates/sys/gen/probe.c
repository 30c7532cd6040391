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
#include <xen/event_channel.h>
#include <xen/grant_table.h>
/* E820_RAM and struct e820entry, cut from tools/include/xenctrl.h by
 * layouts.sh (xenctrl.h itself needs generated headers). */
#include "e820.h"

/* layouts.sh passes the release's minor number: a few members exist or are
 * shaped differently only in some releases. */
#ifndef XEN_MINOR
#error "build with -DXEN_MINOR=<minor release>"
#endif

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
    /* PV domain builder: createdomain and the domctls after it */
    C(XEN_DOMCTL_createdomain);
    C(XEN_DOMCTL_setvcpucontext);
    C(XEN_DOMCTL_max_vcpus);
    C(XEN_DOMCTL_hypercall_init);
    C(XEN_DOMCTL_set_address_size);
    C(XEN_DOMCTL_settscinfo);
    C(XEN_DOMCTL_CDF_hvm);
    C(XEN_DOMCTL_CDF_hap);
    C(XEN_DOMCTL_CDF_s3_integrity);
    C(XEN_DOMCTL_CDF_oos_off);
    C(XEN_DOMCTL_CDF_xs_domain);
    C(XEN_DOMCTL_CDF_iommu);
    C(XEN_DOMCTL_CDF_nested_virt);
    C(XEN_DOMCTL_CDF_vpmu);
#if XEN_MINOR >= 21
    C(XEN_DOMCTL_CDF_trap_unmapped_accesses);
#endif
    C(XEN_DOMCTL_IOMMU_no_sharept);
    C(XEN_DOMCTL_GRANT_version_mask);
#if XEN_MINOR >= 19
    C(XEN_DOMCTL_ALTP2M_mixed);
    C(XEN_DOMCTL_ALTP2M_external);
    C(XEN_DOMCTL_ALTP2M_limited);
#endif
    C(XEN_X86_EMU_LAPIC);
    C(XEN_X86_EMU_HPET);
    C(XEN_X86_EMU_PM);
    C(XEN_X86_EMU_RTC);
    C(XEN_X86_EMU_IOAPIC);
    C(XEN_X86_EMU_PIC);
    C(XEN_X86_EMU_VGA);
    C(XEN_X86_EMU_IOMMU);
    C(XEN_X86_EMU_PIT);
    C(XEN_X86_EMU_USE_PIRQ);
    C(XEN_X86_EMU_VPCI);
    C(XEN_X86_EMU_ALL);
    C(XEN_X86_MSR_RELAXED);
    C(DOMID_FIRST_RESERVED);
    C(DOMID_SELF);
    S(struct xen_domctl_createdomain);
    O(struct xen_domctl_createdomain, ssidref);
    O(struct xen_domctl_createdomain, handle);
    O(struct xen_domctl_createdomain, flags);
    O(struct xen_domctl_createdomain, iommu_opts);
    O(struct xen_domctl_createdomain, max_vcpus);
    O(struct xen_domctl_createdomain, max_evtchn_port);
    O(struct xen_domctl_createdomain, max_grant_frames);
    O(struct xen_domctl_createdomain, max_maptrack_frames);
    O(struct xen_domctl_createdomain, grant_opts);
#if XEN_MINOR >= 21
    O(struct xen_domctl_createdomain, altp2m.opts);
    O(struct xen_domctl_createdomain, altp2m.nr);
#elif XEN_MINOR >= 19
    O(struct xen_domctl_createdomain, altp2m_opts);
#endif
    O(struct xen_domctl_createdomain, vmtrace_size);
    O(struct xen_domctl_createdomain, cpupool_id);
    O(struct xen_domctl_createdomain, arch.emulation_flags);
    O(struct xen_domctl_createdomain, arch.misc_flags);
    S(struct xen_domctl_max_vcpus);
    O(struct xen_domctl_max_vcpus, max);
    S(struct xen_domctl_address_size);
    O(struct xen_domctl_address_size, size);
    S(struct xen_domctl_hypercall_init);
    O(struct xen_domctl_hypercall_init, gmfn);
    S(struct xen_domctl_tsc_info);
    O(struct xen_domctl_tsc_info, tsc_mode);
    O(struct xen_domctl_tsc_info, gtsc_khz);
    O(struct xen_domctl_tsc_info, incarnation);
    O(struct xen_domctl_tsc_info, elapsed_nsec);
    S(struct xen_domctl_vcpucontext);
    O(struct xen_domctl_vcpucontext, vcpu);
    O(struct xen_domctl_vcpucontext, ctxt);
    /* vcpu_guest_context (x86-64) */
    C(VGCF_i387_valid);
    C(VGCF_in_kernel);
    C(VGCF_failsafe_disables_events);
    C(VGCF_syscall_disables_events);
    C(VGCF_online);
    C(FLAT_KERNEL_CS);
    C(FLAT_KERNEL_SS);
    C(FLAT_KERNEL_DS);
    S(struct vcpu_guest_context);
    O(struct vcpu_guest_context, fpu_ctxt);
    O(struct vcpu_guest_context, flags);
    O(struct vcpu_guest_context, user_regs);
    O(struct vcpu_guest_context, trap_ctxt);
    O(struct vcpu_guest_context, ldt_base);
    O(struct vcpu_guest_context, ldt_ents);
    O(struct vcpu_guest_context, gdt_frames);
    O(struct vcpu_guest_context, gdt_ents);
    O(struct vcpu_guest_context, kernel_ss);
    O(struct vcpu_guest_context, kernel_sp);
    O(struct vcpu_guest_context, ctrlreg);
    O(struct vcpu_guest_context, debugreg);
    O(struct vcpu_guest_context, event_callback_eip);
    O(struct vcpu_guest_context, failsafe_callback_eip);
    O(struct vcpu_guest_context, syscall_callback_eip);
    O(struct vcpu_guest_context, vm_assist);
    O(struct vcpu_guest_context, fs_base);
    O(struct vcpu_guest_context, gs_base_kernel);
    O(struct vcpu_guest_context, gs_base_user);
    S(struct trap_info);
    O(struct trap_info, vector);
    O(struct trap_info, flags);
    O(struct trap_info, cs);
    O(struct trap_info, address);
    S(struct cpu_user_regs);
    O(struct cpu_user_regs, r15);
    O(struct cpu_user_regs, r14);
    O(struct cpu_user_regs, r13);
    O(struct cpu_user_regs, r12);
    O(struct cpu_user_regs, rbp);
    O(struct cpu_user_regs, rbx);
    O(struct cpu_user_regs, r11);
    O(struct cpu_user_regs, r10);
    O(struct cpu_user_regs, r9);
    O(struct cpu_user_regs, r8);
    O(struct cpu_user_regs, rax);
    O(struct cpu_user_regs, rcx);
    O(struct cpu_user_regs, rdx);
    O(struct cpu_user_regs, rsi);
    O(struct cpu_user_regs, rdi);
    O(struct cpu_user_regs, error_code);
    O(struct cpu_user_regs, entry_vector);
    O(struct cpu_user_regs, rip);
    O(struct cpu_user_regs, cs);
    O(struct cpu_user_regs, saved_upcall_mask);
    O(struct cpu_user_regs, rflags);
    O(struct cpu_user_regs, rsp);
    O(struct cpu_user_regs, ss);
    O(struct cpu_user_regs, es);
    O(struct cpu_user_regs, ds);
    O(struct cpu_user_regs, fs);
    O(struct cpu_user_regs, gs);
    /* memory_op */
    C(XENMEM_populate_physmap);
    C(XENMEM_set_memory_map);
    C(XENMEM_maximum_gpfn);
    C(XENMEM_claim_pages);
    C(XENMEM_acquire_resource);
    C(XENMEM_resource_grant_table);
    C(XENMEM_resource_grant_table_id_shared);
    C(XENMEMF_populate_on_demand);
    C(XENMEMF_exact_node_request);
    C(XENMEMF_exact_node(0));
    C(XENMEMF_exact_node(3));
    S(struct xen_memory_reservation);
    O(struct xen_memory_reservation, extent_start);
    O(struct xen_memory_reservation, nr_extents);
    O(struct xen_memory_reservation, extent_order);
    O(struct xen_memory_reservation, mem_flags);
    O(struct xen_memory_reservation, domid);
    S(struct xen_foreign_memory_map);
    O(struct xen_foreign_memory_map, domid);
    O(struct xen_foreign_memory_map, map.nr_entries);
    O(struct xen_foreign_memory_map, map.buffer);
    C(E820_RAM);
    S(struct e820entry);
    O(struct e820entry, addr);
    O(struct e820entry, size);
    O(struct e820entry, type);
    /* mmuext_op, event channels, grant tables */
    C(__HYPERVISOR_mmuext_op);
    C(__HYPERVISOR_event_channel_op);
    C(__HYPERVISOR_grant_table_op);
    C(MMUEXT_PIN_L4_TABLE);
    S(struct mmuext_op);
    O(struct mmuext_op, cmd);
    O(struct mmuext_op, arg1.mfn);
    O(struct mmuext_op, arg2);
    C(EVTCHNOP_alloc_unbound);
    S(struct evtchn_alloc_unbound);
    O(struct evtchn_alloc_unbound, dom);
    O(struct evtchn_alloc_unbound, remote_dom);
    O(struct evtchn_alloc_unbound, port);
    C(GNTTABOP_setup_table);
    C(GNTST_okay);
    S(struct gnttab_setup_table);
    O(struct gnttab_setup_table, dom);
    O(struct gnttab_setup_table, nr_frames);
    O(struct gnttab_setup_table, status);
    O(struct gnttab_setup_table, frame_list);
    /* privcmd foreign mappings */
    O(privcmd_mmapbatch_v2_t, num);
    O(privcmd_mmapbatch_v2_t, dom);
    O(privcmd_mmapbatch_v2_t, addr);
    O(privcmd_mmapbatch_v2_t, arr);
    O(privcmd_mmapbatch_v2_t, err);
    O(privcmd_mmap_resource_t, dom);
    O(privcmd_mmap_resource_t, type);
    O(privcmd_mmap_resource_t, id);
    O(privcmd_mmap_resource_t, idx);
    O(privcmd_mmap_resource_t, num);
    O(privcmd_mmap_resource_t, addr);
    /* hvm_op set_param and the parameters a builder sets */
    C(HVMOP_set_param);
    C(HVM_PARAM_STORE_PFN);
    C(HVM_PARAM_STORE_EVTCHN);
    C(HVM_PARAM_TIMER_MODE);
    C(HVM_PARAM_HPET_ENABLED);
    C(HVM_PARAM_VPT_ALIGN);
    C(HVM_PARAM_CONSOLE_PFN);
    C(HVM_PARAM_CONSOLE_EVTCHN);
    C(HVM_PARAM_VIRIDIAN);
    C(HVM_PARAM_ALTP2M);
    C(HVM_PARAM_MCA_CAP);
    return 0;
}
