/// The spec language's schema, kind by kind, as data next to the decoders.
///
/// `specc schema` prints it as JSON Schema (``jsonText``); `docs/spec.schema.json` is that output,
/// checked in, so that editors running yaml-language-server complete keys and flag typos in any
/// spec that starts with `# yaml-language-server: $schema=../../docs/spec.schema.json`. Keep it in
/// step with `SpecDecoder`: the tests validate every spec in `specs/` against it.
public enum SpecSchema {
    /// The three shapes of a spec file: a paging format, a CPU model, or a collection of
    /// `cpuid`, `registers`, `entry-layouts`, `vmx` and `migration` definitions.
    public static let kinds: [(key: String, node: SchemaNode)] = [
        ("paging-format", pagingFormat),
        ("cpu-model", cpuModel),
        ("", collection),
    ]

    // MARK: Shared value shapes

    static let title = SchemaNode.string("Human description, shown by tools.")
    static let source = SchemaNode.string("Where the data comes from (SDM section, Linux or KVM source).")

    static func reservedList(_ description: String) -> SchemaNode {
        SchemaNode(description, .oneOrMany(reservedItem))
    }

    static let reservedItem = SchemaNode(
        "Reserved bits: a bit range (\"62:52\"), a single bit, an entry field name, 'above-maxphyaddr', or a mapping with a condition.",
        .anyOf([
            .bits("Entry bits that must be zero."),
            .string(
                "An entry field name, a bit range, or 'above-maxphyaddr' (the address bits at or above MAXPHYADDR)."),
            .object(
                "Reserved bits that apply only when 'when' holds.",
                [
                    .init("field", .string("The entry field whose bits are reserved.")),
                    .init("bits", .bits("The entry bits that are reserved.")),
                    .init("above-maxphyaddr", .boolean("The address bits at or above MAXPHYADDR are reserved.")),
                    .init(
                        "when", .rule("When the bits are reserved (register fields and cpuid.NAME); always if absent.")),
                ],
                requireOneOf: [["field"], ["bits"], ["above-maxphyaddr"]]),
        ]))

    static let ruleList = SchemaNode(
        "One rule or a list of rules.",
        .oneOrMany(.rule("A condition over entry fields, register fields and CPUID features.")))

    // MARK: Paging formats

    static let level = SchemaNode.object(
        "One level of the paging-structure hierarchy.",
        [
            .init(
                "name", .string("The entry name at this level, as the SDM writes it (PML4E, PDPTE, PDE, PTE)."),
                required: true),
            .init("index", .bits("The input-address bits that index this level's table (\"47:39\")."), required: true),
            .init("entry", .string("The entry layout of this level when it differs from the format's 'entry'.")),
            .init(
                "leaf-when",
                .rule(
                    "When a present entry maps a page (entry fields, register fields, cpuid.NAME). The last level is always a leaf; other levels without it never are."
                )),
            .init("reserved", reservedList("Reserved bits of every present entry at this level.")),
            .init(
                "leaf-reserved",
                reservedList("Additional reserved bits of an entry that maps a page (large-page alignment).")),
            .init("table-reserved", reservedList("Additional reserved bits of an entry that references a table.")),
            .init(
                "leaf-address",
                SchemaNode(
                    "Where a leaf's page-frame address comes from, piece by piece (PSE-36); default: the address field above the page offset.",
                    .oneOrMany(
                        .object(
                            "Entry bits 'from' give physical-address bits 'to' (same width).",
                            [
                                .init("from", .bits("Entry bits."), required: true),
                                .init("to", .bits("Physical-address bits."), required: true),
                                .init(
                                    "requires",
                                    .string("CPUID feature without which the piece's entry bits are reserved instead.")),
                            ])))),
            .init(
                "loaded-with-root",
                .boolean(
                    "Entries at this level are loaded with the root (PAE PDPTEs at MOV CR3): reserved bits make the root invalid instead of faulting."
                )),
        ])

