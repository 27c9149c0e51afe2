import CKVM
import SpecParser

#if canImport(Glibc)
    import Glibc
#endif

/// `/dev/kvm` on this machine: its API version and the CPUID that KVM supports for guests
/// (`KVM_GET_SUPPORTED_CPUID`), the source of every host capability the runner reports.
public final class KVMHost: @unchecked Sendable {
    /// The device path.
    public let path: String
    let fd: Int32
    /// `KVM_GET_API_VERSION` (12 on every kernel since 2.6.22).
    public let apiVersion: Int
    /// The CPUID entries KVM can give a guest.
    let supportedCPUID: [kvm_cpuid_entry2]
    /// The size of a vCPU's `struct kvm_run` mapping.
    let runMappingSize: Int
    /// `KVM_CAP_NR_MEMSLOTS`.
    public let memorySlots: Int

    /// The API version this runner is written against.
    public static let expectedAPIVersion = 12

    /// Opens `path` and reads the host's capabilities.
    public init(path: String = "/dev/kvm") throws {
        self.path = path
        let fd = ckvm_open(path)
        guard fd >= 0 else { throw KVMError("open \(path)", errno: -fd) }
        self.fd = fd
        let version = ckvm_ioctl(fd, CKVM_GET_API_VERSION, 0)
        guard version == KVMHost.expectedAPIVersion else {
            ckvm_close(fd)
            throw KVMError(
                "KVM_GET_API_VERSION", errno: version < 0 ? Int32(-version) : 0,
                detail: "API version \(version), expected \(KVMHost.expectedAPIVersion)")
        }
        apiVersion = version
        let size = ckvm_ioctl(fd, CKVM_GET_VCPU_MMAP_SIZE, 0)
        guard size > 0 else {
            ckvm_close(fd)
            throw KVMError("KVM_GET_VCPU_MMAP_SIZE", errno: Int32(-size))
        }
        runMappingSize = size
        let slots = ckvm_ioctl(fd, CKVM_CHECK_EXTENSION, UInt(CKVM_CAP_NR_MEMSLOTS))
        memorySlots = slots > 0 ? slots : 32
        var entries = [kvm_cpuid_entry2](repeating: kvm_cpuid_entry2(), count: 512)
        let count = entries.withUnsafeMutableBufferPointer {
            ckvm_get_supported_cpuid(fd, $0.baseAddress, Int32($0.count))
        }
        guard count >= 0 else {
            ckvm_close(fd)
            throw KVMError("KVM_GET_SUPPORTED_CPUID", errno: -count)
        }
        supportedCPUID = Array(entries.prefix(Int(count)))
    }

    deinit { ckvm_close(fd) }

    /// Why KVM cannot run guests here, or `nil` when it can: opens the device, creates a VM and a
    /// vCPU and runs one `hlt` in real mode.
    public static func unusableReason(path: String = "/dev/kvm") -> String? {
        do {
            let host = try KVMHost(path: path)
            let machine = try KVMMachine(host: host, cpuid: host.supportedCPUID, arenaBytes: 1 << 16)
            try machine.smokeTest()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The value of a CPUID output register in the supported CPUID, if KVM lists the leaf.
    func cpuid(leaf: UInt32, subleaf: UInt32?, register: String) -> UInt32? {
        supportedCPUID.first { $0.function == leaf && (subleaf == nil || $0.index == subleaf) }.flatMap {
            KVMHost.register(register, of: $0)
        }
    }

    static func register(_ name: String, of e: kvm_cpuid_entry2) -> UInt32? {
        switch name {
        case "eax": return e.eax
        case "ebx": return e.ebx
        case "ecx": return e.ecx
        case "edx": return e.edx
        default: return nil
        }
    }

    /// Whether KVM offers `feature` to guests (its CPUID bit in `KVM_GET_SUPPORTED_CPUID`).
    public func supports(_ feature: CPUIDFeature) -> Bool {
        guard let v = cpuid(leaf: feature.leaf, subleaf: feature.subleaf, register: feature.register) else {
            return false
        }
        return (v >> UInt32(feature.bit)) & 1 != 0
    }

    /// A multi-bit CPUID field (MAXPHYADDR) as KVM offers it.
    public func value(of field: CPUIDField) -> UInt64? {
        guard let v = cpuid(leaf: field.leaf, subleaf: field.subleaf, register: field.register) else { return nil }
        return (UInt64(v) & field.bits.mask) >> UInt64(field.bits.low)
    }
}
