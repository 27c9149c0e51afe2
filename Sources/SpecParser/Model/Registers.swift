/// A CPUID feature flag: where CPUID reports it and its Linux `/proc/cpuinfo` name.
///
/// Models one bit of the SDM's CPUID leaf tables (Vol. 2A, CPUID). Example:
/// ```yaml
/// la57: {leaf: 0x7, subleaf: 0, register: ecx, bit: 16, title: 57-bit linear addresses}
/// ```
public struct CPUIDFeature: Sendable, Hashable {
    /// The `/proc/cpuinfo` flag name, which is also the spec key.
    public var name: String
    /// CPUID leaf (EAX input).
    public var leaf: UInt32
    /// CPUID subleaf (ECX input), when the leaf has subleaves.
    public var subleaf: UInt32?
    /// Output register: `eax`, `ebx`, `ecx` or `edx`.
    public var register: String
    /// Bit within the register.
    public var bit: Int
    /// Human description.
    public var title: String
    /// Where it was defined.
    public var location: SourceLocation
}

/// A multi-bit CPUID field such as MAXPHYADDR (leaf 0x80000008, EAX bits 7:0).
public struct CPUIDField: Sendable, Hashable {
    /// Spec name, e.g. `maxphyaddr`.
    public var name: String
    /// CPUID leaf.
    public var leaf: UInt32
    /// CPUID subleaf, if any.
    public var subleaf: UInt32?
    /// Output register.
    public var register: String
    /// Bits within the register.
    public var bits: BitRange
    /// Human description.
    public var title: String
    /// Where it was defined.
    public var location: SourceLocation
}

/// A named bit field of a register or of a VMX data structure (the SDM's register figures).
public struct RegisterField: Sendable, Hashable {
    /// Field name as the SDM writes it (`WP`, `LA57`, `page-walk-length`).
    public var name: String
    /// Its bits.
    public var bits: BitRange
    /// The CPUID feature without which the field cannot be set (CR4.LA57 needs `la57`).
    public var requires: Located<String>?
    /// Human description.
    public var title: String
    /// Named encodings of a multi-bit field (`MOV_TO_CR: 0`), in spec order.
    public var values: [(name: String, value: UInt64)]
    /// Other fields this one deliberately overlaps (CR3.PCID with PWT and PCD).
    public var overlaps: [String]
    /// Where it was defined.
    public var location: SourceLocation

    /// Fields are equal when name, bits and location are (`values` holds tuples, which are not `Equatable`).
    public static func == (a: RegisterField, b: RegisterField) -> Bool {
        a.name == b.name && a.bits == b.bits && a.location == b.location
    }
    /// Hashes the name and location.
    public func hash(into h: inout Hasher) { h.combine(name); h.combine(location) }
}

/// A register, MSR or VMX field layout: control registers, EFER, XCR0, PKRU, EPTP, capability
/// MSRs, the #PF error code and VM-exit qualifications (SDM Vol. 3A §2.5, Vol. 3C appendices).
///
/// ```yaml
/// CR4:
///   width: 64
///   fields:
///     LA57: {bit: 12, requires: la57, title: 57-bit linear addresses}
/// ```
public struct RegisterSpec: Sendable {
    /// Register name (`CR4`, `IA32_VMX_EPT_VPID_CAP`).
    public var name: String
    /// Human description.
    public var title: String
    /// Width in bits.
    public var width: Int
    /// MSR index for model-specific registers.
    public var msr: UInt32?
    /// The fields, in bit order.
    public var fields: [RegisterField]
    /// Bits that must be zero.
    public var reserved: [BitRange]
    /// Where it was defined.
    public var location: SourceLocation

    /// The field called `name`.
    public func field(_ name: String) -> RegisterField? { fields.first { $0.name == name } }
}