    static let pagingFormat = SchemaNode.object(
        "A paging format: one of the SDM's paging modes or an EPT format, as layout data plus rules. Keys not given are taken from the format named by 'extends'.",
        [
            .init("paging-format", .string("The format's name (ia32e-4level)."), required: true),
            .init("title", title),
            .init("source", source),
            .init(
                "family",
                .string(
                    "guest: faults are page faults; ept: faults are EPT violations and misconfigurations. Default guest.",
                    choices: ["guest", "ept"])),
            .init("extends", .string("A format whose keys this one reuses; its own keys replace the parent's.")),
            .init("enabled-when", .rule("When this format is the active one (register fields and cpuid.NAME).")),
            .init("address-bits", .integer("Width of the input (linear or guest-physical) address.", 1...64)),
            .init("canonical", .boolean("Inputs must be canonical: the bits above address-bits - 1 equal that bit.")),
            .init(
                "physical-address-limit",
                .integer(
                    "Upper bound on the physical-address width besides MAXPHYADDR (40 for 32-bit paging).", 12...64)),
            .init("entry", .string("The entry layout of every level (a name under 'entry-layouts').")),
            .init("root", .string("The register field holding the root table's address (CR3.address).")),
            .init(
                "levels",
                SchemaNode(
                    "The levels, top level first; their indexes tile the input address down to bit 12.",
                    .array(items: level))),
            .init(
                "levels-above",
                SchemaNode(
                    "Levels added above the extended format's levels (a 5-level format from a 4-level one).",
                    .array(items: level))),
            .init("present", .rule("When a fetched entry is present (entry fields, register fields, cpuid.NAME).")),
            .init("reserved", reservedList("Reserved bits of every present entry at every level.")),
            .init(
                "misconfigured",
                SchemaNode(
                    "Entry encodings that are invalid whatever the access (EPT misconfigurations).", ruleList.shape)),
            .init(
                "leaf-misconfigured",
                SchemaNode("Entry encodings that are invalid in a leaf (EPT memory types).", ruleList.shape)),
            .init(
                "rights",
                .map(
                    "Effective rights folded along the walk, by name (writable, user, executable).",
                    SchemaNode.object(
                        "How a right folds: 'all: FIELD' holds when the field is 1 in every entry, 'none: FIELD' when it is 0 in every entry.",
                        [
                            .init("all", .string("The entry field that must be 1 in every entry used.")),
                            .init("none", .string("The entry field that must be 0 in every entry used.")),
                        ],
                        requireOneOf: [["all"], ["none"]]))),
            .init(
                "faults",
                SchemaNode(
                    "The access-rights faults: an access faults when any rule holds.",
                    .array(
                        items: .object(
                            "One fault condition.",
                            [
                                .init(
                                    "when",
                                    .rule(
                                        "When the access faults (access.NAME, rights, register fields, cpuid.NAME, key.AD, key.WD)."
                                    ), required: true),
                                .init(
                                    "sets",
                                    .names("Flags of the report register this fault sets besides the common ones (PK).")
                                ),
                                .init("why", .string("The reason, in the SDM's words.")),
                            ])))),
            .init(
                "report",
                .object(
                    "How a fault is reported: the error-code or exit-qualification layout and a rule per flag.",
                    [
                        .init(
                            "register", .string("The register layout whose fields are the flags (PF_ERROR_CODE)."),
                            required: true),
                        .init(
                            "flags",
                            .map(
                                "One rule per field of the register (access.NAME, fault.NAME, rights, register fields, cpuid.NAME).",
                                .rule("When the flag is set.")), required: true),
                    ])),
            .init(
                "accessed-dirty-when",
                .rule("When the accessed and dirty flags are maintained (EPTP.AD); always if absent.")),
            .init(
                "protection-keys",
                .object(
                    "Protection keys: the entry field with the key and the registers with each key's rights.",
                    [
                        .init("field", .string("The entry field holding the key (PKEY)."), required: true),
                        .init(
                            "user-pages", .string("The register consulted for user-mode pages (PKRU)."), required: true),
                        .init(
                            "supervisor-pages",
                            .string("The register consulted for supervisor-mode pages (IA32_PKRS)."), required: true),
                        .init(
                            "page-is-user",
                            .string("The right that tells a user-mode page from a supervisor-mode page (user)."),
                            required: true),
                    ])),
            .init(
                "root-checks",
                SchemaNode(
                    "Conditions that make the root register's value invalid.",
                    .oneOrMany(
                        .object(
                            "One root check.",
                            [
                                .init(
                                    "invalid-when",
                                    .rule("When the root value is invalid (register fields and cpuid.NAME)."),
                                    required: true),
                                .init("why", .string("The reason, for messages."), required: true),
                            ])))),
            .init("root-reserved", reservedList("Bits of the root register that must be zero.")),
            .init(
                "tlb",
                .object(
                    "How the TLB caches this format's translations (SDM Vol. 3A §4.10).",
                    [
                        .init("global-when", .rule("Leaf-entry rule: the translation is global (G && CR4.PGE).")),
                        .init("tag", .string("Register field tagging cached translations (CR3.PCID).")),
                        .init("tag-when", .rule("When the tag is in use (CR4.PCIDE); otherwise the tag is 0.")),
                        .init(
                            "keep-when",
                            .rule("Over the new root value: a root write keeps the tag's entries (CR3.no-flush).")),
                        .init(
                            "flush-all-on-change",
                            .names("Register fields whose change invalidates every translation, global ones included.")),
                    ])),
        ])

