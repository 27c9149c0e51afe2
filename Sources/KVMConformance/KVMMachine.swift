import CKVM

#if canImport(Glibc)
    import Glibc
#endif

/// A KVM virtual machine with one vCPU and a host memory arena from which guest memory slots are
/// carved: the raw ioctls, wrapped one method each.
final class KVMMachine {
    /// How a `KVM_RUN` ended.
    enum Exit: Equatable {
        /// `KVM_EXIT_IO`: an `out` (or `in`) on `port`; `value` is the data of an `out`.
        case io(port: UInt16, isOut: Bool, value: UInt64)
        /// `KVM_EXIT_MMIO`: an access to a guest-physical address that no memory slot backs.
        case mmio(physical: UInt64, length: UInt32, isWrite: Bool, data: UInt64)
        /// `KVM_EXIT_HLT`.
        case halt
        /// `KVM_EXIT_SHUTDOWN`: a triple fault.
        case shutdown
        /// `KVM_EXIT_INTERNAL_ERROR` with its suberror (1: the emulator could not emulate).
        case internalError(UInt64)
        /// `KVM_EXIT_FAIL_ENTRY` with the hardware reason.
        case failedEntry(UInt64)
        /// The time bound passed.
        case timeout
        /// Any other exit reason.
        case other(UInt32)
    }

    let host: KVMHost
    let vm: Int32
    let vcpu: Int32
    let run: UnsafeMutablePointer<kvm_run>
    /// Host memory for guest pages.
    let arena: UnsafeMutableRawPointer
    let arenaBytes: Int
    private(set) var liveSlots: [UInt32] = []
    /// What the runner region in slot 0 was built for, while it stays mapped.
    var runnerIdentity: String?

