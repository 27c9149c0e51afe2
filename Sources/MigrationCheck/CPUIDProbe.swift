import CCPUID
import Foundation
import SpecParser

/// Runs CPUID on the processor this code runs on, for exactly the leaves and subleaves the specs
/// name (every feature's and every field's), and decodes the result into a CPU model.
///
/// VMX capabilities are MSRs (IA32_VMX_EPT_VPID_CAP and the secondary controls), which user space
/// cannot read, so a probed model has none; the YAML says so next to its `vmx:` key.
public enum CPUIDProbe {
    /// The CPUID outputs for every input the specs name.
    public static func read(specs: SpecSet) -> CPUIDData {
        var inputs = Set<CPUIDData.Input>()
        for f in specs.features { inputs.insert(.init(leaf: f.leaf, subleaf: f.subleaf ?? 0)) }
        for f in specs.cpuidFields { inputs.insert(.init(leaf: f.leaf, subleaf: f.subleaf ?? 0)) }
        var data = CPUIDData()
        for input in inputs.sorted() {
            var out: [UInt32] = [0, 0, 0, 0]
            out.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { specc_cpuid(input.leaf, input.subleaf, base) }
            }
            data.outputs[input] = .init(eax: out[0], ebx: out[1], ecx: out[2], edx: out[3])
        }
        return data
    }

    /// This machine as a CPU model called `name`.
    /// - Throws: ``InputError`` when CPUID gives no usable answer (for example on a CPU that is not x86).
    public static func model(specs: SpecSet, name: String) throws -> CPUModelDescription {
        let data = read(specs: specs)
        let decoder = CPUIDDecoder(specs: specs)
        let brand = decoder.string(data, fieldsNamed: "brand-")
        let host = ProcessInfo.processInfo.hostName
        do {
            return try decoder.model(
                data, name: name, title: brand.isEmpty ? "The processor of \(host)" : brand,
                source: "specc cpu probe on \(host): CPUID of the logical processor it ran on")
        } catch let e as InputError {
            throw InputError("cannot probe this machine's CPU: \(e.message)")
        }
    }
}