    // MARK: CPU models

    static let cpuModel = SchemaNode.object(
        "A CPU model of a real processor, from published CPUID data.",
        [
            .init("cpu-model", .string("The model's name (Icelake-Server)."), required: true),
            .init("title", title),
            .init("source", source, required: true),
            .init("vendor", .string("The CPUID vendor string (GenuineIntel)."), required: true),
            .init("family", .integer("Display family.", 0...0x10F), required: true),
            .init("model", .integer("Display model.", 0...0xFF), required: true),
            .init("stepping", .integer("Stepping.", 0...0xF), required: true),
            .init("maxphyaddr", .integer("MAXPHYADDR, the physical-address width.", 32...52), required: true),
            .init("linear-address-bits", .integer("The linear-address width.", 32...64), required: true),
            .init(
                "features", .names("The CPUID features, as /proc/cpuinfo names (names under cpuid.features)."),
                required: true),
            .init(
                "vmx",
                .object(
                    "The VMX and EPT capabilities.",
                    [
                        .init(
                            "ept-page-walk-lengths",
                            SchemaNode(
                                "Supported EPT page-walk lengths.", .oneOrMany(.integer("A page-walk length.", 4...5)))),
                        .init("ept-execute-only", .boolean("EPT entries may be execute-only.")),
                        .init("ept-2m-pages", .boolean("EPT PDEs may map 2 MiB pages.")),
                        .init("ept-1g-pages", .boolean("EPT PDPTEs may map 1 GiB pages.")),
                        .init("ept-accessed-dirty", .boolean("EPT accessed and dirty flags.")),
                        .init("ept-advanced-exit-info", .boolean("Advanced VM-exit information for EPT violations.")),
                        .init("mode-based-execute", .boolean("Mode-based execute control for EPT.")),
                        .init(
                            "ept-memory-types",
                            .names("EPT paging-structure memory types allowed in EPTP.", choices: ["UC", "WB"])),
                    ])),
        ])

    // MARK: Collections

    static let registerField = SchemaNode.object(
        "A named bit field; give 'bit' or 'bits'.",
        [
            .init("bit", .bits("The field's bit.")),
            .init("bits", .bits("The field's bits, high:low.")),
            .init("requires", .string("The CPUID feature without which the field cannot be set.")),
            .init("title", title),
            .init("values", .map("Named encodings of a multi-bit field.", .integer("The encoding."))),
            .init("overlaps", .names("Other fields this one deliberately overlaps.")),
        ],
        requireOneOf: [["bit"], ["bits"]])

    static let register = SchemaNode.object(
        "A register, MSR or VMX field layout.",
        [
            .init("title", title),
            .init("width", .integer("Width in bits.", 1...64), required: true),
            .init("msr", .integer("MSR index, for model-specific registers.", 0...0xFFFF_FFFF)),
            .init("reserved", SchemaNode("Bits that must be zero.", .oneOrMany(.bits("Reserved bits.")))),
            .init("fields", .map("The register's fields, by name.", registerField)),
        ])

    static let entryLayout = SchemaNode.object(
        "The bit layout of paging-structure entries.",
        [
            .init("size", SchemaNode("Entry size in bytes: 4 or 8.", .integerChoice([4, 8])), required: true),
            .init(
                "fields",
                .map(
                    "The entry's fields, by name (P, RW, US, ... as the SDM's tables write them).",
                    .object(
                        "An entry field; give 'bit' or 'bits'.",
                        [
                            .init("bit", .bits("The field's bit.")),
                            .init("bits", .bits("The field's bits, high:low.")),
                            .init(
                                "role",
                                .string(
                                    "What the walker does with the field.",
                                    choices: EntryFieldRole.allCases.map(\.rawValue))),
                            .init("title", title),
                        ],
                        requireOneOf: [["bit"], ["bits"]])), required: true),
        ])