    /// Creates a VM and its vCPU with `cpuid`; `arenaBytes` of host memory back its guest memory.
    init(host: KVMHost, cpuid: [kvm_cpuid_entry2], arenaBytes: Int = 8 << 20) throws {
        self.host = host
        let vm = ckvm_ioctl(host.fd, CKVM_CREATE_VM, 0)
        guard vm >= 0 else { throw KVMError("KVM_CREATE_VM", errno: Int32(-vm)) }
        let vcpu = ckvm_ioctl(Int32(vm), CKVM_CREATE_VCPU, 0)
        guard vcpu >= 0 else {
            ckvm_close(Int32(vm))
            throw KVMError("KVM_CREATE_VCPU", errno: Int32(-vcpu))
        }
        guard let run = ckvm_map_run(Int32(vcpu), host.runMappingSize) else {
            ckvm_close(Int32(vcpu))
            ckvm_close(Int32(vm))
            throw KVMError("mmap of struct kvm_run", errno: errno)
        }
        let set = cpuid.withUnsafeBufferPointer { ckvm_set_cpuid(Int32(vcpu), $0.baseAddress, Int32($0.count)) }
        let memory = mmap(nil, arenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard set == 0, let memory, memory != UnsafeMutableRawPointer(bitPattern: -1) else {
            let e = set != 0 ? -set : errno
            ckvm_unmap_run(run, host.runMappingSize)
            ckvm_close(Int32(vcpu))
            ckvm_close(Int32(vm))
            throw KVMError(set != 0 ? "KVM_SET_CPUID2" : "mmap of guest memory", errno: e)
        }
        self.vm = Int32(vm)
        self.vcpu = Int32(vcpu)
        self.run = run
        self.arena = memory
        self.arenaBytes = arenaBytes
    }

    deinit {
        ckvm_unmap_run(run, host.runMappingSize)
        ckvm_close(vcpu)
        ckvm_close(vm)
        munmap(arena, arenaBytes)
    }

    /// Backs `bytes` of guest memory at `guestPhysical` with the arena from `arenaOffset`.
    func mapSlot(_ slot: UInt32, guestPhysical: UInt64, arenaOffset: Int, bytes: Int) throws {
        guard arenaOffset >= 0, arenaOffset + bytes <= arenaBytes else {
            throw KVMError("KVM_SET_USER_MEMORY_REGION", errno: 0, detail: "the memory arena is too small")
        }
        var region = kvm_userspace_memory_region(
            slot: slot, flags: 0, guest_phys_addr: guestPhysical, memory_size: UInt64(bytes),
            userspace_addr: UInt64(UInt(bitPattern: arena + arenaOffset)))
        let r = ckvm_ioctl_ptr(vm, CKVM_SET_USER_MEMORY_REGION, &region)
        guard r == 0 else {
            throw KVMError(
                "KVM_SET_USER_MEMORY_REGION", errno: Int32(-r),
                detail: "slot \(slot) at 0x\(String(guestPhysical, radix: 16)), \(bytes) bytes")
        }
        liveSlots.append(slot)
    }

    /// Deletes every slot but `kept`. Deleting a slot makes KVM drop the shadow page tables built
    /// from it and bumps the memslot generation, which invalidates KVM's MMIO translation cache, so
    /// the next case cannot see the previous one's translations.
    func removeSlots(keeping kept: UInt32? = nil) throws {
        for slot in liveSlots where slot != kept {
            var region = kvm_userspace_memory_region(
                slot: slot, flags: 0, guest_phys_addr: 0, memory_size: 0, userspace_addr: 0)
            let r = ckvm_ioctl_ptr(vm, CKVM_SET_USER_MEMORY_REGION, &region)
            guard r == 0 else { throw KVMError("KVM_SET_USER_MEMORY_REGION (delete)", errno: Int32(-r)) }
        }
        liveSlots = liveSlots.filter { $0 == kept }
        if kept == nil { runnerIdentity = nil }
    }

    func registers() throws -> kvm_regs {
        var r = kvm_regs()
        let e = ckvm_ioctl_ptr(vcpu, CKVM_GET_REGS, &r)
        guard e == 0 else { throw KVMError("KVM_GET_REGS", errno: Int32(-e)) }
        return r
    }

    func setRegisters(_ r: kvm_regs) throws {
        var r = r
        let e = ckvm_ioctl_ptr(vcpu, CKVM_SET_REGS, &r)
        guard e == 0 else { throw KVMError("KVM_SET_REGS", errno: Int32(-e)) }
    }

    func specialRegisters() throws -> kvm_sregs {
        var s = kvm_sregs()
        let e = ckvm_ioctl_ptr(vcpu, CKVM_GET_SREGS, &s)
        guard e == 0 else { throw KVMError("KVM_GET_SREGS", errno: Int32(-e)) }
        return s
    }

    /// `KVM_SET_SREGS`; returns 0 or the errno, since a refusal is information (CR4.LA57).
    func setSpecialRegisters(_ s: kvm_sregs) -> Int32 {
        var s = s
        return Int32(-ckvm_ioctl_ptr(vcpu, CKVM_SET_SREGS, &s))
    }

    /// Writes a 32-bit value into an XSAVE state component (PKRU).
    func setXSave32(component: Int, offset: UInt32, value: UInt32) throws {
        let e = ckvm_set_xsave_u32(vcpu, UInt32(component), offset, value)
        guard e == 0 else { throw KVMError("KVM_SET_XSAVE", errno: -e) }
    }

    /// Runs the vCPU until it exits or `timeoutMilliseconds` pass.
    func run(timeoutMilliseconds: Int) throws -> Exit {
        let r = ckvm_run_bounded(vcpu, run, UInt32(clamping: timeoutMilliseconds))
        if r == 1 { return .timeout }
        guard r == 0 else { throw KVMError("KVM_RUN", errno: -r) }
        let reason = ckvm_exit_reason(run)
        switch reason {
        case CKVM_EXIT_IO:
            var port: UInt16 = 0, direction: UInt8 = 0, size: UInt8 = 0, value: UInt64 = 0
            ckvm_exit_io(run, &port, &direction, &size, &value)
            return .io(port: port, isOut: direction == CKVM_EXIT_IO_OUT, value: value)
        case CKVM_EXIT_MMIO:
            var physical: UInt64 = 0, length: UInt32 = 0, isWrite: UInt8 = 0, data: UInt64 = 0
            ckvm_exit_mmio(run, &physical, &length, &isWrite, &data)
            return .mmio(physical: physical, length: length, isWrite: isWrite != 0, data: data)
        case CKVM_EXIT_HLT: return .halt
        case CKVM_EXIT_SHUTDOWN: return .shutdown
        case CKVM_EXIT_INTERNAL_ERROR: return .internalError(ckvm_exit_detail(run))
        case CKVM_EXIT_FAIL_ENTRY: return .failedEntry(ckvm_exit_detail(run))
        case CKVM_EXIT_INTR: return .timeout
        default: return .other(reason)
        }
    }

    /// Lets KVM finish the instruction behind the last I/O or MMIO exit without running further,
    /// so that new register values are not overwritten by a pending completion.
    func completePending() throws {
        let e = ckvm_complete_pending(vcpu, run)
        guard e == 0 else { throw KVMError("KVM_RUN (completion)", errno: -e) }
    }

    /// `KVM_TRANSLATE`: KVM's supervisor-read walk of `linear`. It sets accessed flags as a side
    /// effect (kvm.md §5), so read memory before calling it.
    func translate(_ linear: UInt64) throws -> UInt64? {
        var t = kvm_translation()
        t.linear_address = linear
        let e = ckvm_ioctl_ptr(vcpu, CKVM_TRANSLATE, &t)
        guard e == 0 else { throw KVMError("KVM_TRANSLATE", errno: Int32(-e)) }
        return t.valid != 0 ? t.physical_address : nil
    }

    /// Runs `hlt` in real mode and expects `KVM_EXIT_HLT`: proof that guests run here.
    func smokeTest() throws {
        arena.storeBytes(of: 0xF4, toByteOffset: 0, as: UInt8.self)
        try mapSlot(0, guestPhysical: 0, arenaOffset: 0, bytes: 4096)
        var s = try specialRegisters()
        s.cs.base = 0
        s.cs.selector = 0
        guard setSpecialRegisters(s) == 0 else {
            throw KVMError("KVM_SET_SREGS", errno: 0, detail: "real mode refused")
        }
        var r = try registers()
        r.rip = 0
        r.rflags = 2
        try setRegisters(r)
        let exit = try run(timeoutMilliseconds: 2000)
        guard exit == .halt else {
            throw KVMError("KVM_RUN", errno: 0, detail: "a real-mode hlt ended with \(exit), not KVM_EXIT_HLT")
        }
    }
}
