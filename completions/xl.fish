# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_xl_global_optspecs
    string join \n v f N t T h/help V/version
end

function __fish_xl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_xl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_xl_using_subcommand
    set -l cmd (__fish_xl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c xl -n "__fish_xl_needs_command" -s v -d 'Verbose (repeat for more)'
complete -c xl -n "__fish_xl_needs_command" -s f -d 'Force execution (accepted, unused, as in xl)'
complete -c xl -n "__fish_xl_needs_command" -s N -d 'Dry run: print what would be done'
complete -c xl -n "__fish_xl_needs_command" -s t -d 'Overwrite progress lines with CR'
complete -c xl -n "__fish_xl_needs_command" -s T -d 'Timestamps and pid on log lines'
complete -c xl -n "__fish_xl_needs_command" -s h -l help -d 'Print help'
complete -c xl -n "__fish_xl_needs_command" -s V -l version -d 'Print version'
complete -c xl -n "__fish_xl_needs_command" -f -a "create" -d 'Create a domain from config file <filename>'
complete -c xl -n "__fish_xl_needs_command" -f -a "config-update" -d 'Update a running domain\'s saved configuration, used when rebuilding the domain after reboot.'
complete -c xl -n "__fish_xl_needs_command" -f -a "list" -d 'List information about all/some domains'
complete -c xl -n "__fish_xl_needs_command" -f -a "destroy" -d 'Terminate a domain immediately'
complete -c xl -n "__fish_xl_needs_command" -f -a "shutdown" -d 'Issue a shutdown signal to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "reboot" -d 'Issue a reboot signal to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-attach" -d 'Insert a new pass-through pci device'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-detach" -d 'Remove a domain\'s pass-through pci device'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-list" -d 'List pass-through pci devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-assignable-add" -d 'Make a device assignable for pci-passthru'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-assignable-remove" -d 'Remove a device from being assignable'
complete -c xl -n "__fish_xl_needs_command" -f -a "pci-assignable-list" -d 'List all the assignable pci devices'
complete -c xl -n "__fish_xl_needs_command" -f -a "pause" -d 'Pause execution of a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "unpause" -d 'Unpause a paused domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "console" -d 'Attach to domain\'s console'
complete -c xl -n "__fish_xl_needs_command" -f -a "vncviewer" -d 'Attach to domain\'s VNC server.'
complete -c xl -n "__fish_xl_needs_command" -f -a "save" -d 'Save a domain state to restore later'
complete -c xl -n "__fish_xl_needs_command" -f -a "migrate" -d 'Migrate a domain to another host'
complete -c xl -n "__fish_xl_needs_command" -f -a "restore" -d 'Restore a domain from a saved state'
complete -c xl -n "__fish_xl_needs_command" -f -a "migrate-receive" -d 'Restore a domain from a saved state'
complete -c xl -n "__fish_xl_needs_command" -f -a "dump-core" -d 'Core dump a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "cd-insert" -d 'Insert a cdrom into a guest\'s cd drive'
complete -c xl -n "__fish_xl_needs_command" -f -a "cd-eject" -d 'Eject a cdrom from a guest\'s cd drive'
complete -c xl -n "__fish_xl_needs_command" -f -a "mem-max" -d 'Set the maximum amount reservation for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "mem-set" -d 'Set the current memory usage for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "button-press" -d 'Indicate an ACPI button press to the domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vcpu-list" -d 'List the VCPUs for all/some domains'
complete -c xl -n "__fish_xl_needs_command" -f -a "vcpu-pin" -d 'Set which CPUs a VCPU can use'
complete -c xl -n "__fish_xl_needs_command" -f -a "vcpu-set" -d 'Set the number of active VCPUs allowed for the domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vm-list" -d 'List guest domains, excluding dom0, stubdoms, etc.'
complete -c xl -n "__fish_xl_needs_command" -f -a "info" -d 'Get information about Xen host'
complete -c xl -n "__fish_xl_needs_command" -f -a "sharing" -d 'Get information about page sharing'
complete -c xl -n "__fish_xl_needs_command" -f -a "sched-credit" -d 'Get/set credit scheduler parameters'
complete -c xl -n "__fish_xl_needs_command" -f -a "sched-credit2" -d 'Get/set credit2 scheduler parameters'
complete -c xl -n "__fish_xl_needs_command" -f -a "sched-rtds" -d 'Get/set rtds scheduler parameters'
complete -c xl -n "__fish_xl_needs_command" -f -a "domid" -d 'Convert a domain name to domain id'
complete -c xl -n "__fish_xl_needs_command" -f -a "domname" -d 'Convert a domain id to domain name'
complete -c xl -n "__fish_xl_needs_command" -f -a "rename" -d 'Rename a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "trigger" -d 'Send a trigger to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "sysrq" -d 'Send a sysrq to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "debug-keys" -d 'Send debug keys to Xen'
complete -c xl -n "__fish_xl_needs_command" -f -a "set-parameters" -d 'Set hypervisor parameters'
complete -c xl -n "__fish_xl_needs_command" -f -a "dmesg" -d 'Read and/or clear dmesg buffer'
complete -c xl -n "__fish_xl_needs_command" -f -a "top" -d 'Monitor a host and the domains in real time'
complete -c xl -n "__fish_xl_needs_command" -f -a "network-attach" -d 'Create a new virtual network device'
complete -c xl -n "__fish_xl_needs_command" -f -a "network-list" -d 'List virtual network interfaces for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "network-detach" -d 'Destroy a domain\'s virtual network device'
complete -c xl -n "__fish_xl_needs_command" -f -a "channel-list" -d 'List virtual channel devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "block-attach" -d 'Create a new virtual block device'
complete -c xl -n "__fish_xl_needs_command" -f -a "block-list" -d 'List virtual block devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "block-detach" -d 'Destroy a domain\'s virtual block device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vtpm-attach" -d 'Create a new virtual TPM device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vtpm-list" -d 'List virtual TPM devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vtpm-detach" -d 'Destroy a domain\'s virtual TPM device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vkb-attach" -d 'Create a new virtual keyboard device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vkb-list" -d 'List virtual keyboard devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vkb-detach" -d 'Destroy a domain\'s virtual keyboard device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vdispl-attach" -d 'Create a new virtual display device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vdispl-list" -d 'List virtual display devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vdispl-detach" -d 'Destroy a domain\'s virtual display device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vsnd-attach" -d 'Create a new virtual sound device'
complete -c xl -n "__fish_xl_needs_command" -f -a "vsnd-list" -d 'List virtual display devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "vsnd-detach" -d 'Destroy a domain\'s virtual sound device'
complete -c xl -n "__fish_xl_needs_command" -f -a "uptime" -d 'Print uptime for all/some domains'
complete -c xl -n "__fish_xl_needs_command" -f -a "claims" -d 'List outstanding claim information about all domains'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-create" -d 'Create a new CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-list" -d 'List CPU pools on host'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-destroy" -d 'Deactivates a CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-rename" -d 'Renames a CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-cpu-add" -d 'Adds a CPU to a CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-cpu-remove" -d 'Removes a CPU from a CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-migrate" -d 'Moves a domain into a CPU pool'
complete -c xl -n "__fish_xl_needs_command" -f -a "cpupool-numa-split" -d 'Splits up the machine into one CPU pool per NUMA node'
complete -c xl -n "__fish_xl_needs_command" -f -a "getenforce" -d 'Returns the current enforcing mode of the Flask Xen security module'
complete -c xl -n "__fish_xl_needs_command" -f -a "setenforce" -d 'Sets the current enforcing mode of the Flask Xen security module'
complete -c xl -n "__fish_xl_needs_command" -f -a "loadpolicy" -d 'Loads a new policy into the Flask Xen security module'
complete -c xl -n "__fish_xl_needs_command" -f -a "remus" -d 'Enable Remus HA for domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "devd" -d 'Daemon that listens for devices and launches backends'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-hwinfo" -d 'Show hardware information for Platform Shared Resource'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-cmt-attach" -d 'Attach Cache Monitoring Technology service to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-cmt-detach" -d 'Detach Cache Monitoring Technology service from a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-cmt-show" -d 'Show Cache Monitoring Technology information'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-cat-set" -d 'Set cache capacity bitmasks(CBM) for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-cat-show" -d 'Show Cache Allocation Technology information'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-mba-set" -d 'Set throttling value (THRTL) for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "psr-mba-show" -d 'Show Memory Bandwidth Allocation information'
complete -c xl -n "__fish_xl_needs_command" -f -a "usbctrl-attach" -d 'Create a virtual USB controller for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "usbctrl-detach" -d 'Remove the virtual USB controller specified by <DevId> for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "usbdev-attach" -d 'Attach a USB device to a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "usbdev-detach" -d 'Detach a USB device from a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "usb-list" -d 'List information about all USB controllers and devices for a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "qemu-monitor-command" -d 'Issue a qemu monitor command to the device model of a domain'
complete -c xl -n "__fish_xl_needs_command" -f -a "help" -d 'Print help'
complete -c xl -n "__fish_xl_using_subcommand create" -s f -l defconfig -r
complete -c xl -n "__fish_xl_using_subcommand create" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand create" -s A -l vncviewer-autopass
complete -c xl -n "__fish_xl_using_subcommand create" -s F
complete -c xl -n "__fish_xl_using_subcommand create" -s V -l vncviewer
complete -c xl -n "__fish_xl_using_subcommand create" -s c
complete -c xl -n "__fish_xl_using_subcommand create" -s d
complete -c xl -n "__fish_xl_using_subcommand create" -s e
complete -c xl -n "__fish_xl_using_subcommand create" -s i -l ignore-global-affinity-masks
complete -c xl -n "__fish_xl_using_subcommand create" -s n -l dryrun
complete -c xl -n "__fish_xl_using_subcommand create" -s p
complete -c xl -n "__fish_xl_using_subcommand create" -s q -l quiet
complete -c xl -n "__fish_xl_using_subcommand config-update" -s f -l defconfig -r
complete -c xl -n "__fish_xl_using_subcommand config-update" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand config-update" -s d
complete -c xl -n "__fish_xl_using_subcommand config-update" -s q
complete -c xl -n "__fish_xl_using_subcommand list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand list" -s l -l long
complete -c xl -n "__fish_xl_using_subcommand list" -s v -l verbose
complete -c xl -n "__fish_xl_using_subcommand list" -s Z -l context
complete -c xl -n "__fish_xl_using_subcommand list" -s c -l cpupool
complete -c xl -n "__fish_xl_using_subcommand list" -s n -l numa
complete -c xl -n "__fish_xl_using_subcommand destroy" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand destroy" -s f
complete -c xl -n "__fish_xl_using_subcommand shutdown" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand shutdown" -s a -l all
complete -c xl -n "__fish_xl_using_subcommand shutdown" -s w -l wait
complete -c xl -n "__fish_xl_using_subcommand shutdown" -s F
complete -c xl -n "__fish_xl_using_subcommand reboot" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand reboot" -s a -l all
complete -c xl -n "__fish_xl_using_subcommand reboot" -s w -l wait
complete -c xl -n "__fish_xl_using_subcommand reboot" -s F
complete -c xl -n "__fish_xl_using_subcommand pci-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-detach" -s f
complete -c xl -n "__fish_xl_using_subcommand pci-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-add" -s n -l name -r
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-add" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-remove" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-remove" -s r
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand pci-assignable-list" -s n -l show-names
complete -c xl -n "__fish_xl_using_subcommand pause" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand unpause" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand console" -s n -r
complete -c xl -n "__fish_xl_using_subcommand console" -s t -r
complete -c xl -n "__fish_xl_using_subcommand console" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vncviewer" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vncviewer" -s a -l autopass
complete -c xl -n "__fish_xl_using_subcommand save" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand save" -s c
complete -c xl -n "__fish_xl_using_subcommand save" -s p
complete -c xl -n "__fish_xl_using_subcommand save" -s D
complete -c xl -n "__fish_xl_using_subcommand migrate" -s C -r
complete -c xl -n "__fish_xl_using_subcommand migrate" -s s -r
complete -c xl -n "__fish_xl_using_subcommand migrate" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand migrate" -s F
complete -c xl -n "__fish_xl_using_subcommand migrate" -s e
complete -c xl -n "__fish_xl_using_subcommand migrate" -s p
complete -c xl -n "__fish_xl_using_subcommand migrate" -s D
complete -c xl -n "__fish_xl_using_subcommand migrate" -l debug
complete -c xl -n "__fish_xl_using_subcommand migrate" -l live
complete -c xl -n "__fish_xl_using_subcommand restore" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand restore" -s F
complete -c xl -n "__fish_xl_using_subcommand restore" -s c
complete -c xl -n "__fish_xl_using_subcommand restore" -s p
complete -c xl -n "__fish_xl_using_subcommand restore" -s d
complete -c xl -n "__fish_xl_using_subcommand restore" -s e
complete -c xl -n "__fish_xl_using_subcommand restore" -s V -l vncviewer
complete -c xl -n "__fish_xl_using_subcommand restore" -s A -l vncviewer-autopass
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -l coloft-script -r
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s F
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s e
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s d
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s r
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -s p
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -l colo
complete -c xl -n "__fish_xl_using_subcommand migrate-receive" -l userspace-colo-proxy
complete -c xl -n "__fish_xl_using_subcommand dump-core" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cd-insert" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cd-eject" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand mem-max" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand mem-set" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand button-press" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vcpu-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vcpu-pin" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vcpu-pin" -s f -l force
complete -c xl -n "__fish_xl_using_subcommand vcpu-pin" -s i -l ignore-global-affinity-masks
complete -c xl -n "__fish_xl_using_subcommand vcpu-set" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vcpu-set" -s i -l ignore-host
complete -c xl -n "__fish_xl_using_subcommand vm-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand info" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand info" -s n -l numa
complete -c xl -n "__fish_xl_using_subcommand sharing" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s d -l domain -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s w -l weight -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s c -l cap -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s p -l cpupool -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s t -l tslice_ms -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s r -l ratelimit_us -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s m -l migration_delay_us -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand sched-credit" -s s -l schedparam
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s d -l domain -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s w -l weight -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s c -l cap -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s p -l cpupool -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s r -l ratelimit_us -r
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand sched-credit2" -s s -l schedparam
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s d -l domain -r
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s p -l period -r
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s b -l budget -r
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s e -l extratime -r
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s v -l vcpuid -r
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand sched-rtds" -s c -l cpupool
complete -c xl -n "__fish_xl_using_subcommand domid" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand domname" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand rename" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand trigger" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand sysrq" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand debug-keys" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand set-parameters" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand dmesg" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand dmesg" -s c -l clear
complete -c xl -n "__fish_xl_using_subcommand top" -s d -l delay -r
complete -c xl -n "__fish_xl_using_subcommand top" -s i -l iterations -r
complete -c xl -n "__fish_xl_using_subcommand top" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand top" -s b -l batch
complete -c xl -n "__fish_xl_using_subcommand top" -s n -l networks
complete -c xl -n "__fish_xl_using_subcommand top" -s x -l vbds
complete -c xl -n "__fish_xl_using_subcommand top" -s v -l vcpus
complete -c xl -n "__fish_xl_using_subcommand top" -s r -l repeat-header
complete -c xl -n "__fish_xl_using_subcommand top" -s f -l full-name
complete -c xl -n "__fish_xl_using_subcommand top" -s z -l dom0-first
complete -c xl -n "__fish_xl_using_subcommand network-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand network-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand network-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand channel-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand block-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand block-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand block-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand block-detach" -s f -l force
complete -c xl -n "__fish_xl_using_subcommand vtpm-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vtpm-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vtpm-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vkb-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vkb-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vkb-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vdispl-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vdispl-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vdispl-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vsnd-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vsnd-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand vsnd-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand uptime" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand uptime" -s s
complete -c xl -n "__fish_xl_using_subcommand claims" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-create" -s f -l defconfig -r
complete -c xl -n "__fish_xl_using_subcommand cpupool-create" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-create" -s n -l dryrun
complete -c xl -n "__fish_xl_using_subcommand cpupool-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-list" -s c -l cpus
complete -c xl -n "__fish_xl_using_subcommand cpupool-destroy" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-rename" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-cpu-add" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-cpu-remove" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-migrate" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand cpupool-numa-split" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand getenforce" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand setenforce" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand loadpolicy" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand remus" -s i -r
complete -c xl -n "__fish_xl_using_subcommand remus" -s s -r
complete -c xl -n "__fish_xl_using_subcommand remus" -s N -r
complete -c xl -n "__fish_xl_using_subcommand remus" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand remus" -s F
complete -c xl -n "__fish_xl_using_subcommand remus" -s b
complete -c xl -n "__fish_xl_using_subcommand remus" -s u
complete -c xl -n "__fish_xl_using_subcommand remus" -s n
complete -c xl -n "__fish_xl_using_subcommand remus" -s d
complete -c xl -n "__fish_xl_using_subcommand remus" -s e
complete -c xl -n "__fish_xl_using_subcommand remus" -s c
complete -c xl -n "__fish_xl_using_subcommand remus" -s p
complete -c xl -n "__fish_xl_using_subcommand devd" -s p -l pidfile -r
complete -c xl -n "__fish_xl_using_subcommand devd" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand devd" -s F
complete -c xl -n "__fish_xl_using_subcommand psr-hwinfo" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-hwinfo" -s m -l cmt
complete -c xl -n "__fish_xl_using_subcommand psr-hwinfo" -s a -l cat
complete -c xl -n "__fish_xl_using_subcommand psr-hwinfo" -s b -l mba
complete -c xl -n "__fish_xl_using_subcommand psr-cmt-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-cmt-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-cmt-show" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-cat-set" -s s -l socket -r
complete -c xl -n "__fish_xl_using_subcommand psr-cat-set" -s l -l level -r
complete -c xl -n "__fish_xl_using_subcommand psr-cat-set" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-cat-set" -s c -l code
complete -c xl -n "__fish_xl_using_subcommand psr-cat-set" -s d -l data
complete -c xl -n "__fish_xl_using_subcommand psr-cat-show" -s l -l level -r
complete -c xl -n "__fish_xl_using_subcommand psr-cat-show" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-mba-set" -s s -l socket -r
complete -c xl -n "__fish_xl_using_subcommand psr-mba-set" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand psr-mba-show" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand usbctrl-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand usbctrl-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand usbdev-attach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand usbdev-detach" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand usb-list" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand qemu-monitor-command" -s h -l help -d 'Print this help.'
complete -c xl -n "__fish_xl_using_subcommand help" -s h -l help -d 'Print help'
