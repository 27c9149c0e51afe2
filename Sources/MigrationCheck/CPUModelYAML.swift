import SpecParser

/// Writes a CPU model as a `cpu-model:` spec file that `specc check` accepts, in the key order
/// and layout of the files in `specs/cpus/`: one feature a line, so that every value has its own
/// line for `specc cpu show` to point at.
public enum CPUModelYAML {
    /// The YAML text: `comments` (each line prefixed with `# `), then the model, then an optional
    /// comment above the `vmx:` key.
    public static func render(_ m: CPUModelDescription, comments: [String] = [], vmxComments: [String] = []) -> String {
        var out = "# yaml-language-server: $schema=../../docs/spec.schema.json\n"
        for c in comments { out += c.isEmpty ? "#\n" : "# \(c)\n" }
        out += "cpu-model: \(scalar(m.name))\n"
        out += "title: \(quoted(m.title))\n"
        out += "source: \(quoted(m.source))\n"
        out += "vendor: \(scalar(m.vendor))\n"
        out += "family: \(m.family)\n"
        out += "model: \(m.model)\n"
        out += "stepping: \(m.stepping)\n"
        out += "maxphyaddr: \(m.maxPhysicalAddressBits)\n"
        out += "linear-address-bits: \(m.linearAddressBits)\n"
        if m.features.isEmpty {
            out += "features: []\n"
        } else {
            out += "features:\n"
            for f in m.features { out += "  - \(scalar(f))\n" }
        }
        for c in vmxComments { out += c.isEmpty ? "#\n" : "# \(c)\n" }
        out += vmx(m.vmx)
        return out
    }

    /// The `vmx:` mapping; every key is written, so the file says `false` rather than nothing.
    static func vmx(_ v: VMXCapabilities) -> String {
        var out = "vmx:\n"
        out += "  ept-page-walk-lengths: [\(v.eptPageWalkLengths.sorted().map(String.init).joined(separator: ", "))]\n"
        out += "  ept-execute-only: \(v.executeOnly)\n"
        out += "  ept-2m-pages: \(v.pages2M)\n"
        out += "  ept-1g-pages: \(v.pages1G)\n"
        out += "  ept-accessed-dirty: \(v.accessedDirty)\n"
        out += "  ept-advanced-exit-info: \(v.advancedExitInfo)\n"
        out += "  mode-based-execute: \(v.modeBasedExecute)\n"
        out += "  ept-memory-types: [\(v.memoryTypes.sorted().joined(separator: ", "))]\n"
        return out
    }

    /// A plain scalar when it cannot be mistaken for anything else, else a quoted one.
    static func scalar(_ s: String) -> String {
        let plain =
            !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                    || $0 == "-"
                    || $0 == "."
            } && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
            && SpecScalar.parseInteger(s) == nil && s.first != "-"
        return plain ? s : quoted(s)
    }

    /// A double-quoted scalar with `\` and `"` escaped and control characters dropped.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: if c.value >= 0x20 && c.value != 0x7F { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
