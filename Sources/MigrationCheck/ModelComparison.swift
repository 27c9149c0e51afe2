import SpecParser

/// Whether a guest of one CPU model can run on a host of another: what the guest has that the
/// host lacks (libvirt's `cpu-compare`, reference §(a.1)).
///
/// A guest fits when the vendors match, every guest feature is a host feature, no guest width
/// (MAXPHYADDR, linear-address width) exceeds the host's, and every VMX capability of the guest is
/// a host capability.
public struct ModelComparison: Sendable, Equatable {
    /// A width the guest has more of than the host.
    public struct WidthShortfall: Sendable, Equatable {
        /// The CPU-model key (`maxphyaddr`).
        public var key: String
        /// The guest's width.
        public var guest: Int
        /// The host's width.
        public var host: Int
    }

    /// The guest model.
    public var guest: CPUModelDescription
    /// The host model.
    public var host: CPUModelDescription
    /// Guest features the host lacks, sorted.
    public var missingFeatures: [String]
    /// Widths that shrink from guest to host, in ``SpecParser/CPUModel/widthKeys`` order.
    public var widthShortfalls: [WidthShortfall]
    /// Guest VMX capabilities the host lacks (``SpecParser/VMXCapabilities/names``).
    public var missingVMX: [String]
    /// True when the vendors differ.
    public var vendorMismatch: Bool

    /// Compares `guest` with `host`.
    public init(guest: CPUModelDescription, host: CPUModelDescription) {
        self.guest = guest
        self.host = host
        let hostFeatures = Set(host.features)
        missingFeatures = guest.features.filter { !hostFeatures.contains($0) }
        widthShortfalls = CPUModel.widthKeys.compactMap { key in
            guard let g = guest.width(key), let h = host.width(key), g > h else { return nil }
            return WidthShortfall(key: key, guest: g, host: h)
        }
        missingVMX = guest.vmx.missing(from: host.vmx)
        vendorMismatch = guest.vendor != host.vendor
    }

    /// True when a guest of this model can run on the host.
    public var fits: Bool {
        missingFeatures.isEmpty && widthShortfalls.isEmpty && missingVMX.isEmpty && !vendorMismatch
    }

    /// The human report: a verdict line, then one line per difference.
    public var text: String {
        var lines = ["\(guest.name) \(fits ? "fits" : "does not fit") on \(host.name)"]
        if vendorMismatch { lines.append("  vendor: \(guest.name) is \(guest.vendor), \(host.name) is \(host.vendor)") }
        if !missingFeatures.isEmpty {
            lines.append(
                "  features \(guest.name) has and \(host.name) lacks (\(missingFeatures.count)): "
                    + missingFeatures.joined(separator: " "))
        }
        for w in widthShortfalls { lines.append("  \(w.key): \(guest.name) \(w.guest) > \(host.name) \(w.host)") }
        if !missingVMX.isEmpty {
            lines.append(
                "  VMX capabilities \(guest.name) has and \(host.name) lacks: " + missingVMX.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one JSON object.
    public var json: JSONValue {
        .object([
            ("guest", .string(guest.name)), ("host", .string(host.name)), ("fits", .bool(fits)),
            ("vendor-mismatch", .bool(vendorMismatch)),
            ("missing-features", .array(missingFeatures.map(JSONValue.string))),
            (
                "widths",
                .array(
                    widthShortfalls.map {
                        .object([("width", .string($0.key)), ("guest", .int($0.guest)), ("host", .int($0.host))])
                    })
            ),
            ("missing-vmx", .array(missingVMX.map(JSONValue.string))),
        ])
    }
}
