import SpecParser

/// Exports a CPU model as the argument of QEMU's `-cpu` option: the featureless `base` model
/// with the model's vendor, signature and MAXPHYADDR, each feature the model has turned on, and
/// its EPT capabilities as QEMU's `vmx-*` properties.
///
/// ```
/// base,vendor=GenuineIntel,family=6,model=106,stepping=0,phys-bits=52,aes=on,…,la57=on,…
/// ```
/// QEMU derives the linear-address width of CPUID 0x80000008 from its own `la57` property, so
/// the width needs no option of its own.
public enum QEMUCPUOption {
    /// The option string, and the model's features that QEMU has no property for (left out).
    public static func export(_ model: CPUModelDescription) -> (option: String, omitted: [String]) {
        var parts = [
            "base", "vendor=\(model.vendor)", "family=\(model.family)", "model=\(model.model)",
            "stepping=\(model.stepping)", "phys-bits=\(model.maxPhysicalAddressBits)",
        ]
        var omitted: [String] = []
        for f in model.features {
            guard let name = QEMUNames.property(forFeature: f) else {
                omitted.append(f)
                continue
            }
            parts.append("\(name)=on")
        }
        if !model.vmx.eptPageWalkLengths.isEmpty {
            parts += QEMUNames.eptControls.map { "\($0)=on" }
        }
        if !model.vmx.isEmpty {
            for cap in model.vmx.names {
                if let name = QEMUNames.vmxProperties[cap] { parts.append("\(name)=on") } else { omitted.append(cap) }
            }
        }
        return (parts.joined(separator: ","), omitted)
    }
}

/// How QEMU spells the features it can set, where that differs from the Linux `/proc/cpuinfo`
/// name the specs use. QEMU accepts a Linux name with `_` written as `-` for every other feature.
///
/// Source: the `feat_names` tables of `feature_word_info[]` in QEMU `target/i386/cpu.c`
/// (qemu/qemu at 0048035a870312f2fd0f3dd28115398d26e419bb) and its property aliases; libvirt
/// records the same spellings as `<alias source='qemu'/>` in `src/cpu_map/x86_features.xml`.
/// This is export vocabulary, not hardware: the CPUID locations stay in `specs/cpuid/`.
enum QEMUNames {
    /// Linux name → QEMU property, where they differ by more than `_` → `-`.
    static let renamed: [String: String] = [
        "dts": "ds", "sse4_1": "sse4.1", "sse4_2": "sse4.2", "tsc_deadline_timer": "tsc-deadline",
        "avx512_vbmi2": "avx512vbmi2", "avx512_vnni": "avx512vnni", "avx512_bitalg": "avx512bitalg",
        "tsxldtrk": "tsx-ldtrk", "sgx_lc": "sgxlc",
    ]
    /// Features left out: OSPKE mirrors the guest's CR4.PKE and QEMU has no property for it; QEMU
    /// names `shstk` and `ibt` only since its CET support (2025 patches), and an unknown property
    /// stops QEMU from starting, so they are left out rather than risked.
    static let unsupported: Set<String> = ["ospke", "shstk", "ibt"]
    /// CPU-model VMX capability (``SpecParser/VMXCapabilities/names``) → QEMU property
    /// (`feature_word_info[FEAT_VMX_EPT_VPID_CAPS]`; `vmx-ept-uc`/`vmx-ept-wb` since QEMU 8.2).
    static let vmxProperties: [String: String] = [
        "ept-page-walk-4": "vmx-page-walk-4", "ept-page-walk-5": "vmx-page-walk-5",
        "ept-execute-only": "vmx-ept-execonly", "ept-2m-pages": "vmx-ept-2mb", "ept-1g-pages": "vmx-ept-1gb",
        "ept-accessed-dirty": "vmx-eptad", "ept-advanced-exit-info": "vmx-ept-advanced-exitinfo",
        "ept-memory-type-UC": "vmx-ept-uc", "ept-memory-type-WB": "vmx-ept-wb",
    ]

    /// The VM-execution controls that turn EPT on for a nested hypervisor: QEMU drops the EPT
    /// capabilities without them (`feature_word_info[FEAT_VMX_PROCBASED_CTLS]` bit 31,
    /// `[FEAT_VMX_SECONDARY_CTLS]` bit 1).
    static let eptControls = ["vmx-activate-secondary-controls", "vmx-ept"]

    static func property(forFeature f: String) -> String? {
        if unsupported.contains(f) { return nil }
        return renamed[f] ?? f.replacingOccurrences(of: "_", with: "-")
    }
}
