import Foundation
import SpecParser

/// The outputs of CPUID for a set of (leaf, subleaf) inputs: a dump of one logical processor.
///
/// Models what the CPUID instruction returns (SDM Vol. 2A, CPUID): four 32-bit registers per
/// leaf and subleaf. Filled from a libvirt `cpudata` file (``LibvirtCPUData``) or by running
/// CPUID on this machine (``CPUIDProbe``).
public struct CPUIDData: Sendable, Equatable {
    /// One CPUID input.
    public struct Input: Sendable, Hashable, Comparable {
        /// EAX input.
        public var leaf: UInt32
        /// ECX input.
        public var subleaf: UInt32
        /// Creates an input.
        public init(leaf: UInt32, subleaf: UInt32) {
            self.leaf = leaf
            self.subleaf = subleaf
        }
        /// Orders by leaf, then subleaf.
        public static func < (a: Input, b: Input) -> Bool { (a.leaf, a.subleaf) < (b.leaf, b.subleaf) }
    }

    /// The four output registers.
    public struct Output: Sendable, Hashable {
        /// EAX, EBX, ECX, EDX.
        public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
        /// Creates an output.
        public init(eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
            self.eax = eax
            self.ebx = ebx
            self.ecx = ecx
            self.edx = edx
        }
        /// The register called `name` (`eax`, `ebx`, `ecx`, `edx`, the spec's spelling).
        public func register(_ name: String) -> UInt32? {
            switch name {
            case "eax": return eax
            case "ebx": return ebx
            case "ecx": return ecx
            case "edx": return edx
            default: return nil
            }
        }
    }

    /// The recorded outputs.
    public var outputs: [Input: Output] = [:]
    /// Model-specific registers recorded with the dump, by index (libvirt records 0x10a and others).
    public var msrs: [UInt32: UInt64] = [:]
    /// A name or brand string recorded with the dump, if any.
    public var label: String?

    /// Creates an empty dump.
    public init() {}

    /// The output for `leaf`/`subleaf`, if recorded.
    public subscript(leaf: UInt32, subleaf: UInt32) -> Output? {
        get { outputs[Input(leaf: leaf, subleaf: subleaf)] }
        set { outputs[Input(leaf: leaf, subleaf: subleaf)] = newValue }
    }
}

/// Reads features and fields out of CPUID data with the locations the specs give, and builds a
/// CPU model from them.
///
/// Honours the ranges CPUID answers: a leaf above the highest leaf of its range (the
/// `max-basic-leaf` and `max-extended-leaf` fields of `specs/cpuid/features.yaml`) reads as zero,
/// because real CPUs answer such inputs with the data of another leaf.
public struct CPUIDDecoder: Sendable {
    /// The specs that say where each feature and field is.
    public let specs: SpecSet

    /// Creates a decoder over `specs`.
    public init(specs: SpecSet) { self.specs = specs }

    /// The register value at `leaf`/`subleaf`/`register`, zero when not recorded or out of range.
    public func value(_ data: CPUIDData, leaf: UInt32, subleaf: UInt32?, register: String) -> UInt32 {
        guard inRange(data, leaf: leaf) else { return 0 }
        return data[leaf, subleaf ?? 0]?.register(register) ?? 0
    }

    /// Whether `leaf` lies within the range the data's maximum-leaf fields report. Without those
    /// fields in the specs, every recorded leaf counts.
    public func inRange(_ data: CPUIDData, leaf: UInt32) -> Bool {
        let ranges = ["max-basic-leaf", "max-extended-leaf"].compactMap { specs.cpuidField($0) }.sorted {
            $0.leaf < $1.leaf
        }
        // The range a leaf belongs to is the one with the highest base at or below it.
        guard let range = ranges.last(where: { $0.leaf <= leaf }) else { return true }
        if leaf == range.leaf { return true }
        guard let out = data[range.leaf, range.subleaf ?? 0]?.register(range.register) else { return false }
        let max = (UInt64(out) & range.bits.mask) >> UInt64(range.bits.low)
        return UInt64(leaf) <= max
    }

    /// The value of the CPUID field called `name`, if the specs define it.
    public func field(_ data: CPUIDData, _ name: String) -> UInt64? {
        guard let f = specs.cpuidField(name) else { return nil }
        let raw = UInt64(value(data, leaf: f.leaf, subleaf: f.subleaf, register: f.register))
        return (raw & f.bits.mask) >> UInt64(f.bits.low)
    }

    /// The features of the specs whose bit is set in `data`, sorted by name.
    public func features(_ data: CPUIDData) -> [String] {
        specs.features.filter { f in
            (value(data, leaf: f.leaf, subleaf: f.subleaf, register: f.register) >> UInt32(f.bit)) & 1 == 1
        }.map(\.name).sorted()
    }

    /// The ASCII string spread over the fields `prefix1`, `prefix2`, … (each 32 bits, little-endian),
    /// in the order of their names, with NUL padding and surrounding spaces removed.
    public func string(_ data: CPUIDData, fieldsNamed prefix: String) -> String {
        var bytes: [UInt8] = []
        for f in specs.cpuidFields.filter({ $0.name.hasPrefix(prefix) }).sorted(by: { $0.name < $1.name }) {
            let v = field(data, f.name) ?? 0
            for i in 0..<(f.bits.width / 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
        }
        let text = String(decoding: bytes.filter { $0 != 0 && $0 < 0x80 }, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// Builds a CPU model from `data`: features, widths, vendor and the display family, model and
    /// stepping (SDM Vol. 2A, CPUID leaf 01H: the extended family is added when the family is 0FH;
    /// the extended model is prepended when the family is 06H or 0FH).
    /// - Throws: ``InputError`` when the data lacks the widths or the signature.
    public func model(_ data: CPUIDData, name: String, title: String, source: String) throws -> CPUModelDescription {
        var widths: [String: Int] = [:]
        for key in CPUModel.widthKeys {
            guard let f = specs.cpuidField(key) else {
                throw InputError("specs/cpuid defines no field '\(key)', so the \(key) width cannot be read")
            }
            guard inRange(data, leaf: f.leaf), data[f.leaf, f.subleaf ?? 0] != nil, let v = field(data, key), v > 0
            else {
                throw InputError("the CPUID data has no leaf \(hex(f.leaf)), which reports \(key)")
            }
            widths[key] = Int(v)
        }
        guard let familyField = specs.cpuidField("family"), data[familyField.leaf, familyField.subleaf ?? 0] != nil,
            let base = field(data, "family"), let baseModel = field(data, "model"),
            let stepping = field(data, "stepping")
        else { throw InputError("the CPUID data has no signature leaf (family, model and stepping)") }
        let extFamily = field(data, "extended-family") ?? 0
        let extModel = field(data, "extended-model") ?? 0
        let family = base == 0xF ? base + extFamily : base
        let model = (base == 0x6 || base == 0xF) ? extModel << 4 | baseModel : baseModel
        let vendor = string(data, fieldsNamed: "vendor-")
        guard !vendor.isEmpty else { throw InputError("the CPUID data has no vendor string (leaf 0)") }
        return CPUModelDescription(
            name: name, title: title, vendor: vendor, family: Int(family), model: Int(model), stepping: Int(stepping),
            maxPhysicalAddressBits: widths["maxphyaddr"] ?? 0, linearAddressBits: widths["linear-address-bits"] ?? 0,
            features: features(data), vmx: VMXCapabilities(), source: source)
    }
}
