import CodeGen
import GeneratedMMU

/// Builds GeneratedMMU's descriptor from the generator's lowered form, field for field what the
/// printer emits as Swift, so that formats declared in test fixtures can be walked in-process.
enum LoweringAdapter {
    static func table(_ t: LoweredRuleTable) -> RuleTable {
        RuleTable(
            inputs: t.inputs.map { i in
                let source: RuleInput.Source
                switch i.source {
                case "control": source = .control
                case "feature": source = .feature
                case "entry": source = .entry
                case "access": source = .access
                case "right": source = .right
                case "key": source = .key
                default: source = .fault
                }
                return RuleInput(source, UInt16(i.index), shift: UInt8(i.shift), width: UInt8(i.width))
            }, truth: t.truth)
    }

    static func reserved(_ r: [LoweredReserved]) -> [ReservedDescriptor] {
        r.map {
            ReservedDescriptor(
                mask: $0.mask, aboveMaxPhysicalAddress: $0.aboveMaxPhysicalAddress, when: $0.when.map(table))
        }
    }

    static func descriptor(_ f: LoweredFormat) -> PagingFormatDescriptor {
        PagingFormatDescriptor(
            name: f.name, family: f.family == .ept ? .ept : .guest, addressBits: UInt8(f.addressBits),
            canonical: f.canonical, physicalAddressLimit: UInt8(f.physicalAddressLimit), rootRegister: f.rootRegister,
            rootMask: f.rootMask, enabledWhen: table(f.enabledWhen),
            levels: f.levels.map { l in
                LevelDescriptor(
                    name: l.name, indexShift: UInt8(l.indexShift), indexBits: UInt8(l.indexBits),
                    entryBytes: UInt8(l.entryBytes), addressMask: l.addressMask, accessedMask: l.accessedMask,
                    dirtyMask: l.dirtyMask, keyMask: l.keyMask, present: table(l.present),
                    leafWhen: l.leafWhen.map(table),
                    isLast: l.isLast, loadedWithRoot: l.loadedWithRoot, reserved: reserved(l.reserved),
                    leafReserved: reserved(l.leafReserved), tableReserved: reserved(l.tableReserved),
                    leafPieces: l.pieces.map {
                        AddressPieceDescriptor(
                            fromShift: UInt8($0.fromShift), width: UInt8($0.width), toShift: UInt8($0.toShift),
                            requires: Int16($0.requires))
                    },
                    misconfigured: l.misconfigured.map(table), leafMisconfigured: l.leafMisconfigured.map(table),
                    rights: l.rights.map { RightDescriptor(mask: $0.mask, denies: $0.denies) },
                    fields: l.fields.map { ($0.name, UInt8($0.shift), UInt8($0.width)) })
            },
            rightNames: f.rightNames,
            faults: f.faults.map { FaultDescriptor(rule: table($0.rule), sets: $0.sets.map(UInt16.init), why: $0.why) },
            factNames: f.factNames, reportRegister: f.reportRegister,
            reportFlags: f.reportFlags.map { ($0.mask, table($0.rule)) }, accessedDirtyWhen: table(f.accessedDirtyWhen),
            protectionKeys: f.protectionKeys.map {
                ProtectionKeyDescriptor(
                    userRegister: $0.user, supervisorRegister: $0.supervisor, pageIsUserRight: $0.pageIsUser,
                    accessDisableShift: $0.ad.map(UInt8.init), writeDisableShift: $0.wd.map(UInt8.init))
            },
            tlb: f.tlb.map {
                TLBDescriptor(
                    globalWhen: $0.global.map(table), tagRegister: $0.tagRegister, tagMask: $0.tagMask,
                    tagWhen: $0.tagWhen.map(table), keepWhen: $0.keepWhen.map(table),
                    flushAllOnChange: $0.flushAll.map { ($0.register, $0.mask) })
            },
            rootChecks: f.rootChecks.map { (table($0.rule), $0.why) }, rootReserved: reserved(f.rootReserved),
            sourceFiles: f.sourceFiles)
    }
}
