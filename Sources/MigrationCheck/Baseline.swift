import SpecParser

/// The largest CPU model that every one of several models can run: the intersection of their
/// features, the smallest of each width and the common VMX capabilities (libvirt's
/// `virCPUx86Baseline`, reference §(a.1)), plus the named model nearest to it.
public struct Baseline: Sendable {
    /// The baseline model.
    public var model: CPUModelDescription
    /// The inputs, in the order given.
    public var inputs: [CPUModelDescription]
    /// The named model with the fewest feature differences from the baseline (libvirt's decode
    /// step), if any model of the same vendor exists.
    public var nearest: CPUModelDescription?
    /// Features the baseline has and the nearest model lacks.
    public var extraFeatures: [String]
    /// Features the nearest model has and the baseline lacks.
    public var missingFeatures: [String]

    /// Computes the baseline of `inputs`, called `name`; the nearest model is searched among
    /// `candidates` (the models of the specs), skipping any called `name`.
    /// - Throws: ``InputError`` when there are no inputs or their vendors differ.
    public init(of inputs: [CPUModelDescription], name: String, candidates: [CPUModelDescription]) throws {
        guard let first = inputs.first else { throw InputError("a baseline needs at least one CPU model") }
        for m in inputs where m.vendor != first.vendor {
            throw InputError("no baseline: \(first.name) is \(first.vendor) but \(m.name) is \(m.vendor)")
        }
        var features = Set(first.features)
        var vmx = first.vmx
        for m in inputs.dropFirst() {
            features.formIntersection(m.features)
            vmx = vmx.intersection(m.vmx)
        }
        let widths = CPUModel.widthKeys.map { key in inputs.compactMap { $0.width(key) }.min() ?? 0 }
        let sorted = features.sorted()
        var nearest: CPUModelDescription?
        var best = Int.max
        for c in candidates.sorted(by: { $0.name < $1.name })
        where c.vendor == first.vendor && c.name.lowercased() != name.lowercased() {
            let d = Set(c.features).symmetricDifference(features).count
            if d < best {
                best = d
                nearest = c
            }
        }
        let signature = nearest ?? first
        let names = inputs.map(\.name)
        model = CPUModelDescription(
            name: name, title: "Baseline of \(names.joined(separator: ", "))", vendor: first.vendor,
            family: signature.family, model: signature.model, stepping: signature.stepping,
            maxPhysicalAddressBits: widths[0], linearAddressBits: widths[1], features: sorted, vmx: vmx,
            source: "specc cpu baseline \(names.joined(separator: " "))")
        self.inputs = inputs
        self.nearest = nearest
        extraFeatures = nearest.map { n in sorted.filter { !n.has($0) } } ?? []
        missingFeatures = nearest.map { n in n.features.filter { !features.contains($0) } } ?? []
    }

    /// The baseline as a `cpu-model:` spec, with comments that name the inputs, the rule and the
    /// nearest named model.
    public var yaml: String {
        var comments = [
            "Baseline of \(inputs.map(\.name).joined(separator: ", ")), made by `specc cpu baseline`:",
            "the features every one of them has, the smallest MAXPHYADDR and linear-address width,",
            "and the VMX capabilities they share. Family, model and stepping are the nearest model's.",
        ]
        for m in inputs { comments.append("  input \(m.name): \(m.source)") }
        if let n = nearest {
            var line =
                "Nearest named model: \(n.name) (\(extraFeatures.count + missingFeatures.count) feature differences"
            if !extraFeatures.isEmpty { line += "; baseline adds \(extraFeatures.joined(separator: " "))" }
            if !missingFeatures.isEmpty { line += "; baseline lacks \(missingFeatures.joined(separator: " "))" }
            comments.append(line + ")")
        } else {
            comments.append("Nearest named model: none of vendor \(model.vendor)")
        }
        return CPUModelYAML.render(model, comments: comments)
    }
}
