import SpecParser

/// A CPU model as plain values, without spec locations: what a baseline, an import or a probe
/// produces, what the comparisons work on, and what ``CPUModelYAML`` writes as a `cpu-model:` spec.
///
/// Models the same concept as ``SpecParser/CPUModel`` (vendor, signature, CPUID feature flags,
/// MAXPHYADDR and linear-address width from CPUID leaf 0x80000008, VMX/EPT capabilities).
public struct CPUModelDescription: Sendable, Equatable {
    /// Model name (`Icelake-Server`).
    public var name: String
    /// Human title (the processor).
    public var title: String
    /// CPUID vendor string (`GenuineIntel`).
    public var vendor: String
    /// Display family.
    public var family: Int
    /// Display model.
    public var model: Int
    /// Stepping.
    public var stepping: Int
    /// MAXPHYADDR.
    public var maxPhysicalAddressBits: Int
    /// Linear-address width.
    public var linearAddressBits: Int
    /// Feature flags by `/proc/cpuinfo` name, sorted and unique.
    public var features: [String]
    /// VMX/EPT capabilities.
    public var vmx: VMXCapabilities
    /// Where the data came from.
    public var source: String

    /// Creates a description; `features` are sorted and made unique.
    public init(
        name: String, title: String, vendor: String, family: Int, model: Int, stepping: Int,
        maxPhysicalAddressBits: Int, linearAddressBits: Int, features: [String], vmx: VMXCapabilities,
        source: String
    ) {
        self.name = name
        self.title = title
        self.vendor = vendor
        self.family = family
        self.model = model
        self.stepping = stepping
        self.maxPhysicalAddressBits = maxPhysicalAddressBits
        self.linearAddressBits = linearAddressBits
        self.features = Array(Set(features)).sorted()
        self.vmx = vmx
        self.source = source
    }

    /// The values of a spec model.
    public init(_ m: CPUModel) {
        self.init(
            name: m.name, title: m.title, vendor: m.vendor, family: m.family, model: m.model, stepping: m.stepping,
            maxPhysicalAddressBits: m.maxPhysicalAddressBits.value, linearAddressBits: m.linearAddressBits.value,
            features: m.features.map(\.value), vmx: m.vmx, source: m.source)
    }

    /// Whether the model has `feature`.
    public func has(_ feature: String) -> Bool { features.contains(feature) }

    /// The width called `key` (one of ``SpecParser/CPUModel/widthKeys``).
    public func width(_ key: String) -> Int? {
        switch key {
        case "maxphyaddr": return maxPhysicalAddressBits
        case "linear-address-bits": return linearAddressBits
        default: return nil
        }
    }
}