    static let cpuid = SchemaNode.object(
        "CPUID feature flags and multi-bit fields.",
        [
            .init(
                "features",
                .map(
                    "Feature flags, by /proc/cpuinfo name.",
                    .object(
                        "One feature flag.",
                        [
                            .init("leaf", .integer("CPUID leaf (EAX input).", 0...0xFFFF_FFFF), required: true),
                            .init("subleaf", .integer("CPUID subleaf (ECX input).", 0...0xFFFF_FFFF)),
                            .init(
                                "register", .string("Output register.", choices: SpecDecoder.cpuidRegisters),
                                required: true),
                            .init("bit", .bits("The flag's bit.", width: 32), required: true),
                            .init("title", title),
                        ]))),
            .init(
                "fields",
                .map(
                    "Multi-bit CPUID fields (maxphyaddr), by name.",
                    .object(
                        "One multi-bit field.",
                        [
                            .init("leaf", .integer("CPUID leaf (EAX input).", 0...0xFFFF_FFFF), required: true),
                            .init("subleaf", .integer("CPUID subleaf (ECX input).", 0...0xFFFF_FFFF)),
                            .init(
                                "register", .string("Output register.", choices: SpecDecoder.cpuidRegisters),
                                required: true),
                            .init("bits", .bits("The field's bits, high:low.", width: 32), required: true),
                            .init("title", title),
                        ]))),
        ])

    static let vmx = SchemaNode.object(
        "VMX basic exit reasons.",
        [
            .init("exit-reason-layout", .string("The register layout of the exit-reason field."), required: true),
            .init(
                "exit-reasons",
                SchemaNode(
                    "The basic exit reasons.",
                    .array(
                        items: .object(
                            "One basic exit reason.",
                            [
                                .init("number", .integer("The basic exit reason number.", 0...0xFFFF), required: true),
                                .init("name", .string("Intel's name."), required: true),
                                .init("linux", .string("The Linux EXIT_REASON_* suffix, where Linux defines one.")),
                                .init("qualification", .string("The register layout of the exit qualification.")),
                            ])))),
        ])

    static let migration = SchemaNode.object(
        "Canonicality rules and live-migration hazards.",
        [
            .init(
                "canonical-registers",
                .map(
                    "Registers holding linear addresses, by state key.",
                    .object(
                        "How one register's canonicality is checked.",
                        [
                            .init("register", .string("The architectural register."), required: true),
                            .init(
                                "width",
                                .string(
                                    "static: against the CPU's widest linear width; paging: against the current paging mode's.",
                                    choices: ["static", "paging"]), required: true),
                            .init(
                                "non-canonical",
                                .string(
                                    "What the destination does with a non-canonical value.",
                                    choices: ["refused", "truncated"]),
                                required: true),
                        ]))),
            .init(
                "state-registers",
                .map("Other state keys a snapshot may carry, each with its register.", .string("The register."))),
            .init(
                "widths-must-not-shrink",
                .map(
                    "CPU-model widths that must not be smaller at the destination, by hazard id.",
                    .string("A CPU-model width.", choices: CPUModel.widthKeys))),
            .init("gated-registers", .names("Registers whose fields' 'requires' gate what a destination can hold.")),
            .init(
                "wide-linear-feature", .string("The CPUID feature that makes the static width wide (la57)."),
                required: true),
            .init(
                "narrow-linear-bits", .integer("The static linear width without that feature.", 32...64), required: true
            ),
            .init("wide-linear-bits", .integer("The static linear width with that feature.", 32...64), required: true),
        ])

    static let collection = SchemaNode.object(
        "A collection of definitions: CPUID features, registers, entry layouts, VMX exit reasons, migration rules.",
        [
            .init("source", source),
            .init("title", title),
            .init("cpuid", cpuid),
            .init("registers", .map("Registers, MSRs and VMX layouts, by name.", register)),
            .init("entry-layouts", .map("Paging-structure entry layouts, by name.", entryLayout)),
            .init("vmx", vmx),
            .init("migration", migration),
        ],
        requireAnyOf: SpecDecoder.kindKeys.map { [$0] })

    /// The schema of one kind of spec file, chosen by its first distinctive key.
    public static func kind(of keys: [String]) -> SchemaNode {
        if keys.contains("paging-format") { return pagingFormat }
        if keys.contains("cpu-model") { return cpuModel }
        return collection
    }
}
